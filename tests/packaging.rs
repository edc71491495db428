//! The repository's own pyproject.toml (Python packaging, maturin) is not a
//! connfix configuration: it has no `[tool.connfix]`, so discovery passes
//! over it, and runs inside this repository use the defaults as before.

use std::path::Path;

#[test]
fn the_packaging_pyproject_is_not_a_configuration() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("pyproject.toml")).unwrap();
    assert!(text.contains("build-backend = \"maturin\""));
    assert!(
        !text
            .lines()
            .any(|l| l.trim_start().starts_with("[tool.connfix"))
    );
    let (config, from) = connfix::config::Config::discover(root, None).unwrap();
    assert_eq!(from, None, "{}", root.display());
    assert_eq!(config, connfix::config::Config::default());
    // The example app has a connfix.toml of its own, found before the root's.
    let (_, from) =
        connfix::config::Config::discover(&root.join("examples/app/src/routes"), None).unwrap();
    assert_eq!(from, Some(root.join("examples/app/connfix.toml")));
}
