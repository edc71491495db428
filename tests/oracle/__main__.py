"""python3 -m tests.oracle [--programs N] [--seed S] [--cases-only]
[--no-cases] [--selftest] [--no-shrink]

Environment: ORACLE_SEED (default: random, printed), ORACLE_PROGRAMS
(default 2000; CI: 10000), CONNFIX (default target/release/connfix).
Exit 1 when any invariant fails (generated programs or regression cases)."""

import argparse
import concurrent.futures
import gc
import os
import random
import sys
import time

from . import gen, runner, shrink, standins, regression as cases_mod

BATCH = 500


def inputs_for(seed):
    r = random.Random(seed ^ 0x5EED)
    xs = [(0, None), (31, None)] + [(r.randrange(32), None) for _ in range(3)]
    xs.append((r.randrange(32), r.choice([1, 2])))  # the n-th connect() fails
    return xs


def run_generated(n, seed, do_shrink, budget, per_kind):
    fails = {}  # kind -> list of (prog_seed, failure); programs are regenerated from their seed
    t0 = time.time()
    done = 0
    def prepare(start):
        progs = {}
        for i in range(start, min(n, start + BATCH)):
            ps = seed * 1_000_003 + i
            progs[f"p{i:06d}.py"] = ps
        srcs = {name: gen.render(gen.generate(ps)) for name, ps in progs.items()}
        return progs, srcs, runner.connfix_dir(srcs)

    # connfix works on the next batch (in a thread: it is a subprocess) while
    # this one is executed
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    nxt = pool.submit(prepare, 0)
    for start in range(0, n, BATCH):
        progs, srcs, (new, codes, errors) = nxt.result()
        if start + BATCH < n:
            nxt = pool.submit(prepare, start + BATCH)
        gc.collect()
        gc.freeze()  # keep the collections after each call small
        for name, ps in progs.items():
            for f in runner.compare(srcs[name], new[name], name, inputs_for(ps), codes.get(name, [])):
                fails.setdefault(f[0], []).append((ps, f))
        done = min(n, start + BATCH)
        print(f"  {done} programs, {time.time() - t0:.1f} s, failing kinds so far: "
              + (", ".join(f"{k} {len(v)}" for k, v in sorted(fails.items())) or "none"), flush=True)
    pool.shutdown()
    elapsed = time.time() - t0
    print(f"generated: {n} programs in {elapsed:.1f} s (seed {seed})")
    for kind, lst in sorted(fails.items()):
        print(f"\n=== {kind}: {len(lst)} of {n} programs (program seeds {', '.join(str(t[0]) for t in lst[:3])}, ...)")
        # the smallest few failing programs, each shrunk; distinct results shown
        picks = sorted(lst[:200], key=lambda t: gen.size(gen.generate(t[0])))[:per_kind]
        seen = set()
        for ps, f in picks:
            prog = gen.generate(ps)
            if do_shrink and time.time() < budget:
                prog, f2 = shrink.shrink(prog, kind, f"p{ps}.py", inputs_for(ps), deadline=min(budget, time.time() + 60))
                f = f2 or f
            sig = shrink.signature(prog)
            if sig in seen:
                continue
            seen.add(sig)
            print(f"--- program seed {ps}")
            shrink.show(prog, f, f"p{ps}.py")
    return fails


def one_program(ps):
    name, prog, inputs = f"p{ps}.py", gen.generate(ps), inputs_for(ps)
    fails = shrink.failures(prog, name, inputs)
    print(f"program seed {ps}: " + (", ".join(f[0] for f in fails) or "no failure"))
    print(gen.render(prog))
    for f in fails:
        print(f"\n=== {f[0]}")
        small, f2 = shrink.shrink(prog, f[0], name, inputs, deadline=time.time() + 60)
        shrink.show(small, f2 or f, name)
    return 1 if fails else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--programs", type=int, default=int(os.environ.get("ORACLE_PROGRAMS", "2000")))
    ap.add_argument("--seed", type=int, default=int(os.environ.get("ORACLE_SEED", random.randrange(1 << 30))))
    ap.add_argument("--cases-only", action="store_true")
    ap.add_argument("--no-cases", action="store_true")
    ap.add_argument("--selftest", action="store_true")
    ap.add_argument("--no-shrink", action="store_true")
    ap.add_argument("--program", type=int, metavar="SEED",
                    help="check one generated program (a seed printed by a run), shrink and show each failure")
    ap.add_argument("--shrink-per-kind", type=int, default=int(os.environ.get("ORACLE_SHRINK_PER_KIND", "1")),
                    help="failing programs shrunk per kind of failure (distinct results are shown)")
    ap.add_argument("--shrink-seconds", type=float, default=float(os.environ.get("ORACLE_SHRINK_SECONDS", "300")))
    a = ap.parse_args()
    standins.install()
    gc.freeze()  # the harness's own objects: gc.collect() then only scans the programs'
    print(f"oracle: connfix {runner.connfix_bin()}, ORACLE_SEED={a.seed}", flush=True)
    if a.program is not None:
        return one_program(a.program)
    bad = False
    if a.selftest:
        from . import selftest
        bad |= not selftest.main()
    if not a.no_cases:
        bad |= not cases_mod.run_cases()
    if not a.cases_only and a.programs > 0:
        fails = run_generated(a.programs, a.seed, not a.no_shrink, time.time() + a.shrink_seconds, a.shrink_per_kind)
        bad |= bool(fails)
    print("\noracle: FAIL" if bad else "\noracle: ok")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
