"""Time commands over corpora for bench/run.sh: ROUNDS rounds, interleaved
(round by round, corpus by corpus, command by command), each run's wall time
(perf_counter), CPU time (wait4's rusage), peak RSS and the 1-minute load
average, written as TSV lines:
round, corpus, command, wall s, user s, sys s, peak KiB, load.

Each timed run is started with posix_spawn (vfork and exec) and nothing
between the clock and the command: forking this Python (as
subprocess.Popen does) and starting GNU time cost about 1.5 ms and 1 ms a
run, more than a third of what checking one file takes. Peak memory comes
from one more run of each command under GNU time (`%M`), before the
rounds, untimed: a child made by vfork would report this Python's peak
(maxrss survives exec).

Usage: measure.py ROUNDS OUT.tsv --corpora NAME:DIR[:PATH]... --commands LABEL|CMD...
(the corpus's PATH, by default its DIR, is appended to CMD; its DIR is put
where CMD says `{}`)
"""

import argparse
import os
import shlex
import shutil
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
    peaks = {}
    devnull = os.open(os.devnull, os.O_WRONLY)
    quiet = [(os.POSIX_SPAWN_DUP2, devnull, 1), (os.POSIX_SPAWN_DUP2, devnull, 2)]

    def argv_of(cmd, path, given):
        """The corpus goes last, or its folder where the command says `{}`."""
        if "{}" in cmd:
            return shlex.split(cmd.replace("{}", path))
        return shlex.split(cmd) + [given or path]

    # The memory runs, before the timed rounds (they also warm the page cache).
    for name, path, given in corpora:
        for label, cmd in commands:
            subprocess.run(
                ["/usr/bin/time", "-f", "%M", "-o", rss_file] + argv_of(cmd, path, given),
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            with open(rss_file) as f:
                peaks[name, label] = int(f.read().split()[-1])
    with open(args.out, "w") as out:
        for rnd in range(1, args.rounds + 1):
            for name, path, given in corpora:
                for label, cmd in commands:
                    argv = argv_of(cmd, path, given)
                    program = shutil.which(argv[0]) or argv[0]
                    start = time.perf_counter()
                    pid = os.posix_spawn(program, argv, os.environ, file_actions=quiet)
                    _, _status, usage = os.wait4(pid, 0)
                    wall = time.perf_counter() - start
                    load = os.getloadavg()[0]
                    peak = peaks[name, label]
                    out.write(
                        f"{rnd}\t{name}\t{label}\t{wall:.4f}\t{usage.ru_utime:.4f}\t"
                        f"{usage.ru_stime:.4f}\t{peak}\t{load:.2f}\n"
                    )
            out.flush()
            print(f"== round {rnd} done (load {' '.join(f'{x:.2f}' for x in os.getloadavg())})",
                  file=sys.stderr)


if __name__ == "__main__":
    main()
