//! Each code's documentation: what it finds, why, an example before and
//! after, when it declines, and its fix safety. One Markdown file per code in
//! `docs/rules/`, the one source of three copies that cannot drift apart:
//! the rules' module docs include them, `connfix rule` prints them, and the
//! README's rule reference is their concatenation (`tests/rule_docs.rs`
//! checks the README).

use super::Code;

/// `(id, Markdown)` for every code, in the order of `Code::ALL`.
const DOCS: &[(&str, &str)] = &[
    (
        "tracked-helper",
        include_str!("../../docs/rules/tracked-helper.md"),
    ),
    (
        "unrecognised-helper",
        include_str!("../../docs/rules/unrecognised-helper.md"),
    ),
    (
        "not-a-helper",
        include_str!("../../docs/rules/not-a-helper.md"),
    ),
    (
        "untrackable-connection",
        include_str!("../../docs/rules/untrackable-connection.md"),
    ),
    (
        "release-before-close",
        include_str!("../../docs/rules/release-before-close.md"),
    ),
    (
        "close-in-expression",
        include_str!("../../docs/rules/close-in-expression.md"),
    ),
    (
        "dispose-engine",
        include_str!("../../docs/rules/dispose-engine.md"),
    ),
    (
        "engine-escapes",
        include_str!("../../docs/rules/engine-escapes.md"),
    ),
    (
        "module-engine",
        include_str!("../../docs/rules/module-engine.md"),
    ),
    (
        "never-closed",
        include_str!("../../docs/rules/never-closed.md"),
    ),
    (
        "early-return-leak",
        include_str!("../../docs/rules/early-return-leak.md"),
    ),
    (
        "close-not-guaranteed",
        include_str!("../../docs/rules/close-not-guaranteed.md"),
    ),
    (
        "with-does-not-close",
        include_str!("../../docs/rules/with-does-not-close.md"),
    ),
    ("orm-bypass", include_str!("../../docs/rules/orm-bypass.md")),
    (
        "unparsed-region",
        include_str!("../../docs/rules/unparsed-region.md"),
    ),
];

/// The documentation of the code with this id.
pub fn doc(id: &str) -> Option<&'static str> {
    DOCS.iter().find(|(i, _)| *i == id).map(|(_, text)| *text)
}

/// Every code's documentation in the order of `CODES`, separated by blank
/// lines: `connfix rule --all`, and the README's rule reference.
pub fn all() -> String {
    Code::ALL
        .iter()
        .map(|c| doc(c.id()).unwrap_or_else(|| panic!("docs/rules/{}.md is missing", c.id())))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_one_page_that_starts_with_its_heading_and_says_its_severity() {
        let ids: Vec<&str> = DOCS.iter().map(|(id, _)| *id).collect();
        let codes: Vec<&str> = Code::ALL.iter().map(|c| c.id()).collect();
        assert_eq!(ids, codes, "DOCS lists the codes in the order of Code::ALL");
        for code in Code::ALL {
            let text = doc(code.id()).unwrap();
            let heading = format!(
                "### `{}`\n\nSeverity: {}. Fix: ",
                code.id(),
                code.severity().as_str()
            );
            assert!(
                text.starts_with(&heading),
                "{}.md must start with {heading:?}",
                code.id()
            );
            for section in [
                "**What it finds.**",
                "**Why.**",
                "**Example.**",
                "**When it declines.**",
                "**Fix safety.**",
            ] {
                assert!(
                    text.contains(section),
                    "{}.md has no {section} section",
                    code.id()
                );
            }
            assert!(
                text.ends_with("\n") && !text.ends_with("\n\n"),
                "{}.md ends with one line break",
                code.id()
            );
        }
    }
}
