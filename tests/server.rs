//! `connfix server` answers over standard input and output, as the README's
//! proof command shows (tests/lsp/test_server.py drives it with a real
//! client).

use assert_cmd::Command;

fn message(body: &str) -> String {
    format!("Content-Length: {}\r\n\r\n{body}", body.len())
}

#[test]
fn the_server_answers_initialize_and_shuts_down_cleanly() {
    let input = [
        r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"capabilities":{}}}"#,
        r#"{"jsonrpc":"2.0","method":"initialized","params":{}}"#,
        r#"{"jsonrpc":"2.0","id":2,"method":"shutdown"}"#,
        r#"{"jsonrpc":"2.0","method":"exit"}"#,
    ]
    .map(message)
    .concat();
    let out = Command::cargo_bin("connfix")
        .unwrap()
        .arg("server")
        .write_stdin(input)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let initialize = concat!(
        r#"{"jsonrpc":"2.0","id":1,"result":{"capabilities":{"codeActionProvider":{"codeActionKinds":["quickfix","source.fixAll.connfix"]},"#,
        r#""positionEncoding":"utf-16","textDocumentSync":{"change":2,"openClose":true,"save":true}},"#,
        r#""serverInfo":{"name":"connfix","version":""#,
        env!("CARGO_PKG_VERSION"),
        r#""}}}"#
    );
    let shutdown = r#"{"jsonrpc":"2.0","id":2,"result":null}"#;
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        [message(initialize), message(shutdown)].concat()
    );
}
