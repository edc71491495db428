"""Generate the dense benchmark corpus: N Python files, every one relevant to
connfix's default configuration (a helper, a close, or an engine factory).

Sources are examples/app/src/**/*.py and testdata/*/*/input.py that compile
and contain one of the default needles; variant i renames the usual local
names (conn, cur, cursor, engine, ...) so that no two files are identical.
Files go 100 to a folder.  Usage: python3 bench/dense.py N OUT_DIR
"""

import pathlib
import re
import shutil
import sys

NEEDLES = (b"get_db_connection", b"create_engine", b"create_async_engine")
RENAMED = ("conn", "cur", "cursor", "engine", "result", "row", "rows", "db")


def sources(root):
    paths = sorted(root.glob("examples/app/src/**/*.py"))
    paths += sorted(root.glob("testdata/*/*/input.py"))
    out = []
    for path in paths:
        data = path.read_bytes()
        if not any(n in data for n in NEEDLES):
            continue
        try:
            compile(data, str(path), "exec")
        except (SyntaxError, ValueError):
            continue
        out.append((path, data))
    return out


def variant(data, i):
    for name in RENAMED:
        data = re.sub(rb"\b%s\b" % name.encode(), b"%s_v%d" % (name.encode(), i), data)
    return data


def main():
    count, out = int(sys.argv[1]), pathlib.Path(sys.argv[2])
    root = pathlib.Path(__file__).resolve().parent.parent
    srcs = sources(root)
    if out.exists():
        shutil.rmtree(out)
    for i in range(count):
        path, data = srcs[i % len(srcs)]
        target = out / f"pkg{i // 100:03d}" / f"m{i:05d}_{path.parent.name if path.name == 'input.py' else path.stem}.py"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(variant(data, i // len(srcs)))
    print(f"{out}: {count} files from {len(srcs)} sources")


if __name__ == "__main__":
    main()
