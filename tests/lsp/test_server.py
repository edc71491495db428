"""`connfix server` end to end, driven by a real LSP client (pytest-lsp, on pygls).

Run by scripts/lsp-test.sh against target/release/connfix (or $CONNFIX).
Each test runs twice: with VS Code's client capabilities (positions in
UTF-16 code units, LSP's default) and with Neovim's plus an offer of UTF-8
(positions in bytes), so both conversions from connfix's byte offsets are
exercised, on lines holding non-ASCII text too.

What `connfix apply` writes is the oracle for the fixes: the server must
make the same edits.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

ROOT = pathlib.Path(__file__).resolve().parents[2]
APP = ROOT / "examples" / "app"
BRANDING = APP / "src" / "routes" / "branding.py"
CONNFIX = os.environ.get("CONNFIX", str(ROOT / "target" / "release" / "connfix"))

CLIENTS = {
    "vscode-utf16": ("visual-studio-code", None),
    "neovim-utf8": ("neovim", [types.PositionEncodingKind.Utf8, types.PositionEncodingKind.Utf16]),
}


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=[CONNFIX, "server"]),
    params=list(CLIENTS),
)
async def client(request, lsp_client: LanguageClient):
    yield await start(request.param, lsp_client, {"debounceMs": 10})
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=[CONNFIX, "server"]),
    params=list(CLIENTS),
)
async def unsafe_client(request, lsp_client: LanguageClient):
    yield await start(request.param, lsp_client, {"unsafeFixes": True})
    await lsp_client.shutdown_session()


async def start(name, lsp_client, options):
    spec, encodings = CLIENTS[name]
    # The server asks clients that can (VS Code) to watch its configuration
    # files; pytest-lsp's client does not answer that request by itself.
    lsp_client.registrations = []

    @lsp_client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def register(params: types.RegistrationParams):
        lsp_client.registrations.extend(params.registrations)

    capabilities = client_capabilities(spec)
    if encodings is not None:
        capabilities.general = capabilities.general or types.GeneralClientCapabilities()
        capabilities.general.position_encodings = encodings
    result = await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=capabilities,
            root_uri=APP.as_uri(),
            initialization_options=options,
        )
    )
    lsp_client.encoding = result.capabilities.position_encoding
    expected = types.PositionEncodingKind.Utf8 if encodings else types.PositionEncodingKind.Utf16
    assert lsp_client.encoding == expected
    return lsp_client


# ---------------------------------------------------------------- helpers


def offset(text: str, position: types.Position, encoding) -> int:
    """The index in `text` (a str) of an LSP position."""
    lines = text.split("\n")
    if position.line >= len(lines):
        return len(text)
    start = sum(len(line) + 1 for line in lines[: position.line])
    line = lines[position.line]
    units = 0
    for i, ch in enumerate(line):
        if units >= position.character:
            return start + i
        if encoding == types.PositionEncodingKind.Utf8:
            units += len(ch.encode("utf-8"))
        else:
            units += len(ch.encode("utf-16-le")) // 2
    return start + len(line)


def apply_edits(text: str, edits, encoding) -> str:
    """Apply TextEdits (ranges in the original text), last first."""
    spans = [(offset(text, e.range.start, encoding), offset(text, e.range.end, encoding), e.new_text) for e in edits]
    for start, end, new in sorted(spans, key=lambda s: (s[0], s[1]), reverse=True):
        text = text[:start] + new + text[end:]
    return text


def connfix_apply(text: str, name: str, *extra: str) -> str:
    """What `connfix apply` writes for `text` saved as examples/app/`name`."""
    out = subprocess.run(
        [CONNFIX, "apply", *extra, "--stdin-filename", name, "-"],
        input=text.encode(),
        capture_output=True,
        cwd=APP,
    )
    assert out.returncode in (0, 1), out.stderr.decode()
    return out.stdout.decode()


async def open_file(client, path: pathlib.Path, text: str | None = None):
    """Open a document and return (uri, text, its first diagnostics)."""
    text = path.read_text() if text is None else text
    uri = path.as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)
        )
    )
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    return uri, text, client.diagnostics[uri]


def summary(diagnostics):
    """(line, start char, end char, code, severity, message, href) per diagnostic, 0-based lines."""
    return [
        (
            d.range.start.line,
            d.range.start.character,
            d.range.end.character,
            d.code,
            d.severity.name,
            d.message,
            d.code_description.href if d.code_description else None,
        )
        for d in diagnostics
    ]


async def actions_at(client, uri, line):
    return await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=types.Range(start=types.Position(line=line, character=0), end=types.Position(line=line, character=0)),
            context=types.CodeActionContext(diagnostics=[]),
        )
    )


def action(actions, title):
    titles = [a.title for a in actions]
    matching = [a for a in actions if a.title == title]
    assert len(matching) == 1, f"{title!r} not offered once among {titles}"
    return matching[0]


def edits_of(action, uri):
    assert list(action.edit.changes) == [uri]
    return action.edit.changes[uri]


CLOSE = "`conn` closed without releasing its connection tracking"
NOT_GUARANTEED = (
    "`conn` (line 23) is closed on lines 32, 34 outside any `finally`: an exception or return before that "
    "leaks the connection; close it in a `finally`"
)
RELEASE = """\
        # Release tracking before closing connection
        if hasattr(conn, '_tracking_context') and hasattr(conn, '_tracking_start'):
            from src.utils.connection_tracker import track_connection_released
            track_connection_released(conn._tracking_context, conn._tracking_start)
            del conn._tracking_context, conn._tracking_start
"""

# ------------------------------------------------------------------ tests


@pytest.mark.asyncio
async def test_diagnostics_of_a_route_file(client):
    _, _, diagnostics = await open_file(client, BRANDING)
    assert summary(diagnostics) == [
        (22, 4, 30, "close-not-guaranteed", "Warning", NOT_GUARANTEED, "docs/rules/close-not-guaranteed.md"),
        (31, 8, 20, "release-before-close", "Error", CLOSE, "docs/rules/release-before-close.md"),
        (33, 4, 24, "release-before-close", "Error", CLOSE, "docs/rules/release-before-close.md"),
        (58, 12, 24, "release-before-close", "Error", CLOSE, "docs/rules/release-before-close.md"),
    ]
    assert {d.source for d in diagnostics} == {"connfix"}


@pytest.mark.asyncio
async def test_a_quick_fix_makes_the_edits_of_apply(client):
    uri, text, _ = await open_file(client, BRANDING)
    actions = await actions_at(client, uri, 31)
    assert [a.title for a in actions] == [
        "Fix this release-before-close finding",
        "Ignore release-before-close on this line",
        "Fix all connfix issues in this file",
    ]
    fix = action(actions, "Fix this release-before-close finding")
    assert fix.kind == types.CodeActionKind.QuickFix and fix.is_preferred
    assert [d.code for d in fix.diagnostics] == ["release-before-close"]
    fixed = apply_edits(text, edits_of(fix, uri), client.encoding)
    before = "    if row is None:\n        conn.close()\n"
    assert text.count(before) == 1
    assert fixed == text.replace(before, "    if row is None:\n" + RELEASE + "        conn.close()\n")


@pytest.mark.asyncio
async def test_fix_all_gives_what_apply_writes(client):
    uri, text, _ = await open_file(client, BRANDING)
    fix_all = action(await actions_at(client, uri, 0), "Fix all connfix issues in this file")
    assert fix_all.kind == "source.fixAll.connfix"
    fixed = apply_edits(text, edits_of(fix_all, uri), client.encoding)
    assert fixed == connfix_apply(text, "src/routes/branding.py")
    assert fixed.count("track_connection_released(conn._tracking_context") == 3


@pytest.mark.asyncio
async def test_unsafe_fixes_only_with_the_option(client, unsafe_client):
    text = (
        "def route():\n"
        "    conn = get_db_connection()\n"
        '    rows = conn.cursor().execute("SELECT 1")\n'
        "    conn.close()\n"
        "    return rows\n"
    )
    path = APP / "src" / "routes" / "unsafe.py"
    for c, unsafe in ((client, False), (unsafe_client, True)):
        uri, _, _ = await open_file(c, path, text)
        titles = [a.title for a in await actions_at(c, uri, 1)]
        expected = ["Ignore close-not-guaranteed on this line", "Fix all connfix issues in this file"]
        if unsafe:
            expected.insert(0, "Fix this close-not-guaranteed finding (unsafe)")
        assert titles == expected
        fix_all = action(await actions_at(c, uri, 0), "Fix all connfix issues in this file")
        fixed = apply_edits(text, edits_of(fix_all, uri), c.encoding)
        flags = ("--unsafe-fixes",) if unsafe else ()
        assert fixed == connfix_apply(text, "src/routes/unsafe.py", *flags)
        assert ("    finally:\n" in fixed) == unsafe


@pytest.mark.asyncio
async def test_the_ignore_comment_silences_the_finding_and_is_extended(client):
    uri, text, _ = await open_file(client, BRANDING)
    ignore = action(await actions_at(client, uri, 33), "Ignore release-before-close on this line")
    ignored = apply_edits(text, edits_of(ignore, uri), client.encoding)
    assert ignored == text.replace(
        "    conn.close()  # done\n", "    conn.close()  # done  # connfix: ignore[release-before-close]\n"
    )
    # The editor sends the edit back as an incremental change.
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[
                types.TextDocumentContentChangePartial(range=e.range, text=e.new_text)
                for e in edits_of(ignore, uri)
            ],
        )
    )
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    assert [(d.range.start.line, d.code) for d in client.diagnostics[uri]] == [
        (22, "close-not-guaranteed"),
        (31, "release-before-close"),
        (58, "release-before-close"),
    ]
    # A line whose comment already ignores another rule gets this one added.
    other = text.replace("    conn.close()  # done\n", "    conn.close()  # done # connfix: ignore[orm-bypass]\n")
    path = APP / "src" / "routes" / "branding_other.py"
    uri, _, _ = await open_file(client, path, other)
    ignore = action(await actions_at(client, uri, 33), "Ignore release-before-close on this line")
    assert apply_edits(other, edits_of(ignore, uri), client.encoding) == other.replace(
        "ignore[orm-bypass]", "ignore[orm-bypass, release-before-close]"
    )


@pytest.mark.asyncio
async def test_positions_on_lines_with_non_ascii_text(client):
    text = (
        "def route():\n"
        "    conn = get_db_connection()\n"
        '    label = "h\u00e9llo \U0001f600"; conn.close()  # \u00fcber\n'
    )
    path = APP / "src" / "routes" / "unicode.py"
    uri, _, diagnostics = await open_file(client, path, text)
    # `    label = "h` 14, then UTF-16 code units / UTF-8 bytes: `é` 1 / 2,
    # `llo ` 4, `😀` 2 (a surrogate pair) / 4, `"; ` 3.
    column = {types.PositionEncodingKind.Utf8: 27, types.PositionEncodingKind.Utf16: 24}[client.encoding]
    assert [(d.range.start.line, d.range.start.character, d.code) for d in diagnostics] == [
        (1, 4, "close-not-guaranteed"),
        (2, column, "release-before-close"),
    ]
    fix = action(await actions_at(client, uri, 2), "Fix this release-before-close finding")
    fixed = apply_edits(text, edits_of(fix, uri), client.encoding)
    assert fixed == connfix_apply(text, "src/routes/unicode.py")
    assert '    label = "h\u00e9llo \U0001f600"\n' in fixed


@pytest.mark.asyncio
async def test_a_file_with_a_syntax_error_gets_a_diagnostic_and_the_server_goes_on(client):
    text = "def route():\n    conn = get_db_connection(\n    conn.close()\n"
    path = APP / "src" / "routes" / "broken.py"
    uri, _, diagnostics = await open_file(client, path, text)
    assert summary(diagnostics) == [
        (
            1,
            28,
            29,
            None,
            "Error",
            "syntax error: '(' was never closed; CPython would not compile this file either, so it is left "
            "unchanged: fix the syntax (or set `target_version` if the code is for a newer Python)",
            None,
        )
    ]
    assert list(await actions_at(client, uri, 1)) == []
    # The session goes on: the next file is analysed as usual.
    _, _, diagnostics = await open_file(client, BRANDING)
    assert len(diagnostics) == 4


@pytest.mark.asyncio
async def test_a_configuration_change_is_picked_up_without_a_restart(client, tmp_path):
    text = "def route():\n    conn = get_conn()\n    conn.close()\n"
    path = tmp_path / "app.py"
    uri, _, diagnostics = await open_file(client, path, text)
    assert list(diagnostics) == []
    (tmp_path / "connfix.toml").write_text('helpers = ["get_conn"]\n')
    client.text_document_did_save(
        types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    assert [d.code for d in client.diagnostics[uri]] == ["release-before-close"]
    (tmp_path / "connfix.toml").write_text("helper = 1\n")
    watching = client.capabilities.workspace.did_change_watched_files
    assert bool(client.registrations) == bool(watching and watching.dynamic_registration)
    if client.registrations:
        # A client that watches the files tells the server, which publishes
        # every open file again without waiting for an edit.
        [registration] = client.registrations
        assert registration.method == types.WORKSPACE_DID_CHANGE_WATCHED_FILES
        globs = [w["globPattern"] for w in registration.register_options["watchers"]]
        assert globs == ["**/pyproject.toml", "**/connfix.toml"]
        client.workspace_did_change_watched_files(
            types.DidChangeWatchedFilesParams(
                changes=[types.FileEvent(uri=(tmp_path / "connfix.toml").as_uri(), type=types.FileChangeType.Changed)]
            )
        )
    else:
        client.text_document_did_save(
            types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
        )
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    [error] = client.diagnostics[uri]
    assert error.message.startswith("connfix cannot read its configuration: ")
    assert "unknown field `helper`" in error.message


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-v"]))
