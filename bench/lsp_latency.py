"""The language server's latency: how long after an edit to a 1,000-line file
its diagnostics arrive.

    python3 bench/lsp_latency.py [CONNFIX] [EDITS]

CONNFIX defaults to target/release/connfix, EDITS to 400. The file is made
of renamed copies of examples/app/src/routes/*.py (as bench/dense.py makes
them; every one relevant to the default configuration), padded to exactly
1,000 lines; it is written to target/bench/lsp-1000.py.

A client speaking JSON-RPC over the server's standard input and output (no
library, so the client adds little) opens the file with debounceMs 0, then
for each edit sends an incremental `textDocument/didChange` (one character
added at the end of a line, or taken away again; the lines go round the
file) and waits for the `textDocument/publishDiagnostics` of that version.
The time from writing the change to reading the diagnostics is what an
editor waits for beyond its debounce: the incremental update of the text,
configuration check, rules, positions, JSON both ways and the pipes. It
prints the median, 90th and 99th percentile and maximum, in milliseconds,
the server's mean CPU time per edit (from /proc, so what the machine's load
adds in waiting is left out), and the same times for a request the server
answers at once (the pipes, JSON and scheduling alone).
"""

import json
import os
import pathlib
import statistics
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
import dense  # noqa: E402

LINES = 1000


def corpus():
    routes = sorted((ROOT / "examples/app/src/routes").glob("*.py"))
    out, i = [], 0
    while True:
        for path in routes:
            data = dense.variant(path.read_bytes(), i).decode()
            lines = data.splitlines(keepends=True)
            if len(out) + len(lines) > LINES:
                out += [f"pad_{n} = {n}\n" for n in range(LINES - len(out))]
                return "".join(out)
            out += lines
            i += 1


class Client:
    def __init__(self, command):
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.next_id = 0

    def send(self, message):
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        self.process.stdin.flush()

    def receive(self):
        length = None
        while True:
            line = self.process.stdout.readline()
            if not line:
                raise SystemExit("the server closed its output")
            if line == b"\r\n":
                break
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        return json.loads(self.process.stdout.read(length))

    def request(self, method, params):
        self.next_id += 1
        self.send({"id": self.next_id, "method": method, "params": params})
        while True:
            message = self.receive()
            if message.get("id") == self.next_id:
                return message

    def notify(self, method, params):
        self.send({"method": method, "params": params})

    def diagnostics(self, version):
        while True:
            message = self.receive()
            params = message.get("params", {})
            if message.get("method") == "textDocument/publishDiagnostics" and params.get("version") == version:
                return params["diagnostics"]


def cpu_seconds(pid):
    """The process's user and system CPU time so far (Linux)."""
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    connfix = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "target/release/connfix")
    edits = int(sys.argv[2]) if len(sys.argv) > 2 else 400
    text = corpus()
    assert text.count("\n") == LINES
    path = ROOT / "target/bench/lsp-1000.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    uri = path.as_uri()
    client = Client([connfix, "server"])
    client.request(
        "initialize",
        {"processId": os.getpid(), "capabilities": {}, "initializationOptions": {"debounceMs": 0}},
    )
    client.notify("initialized", {})
    client.notify(
        "textDocument/didOpen",
        {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}},
    )
    found = len(client.diagnostics(1))
    lines = text.split("\n")
    times = []
    cpu_before = None
    for n in range(edits + 20):
        version = n + 2
        line = (n // 2 * 37) % LINES
        end = len(lines[line].encode("utf-16-le")) // 2
        if n % 2 == 0:
            change = {"range": {"start": {"line": line, "character": end}, "end": {"line": line, "character": end}}, "text": " "}
        else:
            change = {"range": {"start": {"line": line, "character": end}, "end": {"line": line, "character": end + 1}}, "text": ""}
        start = time.perf_counter()
        client.notify(
            "textDocument/didChange",
            {"textDocument": {"uri": uri, "version": version}, "contentChanges": [change]},
        )
        diagnostics = client.diagnostics(version)
        elapsed = time.perf_counter() - start
        assert len(diagnostics) == found, (len(diagnostics), found)
        if n >= 20:  # the first ones warm the caches
            times.append(elapsed * 1000)
        if n == 19:
            cpu_before = cpu_seconds(client.process.pid)
    cpu = (cpu_seconds(client.process.pid) - cpu_before) / edits * 1000
    # The floor: a request the server answers at once (a method it does not
    # handle), through the same pipes and JSON.
    floor = []
    for _ in range(200):
        start = time.perf_counter()
        answer = client.request("connfix/ping", None)
        floor.append((time.perf_counter() - start) * 1000)
        assert answer["error"]["code"] == -32601, answer
    client.request("shutdown", None)
    client.notify("exit", None)
    client.process.wait(timeout=10)
    times.sort()

    def pct(p):
        return times[min(len(times) - 1, int(len(times) * p))]

    load = os.getloadavg()[0]
    print(f"file: {LINES} lines, {len(text.encode())} bytes, {found} diagnostics; {len(times)} edits; load {load:.2f}")
    print("| edit to diagnostics | median | p90 | p99 | max |")
    print("| --- | --- | --- | --- | --- |")
    print(f"| {LINES}-line file | {statistics.median(times):.2f} ms | {pct(0.9):.2f} ms | {pct(0.99):.2f} ms | {times[-1]:.2f} ms |")
    print(f"| server CPU time per edit (mean, all threads) | {cpu:.2f} ms | | | |")
    floor.sort()
    print(f"| floor: a request answered at once | {statistics.median(floor):.2f} ms | {floor[int(len(floor) * 0.9)]:.2f} ms | "
          f"{floor[int(len(floor) * 0.99)]:.2f} ms | {floor[-1]:.2f} ms |")


if __name__ == "__main__":
    main()
