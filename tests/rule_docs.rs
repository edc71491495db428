//! The rules' documentation has one source, `docs/rules/<id>.md`: `connfix
//! rule` prints it, the README's rule reference is its concatenation, and
//! each rule's module documentation includes it.

use assert_cmd::Command;

const BEGIN: &str =
    "<!-- rules:begin (generated: `connfix rule --all`; edit docs/rules/<id>.md instead) -->\n\n";
const END: &str = "\n<!-- rules:end -->";

fn connfix(args: &[&str]) -> String {
    let out = Command::cargo_bin("connfix")
        .unwrap()
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "connfix {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn page(id: &str) -> String {
    std::fs::read_to_string(format!("docs/rules/{id}.md")).unwrap()
}

#[test]
fn connfix_rule_prints_the_readme_documentation_of_every_rule() {
    let readme = std::fs::read_to_string("README.md").unwrap();
    let start = readme
        .find(BEGIN)
        .expect("the README marks its rule reference")
        + BEGIN.len();
    let end = start + readme[start..].find(END).expect("the rule reference ends");
    let section = &readme[start..end];
    let all = connfix(&["rule", "--all"]);
    assert_eq!(
        section, all,
        "the README's rule reference must be `connfix rule --all` (paste its output between the markers)"
    );
    for code in connfix::rules::Code::ALL {
        let printed = connfix(&["rule", code.id()]);
        assert_eq!(
            printed,
            page(code.id()),
            "`connfix rule {}` prints docs/rules/{}.md",
            code.id(),
            code.id()
        );
        // Each page is in the README whole, heading to heading.
        assert!(
            section.contains(&printed),
            "the README lacks docs/rules/{}.md",
            code.id()
        );
    }
    let pages: Vec<String> = connfix::rules::Code::ALL
        .iter()
        .map(|c| page(c.id()))
        .collect();
    assert_eq!(all, pages.join("\n"));
}

#[test]
fn every_page_is_included_by_its_rule_module_and_none_is_stray() {
    let mut included = Vec::new();
    for entry in std::fs::read_dir("src/rules").unwrap() {
        let source = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for line in source.lines() {
            if let Some(rest) = line.strip_prefix("#![doc = include_str!(\"../../docs/rules/") {
                included.push(rest.trim_end_matches(".md\")]").to_string());
            }
        }
    }
    included.sort();
    let mut pages: Vec<String> = std::fs::read_dir("docs/rules")
        .unwrap()
        .map(|e| {
            e.unwrap()
                .file_name()
                .to_string_lossy()
                .trim_end_matches(".md")
                .to_string()
        })
        .collect();
    pages.sort();
    let mut codes: Vec<String> = connfix::rules::Code::ALL
        .iter()
        .map(|c| c.id().to_string())
        .collect();
    codes.sort();
    assert_eq!(pages, codes, "docs/rules/ holds one page per code");
    assert_eq!(
        included, codes,
        "each page is the module documentation of the rule that reports it"
    );
}

#[test]
fn an_unknown_rule_is_an_error_listing_the_rules() {
    let out = Command::cargo_bin("connfix")
        .unwrap()
        .args(["rule", "nope"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .starts_with("connfix: error: unknown rule `nope`; the rules are: tracked-helper, ")
    );
}
