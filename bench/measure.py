"""Time commands over corpora for bench/run.sh: ROUNDS rounds, interleaved
(round by round, corpus by corpus, command by command), each run's wall time
(perf_counter), CPU time (wait4's rusage), peak RSS (GNU time's %M) and the
1-minute load average, written as TSV lines:
round, corpus, command, wall s, user s, sys s, peak KiB, load.

Usage: measure.py ROUNDS OUT.tsv --corpora NAME:DIR[:PATH]... --commands LABEL|CMD...
(the corpus's PATH, by default its DIR, is appended to CMD; its DIR is put
where CMD says `{}`)
"""

import argparse
import os
import shlex
import subprocess
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("rounds", type=int)
    ap.add_argument("out")
    ap.add_argument("--corpora", nargs="+", required=True)
    ap.add_argument("--commands", nargs="+", required=True)
    args = ap.parse_args()
    corpora = [(c.split(":", 2) + [None])[:3] for c in args.corpora]
    commands = [c.split("|", 1) for c in args.commands]
    rss_file = args.out + ".rss"
    with open(args.out, "w") as out:
        for rnd in range(1, args.rounds + 1):
            for name, path, given in corpora:
                for label, cmd in commands:
                    # Peak memory comes from GNU time: a child forked from
                    # this Python would report Python's own peak (maxrss
                    # survives exec). Wall and CPU come from here (wait4's
                    # rusage includes what time waited for), to the ms.
                    argv = ["/usr/bin/time", "-f", "%M", "-o", rss_file]
                    # The corpus goes last, or its folder where the command
                    # says `{}`.
                    if "{}" in cmd:
                        argv += shlex.split(cmd.replace("{}", path))
                    else:
                        argv += shlex.split(cmd) + [given or path]
                    start = time.perf_counter()
                    child = subprocess.Popen(
                        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                    )
                    _, _status, usage = os.wait4(child.pid, 0)
                    wall = time.perf_counter() - start
                    child.returncode = 0  # reaped by wait4; exit codes 1/2 are expected
                    load = os.getloadavg()[0]
                    with open(rss_file) as f:
                        peak = int(f.read().split()[-1])
                    out.write(
                        f"{rnd}\t{name}\t{label}\t{wall:.4f}\t{usage.ru_utime:.4f}\t"
                        f"{usage.ru_stime:.4f}\t{peak}\t{load:.2f}\n"
                    )
            out.flush()
            print(f"== round {rnd} done (load {' '.join(f'{x:.2f}' for x in os.getloadavg())})",
                  file=sys.stderr)


if __name__ == "__main__":
    main()
