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
    for dir in [root.to_path_buf(), root.join("examples/app/src/routes")] {
        let (config, from) = connfix::config::Config::discover(&dir, None).unwrap();
        assert_eq!(from, None, "{}", dir.display());
        assert_eq!(config, connfix::config::Config::default());
    }
}
