//! `connfix server`: a language server over standard input and output (LSP
//! 3.17). It publishes each open file's findings (on open, on save, and
//! after edits once typing pauses), and offers code actions: each finding's
//! fix, all fixes of the file, and an ignore comment for the finding's line.
//!
//! It goes through the same `Fixer` as the command line, so what the
//! server shows and fixes is what `check` and `apply` show and fix. One
//! thread handles one message at a time; a panic while handling one becomes
//! an error answer (or a log message), never the end of the session.

mod actions;
pub mod position;
mod setup;

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Result;
use crossbeam_channel::RecvTimeoutError;
use lsp_server::{Connection, ErrorCode, Message, Notification, Request, Response};
use lsp_types::notification::{self, Notification as _};
use lsp_types::request::{self, Request as _};
use lsp_types::{
    CodeActionKind, CodeActionOptions, CodeActionProviderCapability, DiagnosticSeverity,
    InitializeParams, NumberOrString, PublishDiagnosticsParams, ServerCapabilities, ServerInfo,
    TextDocumentSyncCapability, TextDocumentSyncKind, TextDocumentSyncOptions,
    TextDocumentSyncSaveOptions, Uri,
};
use serde::Deserialize;
use tree_sitter::{InputEdit, Point, Tree};

use crate::fix::Outcome;
use crate::rules::{self, Severity};
use crate::source::Rejection;
use position::{Encoding, Lines};

/// The kind of the "fix all" action, as editors ask for it on save
/// (`"editor.codeActionsOnSave": {"source.fixAll.connfix": "explicit"}`).
pub const FIX_ALL: &str = "source.fixAll.connfix";

/// What the client may set in `initializationOptions`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Options {
    /// Offer unsafe fixes too, and apply them in "fix all" (`--unsafe-fixes`).
    pub unsafe_fixes: bool,
    /// How long typing must pause before a changed file is analysed again.
    pub debounce_ms: u64,
    /// The link of each rule's documentation, `{rule}` standing for its id.
    /// The default is the rule's page in this repository, relative to its
    /// root (there is no published site).
    pub rule_docs_url: String,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            unsafe_fixes: false,
            debounce_ms: 50,
            rule_docs_url: "docs/rules/{rule}.md".into(),
        }
    }
}

/// An open file, as the editor holds it.
struct Document {
    path: PathBuf,
    text: String,
    version: i32,
    /// The syntax tree of the last analysis, told about every change since:
    /// the next parse reuses what the changes did not touch.
    tree: Option<Tree>,
    /// Changed since last published: publish once this moment has passed.
    due: Option<Instant>,
}

/// One analysis of a document's text.
pub(crate) struct Analysis {
    /// The findings, or why the file could not be analysed.
    pub found: Result<Outcome, Failure>,
}

/// Why a document has no findings: the file or the configuration.
pub(crate) enum Failure {
    File(Rejection),
    Config(String),
}

struct Server {
    encoding: Encoding,
    options: Options,
    documents: HashMap<Uri, Document>,
    setups: setup::Setups,
}

/// Run the server on standard input and output until the client says exit.
pub fn run() -> Result<()> {
    let (connection, io_threads) = Connection::stdio();
    serve(&connection)?;
    drop(connection);
    io_threads.join()?;
    Ok(())
}

/// The session on `connection`: initialisation, then messages until exit.
pub fn serve(connection: &Connection) -> Result<()> {
    let (id, params) = connection.initialize_start()?;
    let params: InitializeParams = serde_json::from_value(params)?;
    let encoding = Encoding::negotiate(
        params
            .capabilities
            .general
            .as_ref()
            .and_then(|g| g.position_encodings.as_deref()),
    );
    let options: Options = match params.initialization_options {
        Some(value) => serde_json::from_value(value).unwrap_or_else(|e| {
            eprintln!("connfix server: ignoring invalid initializationOptions: {e}");
            Options::default()
        }),
        None => Options::default(),
    };
    let capabilities = ServerCapabilities {
        position_encoding: Some(encoding.kind()),
        text_document_sync: Some(TextDocumentSyncCapability::Options(
            TextDocumentSyncOptions {
                open_close: Some(true),
                change: Some(TextDocumentSyncKind::INCREMENTAL),
                save: Some(TextDocumentSyncSaveOptions::Supported(true)),
                ..Default::default()
            },
        )),
        code_action_provider: Some(CodeActionProviderCapability::Options(CodeActionOptions {
            code_action_kinds: Some(vec![CodeActionKind::QUICKFIX, CodeActionKind::new(FIX_ALL)]),
            ..Default::default()
        })),
        ..Default::default()
    };
    let result = serde_json::json!({
        "capabilities": capabilities,
        "serverInfo": ServerInfo {
            name: "connfix".into(),
            version: Some(env!("CARGO_PKG_VERSION").into()),
        },
    });
    connection.initialize_finish(id, result)?;
    let watches = params
        .capabilities
        .workspace
        .as_ref()
        .and_then(|w| w.did_change_watched_files.as_ref())
        .and_then(|d| d.dynamic_registration)
        .unwrap_or(false);
    if watches {
        // Be told when a configuration file changes, to analyse the open
        // files again at once (not only at their next change). The client's
        // answer needs no handling.
        let registration = lsp_types::Registration {
            id: "connfix-configuration".into(),
            method: notification::DidChangeWatchedFiles::METHOD.into(),
            register_options: Some(serde_json::json!({
                "watchers": [{"globPattern": "**/pyproject.toml"}, {"globPattern": "**/connfix.toml"}]
            })),
        };
        let params = lsp_types::RegistrationParams {
            registrations: vec![registration],
        };
        connection.sender.send(
            Request::new(
                lsp_server::RequestId::from("connfix-watch".to_string()),
                request::RegisterCapability::METHOD.into(),
                params,
            )
            .into(),
        )?;
    }
    let mut server = Server {
        encoding,
        options,
        documents: HashMap::new(),
        setups: setup::Setups::default(),
    };
    server.main_loop(connection)
}

impl Server {
    fn main_loop(&mut self, connection: &Connection) -> Result<()> {
        loop {
            let due = self.documents.values().filter_map(|d| d.due).min();
            let message = match due {
                Some(due) => {
                    match connection
                        .receiver
                        .recv_timeout(due.saturating_duration_since(Instant::now()))
                    {
                        Ok(message) => Some(message),
                        Err(RecvTimeoutError::Timeout) => None,
                        Err(RecvTimeoutError::Disconnected) => return Ok(()),
                    }
                }
                None => match connection.receiver.recv() {
                    Ok(message) => Some(message),
                    Err(_) => return Ok(()),
                },
            };
            match message {
                None => {
                    let now = Instant::now();
                    let due: Vec<Uri> = self
                        .documents
                        .iter()
                        .filter(|(_, d)| d.due.is_some_and(|t| t <= now))
                        .map(|(uri, _)| uri.clone())
                        .collect();
                    for uri in due {
                        self.guarded("publishing diagnostics", connection, |s, c| {
                            s.publish(c, &uri)
                        });
                    }
                }
                Some(Message::Request(request)) => {
                    if connection.handle_shutdown(&request)? {
                        return Ok(());
                    }
                    let id = request.id.clone();
                    let method = request.method.clone();
                    let answer = catch_unwind(AssertUnwindSafe(|| self.request(request)));
                    let response = match answer {
                        Ok(Ok(response)) => response,
                        Ok(Err(error)) => Response::new_err(
                            id,
                            ErrorCode::RequestFailed as i32,
                            format!("connfix: {method}: {error:#}"),
                        ),
                        Err(panic) => Response::new_err(
                            id,
                            ErrorCode::InternalError as i32,
                            format!(
                                "connfix: internal error in {method}: {} (please report it)",
                                panic_message(&panic)
                            ),
                        ),
                    };
                    connection.sender.send(response.into())?;
                }
                Some(Message::Notification(note)) => {
                    let what = note.method.clone();
                    self.guarded(&what, connection, |s, c| s.notification(c, note));
                }
                Some(Message::Response(_)) => {}
            }
        }
    }

    /// Run `work`; an error or a panic is logged to the client, and the
    /// session goes on.
    fn guarded(
        &mut self,
        what: &str,
        connection: &Connection,
        work: impl FnOnce(&mut Server, &Connection) -> Result<()>,
    ) {
        let message = match catch_unwind(AssertUnwindSafe(|| work(self, connection))) {
            Ok(Ok(())) => return,
            Ok(Err(error)) => format!("connfix: {what}: {error:#}"),
            Err(panic) => format!(
                "connfix: internal error in {what}: {} (please report it)",
                panic_message(&panic)
            ),
        };
        eprintln!("{message}");
        let log = lsp_types::LogMessageParams {
            typ: lsp_types::MessageType::ERROR,
            message,
        };
        let _ = connection
            .sender
            .send(Notification::new(notification::LogMessage::METHOD.into(), log).into());
    }

    fn request(&mut self, request: Request) -> Result<Response> {
        match request.method.as_str() {
            #[cfg(test)]
            "connfix/test-panic" => panic!("a bug"),
            request::CodeActionRequest::METHOD => {
                let (id, params) = request.extract(request::CodeActionRequest::METHOD)?;
                let actions = self.code_actions(params)?;
                Ok(Response::new_ok(id, actions))
            }
            _ => Ok(Response::new_err(
                request.id,
                ErrorCode::MethodNotFound as i32,
                format!("connfix does not handle {}", request.method),
            )),
        }
    }

    fn notification(&mut self, connection: &Connection, note: Notification) -> Result<()> {
        match note.method.as_str() {
            notification::DidOpenTextDocument::METHOD => {
                let params: lsp_types::DidOpenTextDocumentParams =
                    note.extract(notification::DidOpenTextDocument::METHOD)?;
                let document = params.text_document;
                self.documents.insert(
                    document.uri.clone(),
                    Document {
                        path: setup::path_of(&document.uri),
                        text: document.text,
                        version: document.version,
                        tree: None,
                        due: None,
                    },
                );
                self.publish(connection, &document.uri)
            }
            notification::DidChangeTextDocument::METHOD => {
                let params: lsp_types::DidChangeTextDocumentParams =
                    note.extract(notification::DidChangeTextDocument::METHOD)?;
                let encoding = self.encoding;
                let debounce = Duration::from_millis(self.options.debounce_ms);
                let Some(document) = self.documents.get_mut(&params.text_document.uri) else {
                    return Ok(());
                };
                for change in params.content_changes {
                    apply_change(document, change, encoding);
                }
                document.version = params.text_document.version;
                document.due = Some(Instant::now() + debounce);
                Ok(())
            }
            notification::DidSaveTextDocument::METHOD => {
                let params: lsp_types::DidSaveTextDocumentParams =
                    note.extract(notification::DidSaveTextDocument::METHOD)?;
                let uri = params.text_document.uri;
                if let (Some(text), Some(document)) = (params.text, self.documents.get_mut(&uri))
                    && text != document.text
                {
                    document.text = text;
                    document.tree = None;
                }
                self.publish(connection, &uri)
            }
            notification::DidCloseTextDocument::METHOD => {
                let params: lsp_types::DidCloseTextDocumentParams =
                    note.extract(notification::DidCloseTextDocument::METHOD)?;
                self.documents.remove(&params.text_document.uri);
                // The editor shows no findings for a file no longer open.
                send_diagnostics(connection, params.text_document.uri, Vec::new(), None)
            }
            notification::DidChangeWatchedFiles::METHOD => {
                // A configuration file may have changed: the next analysis
                // looks again (setups compare modification times anyway);
                // publish every open file again now.
                self.setups.forget();
                let uris: Vec<Uri> = self.documents.keys().cloned().collect();
                for uri in uris {
                    self.publish(connection, &uri)?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Analyse a document now and publish its diagnostics.
    fn publish(&mut self, connection: &Connection, uri: &Uri) -> Result<()> {
        let Some(document) = self.documents.get_mut(uri) else {
            return Ok(());
        };
        document.due = None;
        let analysis = analyse(&mut self.setups, self.options.unsafe_fixes, document);
        let document = &self.documents[uri];
        let (version, diagnostics) = (document.version, self.to_lsp(document, &analysis));
        send_diagnostics(connection, uri.clone(), diagnostics, Some(version))
    }

    /// The LSP diagnostics of an analysis.
    fn to_lsp(&self, document: &Document, analysis: &Analysis) -> Vec<lsp_types::Diagnostic> {
        let lines = Lines::new(&document.text, self.encoding);
        match &analysis.found {
            Ok(outcome) => {
                let shift = bom_len(outcome);
                outcome
                    .diagnostics
                    .iter()
                    .map(|d| self.diagnostic(&lines, shift, d))
                    .collect()
            }
            Err(Failure::File(rejection)) => {
                // Line and column (in bytes) are 1-based, in the text after
                // any BOM.
                let offset = match rejection.position {
                    Some((line, column)) => {
                        let start = lines.offset(lsp_types::Position::new(line as u32 - 1, 0));
                        start + column - 1
                    }
                    None => 0,
                };
                let shift = usize::from(document.text.starts_with('\u{feff}')) * 3;
                let offset = if rejection.position.is_some_and(|(l, _)| l == 1) {
                    offset + shift
                } else {
                    offset
                };
                let offset = offset.min(document.text.len());
                let end = lines.line_end(lines.line_start(offset)).max(offset);
                vec![lsp_types::Diagnostic {
                    range: lines.range(offset, end),
                    severity: Some(DiagnosticSeverity::ERROR),
                    source: Some("connfix".into()),
                    message: rejection.message.clone(),
                    ..Default::default()
                }]
            }
            Err(Failure::Config(message)) => vec![lsp_types::Diagnostic {
                range: lines.range(0, 0),
                severity: Some(DiagnosticSeverity::ERROR),
                source: Some("connfix".into()),
                message: format!("connfix cannot read its configuration: {message}"),
                ..Default::default()
            }],
        }
    }

    /// One finding: from its offset to the end of its line (trailing blanks
    /// left out).
    fn diagnostic(
        &self,
        lines: &Lines,
        shift: usize,
        d: &rules::Diagnostic,
    ) -> lsp_types::Diagnostic {
        let start = d.offset + shift;
        let end = lines.line_end(lines.line_start(start));
        let end = start + lines.slice(start, end).trim_end().len();
        let href = self.options.rule_docs_url.replace("{rule}", d.rule.id());
        lsp_types::Diagnostic {
            range: lines.range(start, end.max(start)),
            severity: Some(match d.severity {
                Severity::Error => DiagnosticSeverity::ERROR,
                Severity::Warning => DiagnosticSeverity::WARNING,
                Severity::Info => DiagnosticSeverity::INFORMATION,
            }),
            code: Some(NumberOrString::String(d.rule.id().into())),
            code_description: href
                .parse()
                .ok()
                .map(|href| lsp_types::CodeDescription { href }),
            source: Some("connfix".into()),
            message: d.message.clone(),
            ..Default::default()
        }
    }
}

/// The BOM's length when the analysed text started with one: connfix's
/// offsets count from after it, the editor's from the first character.
fn bom_len(outcome: &Outcome) -> usize {
    if outcome.bom { 3 } else { 0 }
}

/// Run the rules on the document's current text, with the configuration
/// that applies to its path.
fn analyse(setups: &mut setup::Setups, unsafe_fixes: bool, document: &mut Document) -> Analysis {
    let found = match setups.fixer(&document.path, unsafe_fixes) {
        Ok(fixer) => {
            let bytes = document.text.clone().into_bytes();
            match fixer.find_from(&document.path, bytes, document.tree.as_ref()) {
                Ok((outcome, tree)) => {
                    document.tree = tree;
                    Ok(outcome)
                }
                Err(rejection) => {
                    document.tree = None;
                    Err(Failure::File(rejection))
                }
            }
        }
        Err(message) => Err(Failure::Config(message)),
    };
    Analysis { found }
}

fn send_diagnostics(
    connection: &Connection,
    uri: Uri,
    diagnostics: Vec<lsp_types::Diagnostic>,
    version: Option<i32>,
) -> Result<()> {
    let params = PublishDiagnosticsParams {
        uri,
        diagnostics,
        version,
    };
    connection
        .sender
        .send(Notification::new(notification::PublishDiagnostics::METHOD.into(), params).into())?;
    Ok(())
}

/// Apply one change of `textDocument/didChange` to the document's text, and
/// tell its tree (a whole new text drops the tree).
fn apply_change(
    document: &mut Document,
    change: lsp_types::TextDocumentContentChangeEvent,
    encoding: Encoding,
) {
    let Some(range) = change.range else {
        document.text = change.text;
        document.tree = None;
        return;
    };
    let lines = Lines::new(&document.text, encoding);
    let start = lines.offset(range.start);
    let end = lines.offset(range.end).max(start);
    let edit = input_edit(
        &lines,
        document.text.starts_with('\u{feff}'),
        start,
        end,
        &change.text,
    );
    document.text.replace_range(start..end, &change.text);
    match (edit, document.tree.as_mut()) {
        (Some(edit), Some(tree)) => tree.edit(&edit),
        _ => document.tree = None,
    }
}

/// The change of `start..end` to `new` in tree-sitter's terms: bytes and
/// (row, byte column) points of the text after any BOM, which connfix
/// parses. `None` for a change to the BOM itself.
fn input_edit(lines: &Lines, bom: bool, start: usize, end: usize, new: &str) -> Option<InputEdit> {
    let base = if bom { 3 } else { 0 };
    if start < base {
        return None;
    }
    let point = |offset: usize| {
        let (row, column) = lines.point(offset);
        Point::new(row, if row == 0 { column - base } else { column })
    };
    let start_position = point(start);
    let new_end_position = match new.rfind('\n') {
        Some(last) => Point::new(
            start_position.row + new.matches('\n').count(),
            new.len() - last - 1,
        ),
        None => Point::new(start_position.row, start_position.column + new.len()),
    };
    Some(InputEdit {
        start_byte: start - base,
        old_end_byte: end - base,
        new_end_byte: start - base + new.len(),
        start_position,
        old_end_position: point(end),
        new_end_position,
    })
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A session over in-memory channels: what the client sends, and what
    /// it receives (the responses and notifications) once it has said exit.
    fn session(messages: Vec<Message>) -> Vec<Message> {
        let (server, client) = Connection::memory();
        let thread = std::thread::spawn(move || serve(&server).map_err(|e| e.to_string()));
        for message in messages {
            client.sender.send(message).unwrap();
        }
        thread.join().unwrap().unwrap();
        client.receiver.try_iter().collect()
    }

    fn request(id: i32, method: &str, params: serde_json::Value) -> Message {
        Request::new(id.into(), method.into(), params).into()
    }

    fn notification(method: &str, params: serde_json::Value) -> Message {
        Notification::new(method.into(), params).into()
    }

    #[test]
    fn a_panic_or_bad_parameters_answer_an_error_and_the_session_goes_on() {
        let received = session(vec![
            request(1, "initialize", serde_json::json!({"capabilities": {}})),
            notification("initialized", serde_json::json!({})),
            request(2, "connfix/test-panic", serde_json::Value::Null),
            request(
                3,
                "textDocument/codeAction",
                serde_json::json!({"nonsense": 1}),
            ),
            request(4, "connfix/unknown", serde_json::Value::Null),
            request(5, "shutdown", serde_json::Value::Null),
            notification("exit", serde_json::Value::Null),
        ]);
        let answers: Vec<(String, Option<i32>, String)> = received
            .into_iter()
            .filter_map(|m| match m {
                Message::Response(r) => Some((
                    r.id.to_string(),
                    r.error.as_ref().map(|e| e.code),
                    r.error.map(|e| e.message).unwrap_or_default(),
                )),
                _ => None,
            })
            .collect();
        assert_eq!(answers.len(), 5, "{answers:?}");
        assert_eq!(
            answers[1],
            (
                "2".into(),
                Some(ErrorCode::InternalError as i32),
                "connfix: internal error in connfix/test-panic: a bug (please report it)".into()
            )
        );
        assert_eq!(answers[2].1, Some(ErrorCode::RequestFailed as i32));
        assert!(
            answers[2]
                .2
                .starts_with("connfix: textDocument/codeAction: "),
            "{}",
            answers[2].2
        );
        assert_eq!(answers[3].1, Some(ErrorCode::MethodNotFound as i32));
        assert_eq!(answers[4], ("5".into(), None, String::new()));
    }

    #[test]
    fn configuration_files_are_watched_when_the_client_can_register_watchers() {
        let capabilities = serde_json::json!({
            "workspace": {"didChangeWatchedFiles": {"dynamicRegistration": true}}
        });
        let received = session(vec![
            request(
                1,
                "initialize",
                serde_json::json!({"capabilities": capabilities}),
            ),
            notification("initialized", serde_json::json!({})),
            request(2, "shutdown", serde_json::Value::Null),
            notification("exit", serde_json::Value::Null),
        ]);
        let registrations: Vec<serde_json::Value> = received
            .into_iter()
            .filter_map(|m| match m {
                Message::Request(r) if r.method == "client/registerCapability" => Some(r.params),
                _ => None,
            })
            .collect();
        assert_eq!(
            registrations,
            [serde_json::json!({"registrations": [{
                "id": "connfix-configuration",
                "method": "workspace/didChangeWatchedFiles",
                "registerOptions": {"watchers": [
                    {"globPattern": "**/pyproject.toml"}, {"globPattern": "**/connfix.toml"}
                ]}
            }]})]
        );
    }

    fn document(text: &str) -> Document {
        Document {
            path: PathBuf::from("a.py"),
            text: text.into(),
            version: 1,
            tree: None,
            due: None,
        }
    }

    fn change(
        from: (u32, u32),
        to: (u32, u32),
        text: &str,
    ) -> lsp_types::TextDocumentContentChangeEvent {
        lsp_types::TextDocumentContentChangeEvent {
            range: Some(lsp_types::Range::new(
                lsp_types::Position::new(from.0, from.1),
                lsp_types::Position::new(to.0, to.1),
            )),
            range_length: None,
            text: text.into(),
        }
    }

    #[test]
    fn incremental_changes_are_applied_in_utf16() {
        let mut doc = document("x = \"\u{1F600}\"\nconn.close()\n");
        apply_change(&mut doc, change((0, 8), (1, 4), "\nc"), Encoding::Utf16);
        assert_eq!(doc.text, "x = \"\u{1F600}\"\nc.close()\n");
    }

    /// Typing into a file, analysed after every change with the tree told
    /// about the changes, finds what a fresh analysis finds (and debug
    /// builds check that each incremental parse equals a fresh parse).
    #[test]
    fn analyses_reusing_the_edited_tree_find_what_fresh_ones_find() {
        let text = "\u{feff}def get_db_connection():\n    return connect(use_pool=True)\n\n\ndef route():\n    s = \"h\u{e9}\"\n    conn = get_db_connection()\n    conn.close()\n";
        let mut setups = setup::Setups::default();
        for encoding in [Encoding::Utf8, Encoding::Utf16] {
            let mut doc = document(text);
            // The BOM is one character: 3 bytes, 1 UTF-16 code unit.
            let bom = if encoding == Encoding::Utf8 { 3 } else { 1 };
            let changes = [
                change((5, 10), (5, 10), "llo \u{1F600}"),
                change((7, 4), (7, 4), "rows = conn.cursor()\n    "),
                change((0, bom), (0, bom + 3), "def"),
                change((8, 4), (8, 4), "if conn: "),
                change((9, 0), (9, 0), "    return rows\n"),
                change((4, 0), (4, 3), "async def"),
            ];
            analyse(&mut setups, false, &mut doc);
            assert!(doc.tree.is_some());
            for c in changes {
                apply_change(&mut doc, c, encoding);
                assert!(doc.tree.is_some());
                let incremental = match analyse(&mut setups, false, &mut doc).found {
                    Ok(outcome) => outcome,
                    Err(_) => panic!("the test's edits made a syntax error:\n{}", doc.text),
                };
                let mut fresh = document(&doc.text);
                let fresh = analyse(&mut setups, false, &mut fresh).found.ok().unwrap();
                assert_eq!(incremental.diagnostics, fresh.diagnostics, "{}", doc.text);
                assert!(!fresh.diagnostics.is_empty());
            }
        }
    }
}
