#!/usr/bin/env python3
"""Where L0's instructions go on one kind of exit (docs/benchmarks.md,
"Profiling L0's exit path").

Runs a benchmark configuration under QEMU TCG with -icount (a guest's TSC
delta is its instruction count, the unit of `make bench`) and QEMU's
execution log restricted to Nestor's text (-d exec,nochain,in_asm
-dfilter), then cuts the log into exit cycles -- from one entry into
svm_vmrun (the VMRUN stub) to the next -- and keeps the cycles in which a
marker function ran (e.g. cpuid_guest_view: a CPUID exit of L1;
nsvm_reflect_exit: an L2 exit given to L1; nsvm_vmrun_copy: L1's VMRUN).
For those it prints L0's instructions per cycle by function, averaged,
and the path of one cycle in execution order.

    python3 tools/exit_profile.py --marker cpuid_guest_view
    python3 tools/exit_profile.py --cfg nested-bench.cfg --guest nsvm_bench.elf --marker nsvm_reflect_exit

Instructions are counted per translation block (QEMU's in_asm gives each
block's instructions; with nochain every execution of a block is logged),
so a block left early by an exception would be over-counted: the exit
path takes none.  A REP string instruction counts once per block here but
once per iteration under -icount, so memset/memcpy look cheaper here than
in `make bench`.  The log takes 2-5 GB under build/profile/ while it is
read, and is deleted afterwards (--keep keeps it).  SVM only: Bochs has
no such log.
"""
import argparse
import bisect
import collections
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integ"))
import run  # noqa: E402  (the scenario runner: how QEMU boots Nestor)

ELF = os.path.join(ROOT, "build", "nestor.elf")
CYCLE_START = "svm_vmrun"


def text_symbols():
    """Sorted (address, name) of the kernel's functions."""
    out = subprocess.run(["nm", "-n", ELF], capture_output=True, text=True, check=True).stdout
    syms = []
    for line in out.splitlines():
        p = line.split()
        if len(p) == 3 and p[1] in "tTwW":
            syms.append((int(p[0], 16), p[2]))
    return syms


def run_qemu_logged(cfg, guests, log):
    sc = run.Scenario("profile", "qemu", "mb1", cfg=cfg, cpus=1, timeout=900,
                      modules=[os.path.join("build", "guests", g) for g in guests])
    d = os.path.join(run.WORK, "profile")
    serial = run.fresh_run_dir(d)
    cmd, _ = run.run_qemu(sc, d, serial)
    syms = text_symbols()
    lo, hi = syms[0][0], syms[-1][0] + 0x1000
    cmd += ["-icount", "shift=0,sleep=off", "-d", "exec,nochain,in_asm",
            "-dfilter", f"{lo:#x}+{hi - lo:#x}", "-D", log]
    subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=sc.timeout, cwd=d)
    return syms


def profile(log, syms, marker, skip, limit):
    addrs = [a for a, _ in syms]

    def name_of(pc):
        i = bisect.bisect_right(addrs, pc) - 1
        return syms[i][1] if i >= 0 else "?"

    names = {}                       # pc -> function (memoized)
    tb_size = {}                     # block start -> instructions
    totals = collections.Counter()   # function -> instructions, over kept cycles
    kept, seen, example = 0, 0, None
    cycle, block, n = [], None, 0
    with open(log, errors="replace") as fh:
        for line in fh:
            if line.startswith("IN:"):
                block, n = None, 0
                continue
            m = re.match(r"0x([0-9a-f]+):", line)
            if m:
                if block is None:
                    block = int(m.group(1), 16)
                n += 1
                tb_size[block] = n
                continue
            if not line.startswith("Trace"):
                continue
            pc = int(line.split("/")[1], 16)
            fn = names.get(pc) or names.setdefault(pc, name_of(pc))
            if fn == CYCLE_START and cycle and names[cycle[-1]] != CYCLE_START:
                if any(names[p] == marker for p in cycle):
                    seen += 1
                    if seen > skip:
                        kept += 1
                        for p in cycle:
                            totals[names[p]] += tb_size.get(p, 1)
                        if example is None:
                            example = cycle
                        if kept >= limit:
                            break
                cycle = []
            cycle.append(pc)
    return kept, totals, example, names, tb_size


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cfg", default="bench.cfg", help="a configuration in tests/integ/cfg")
    ap.add_argument("--guest", action="append", help="guest images in build/guests (default bench.elf)")
    ap.add_argument("--marker", required=True, help="a function that runs in the exits to profile")
    ap.add_argument("--skip", type=int, default=100, help="matching cycles skipped first (warm-up)")
    ap.add_argument("--cycles", type=int, default=300, help="matching cycles averaged")
    ap.add_argument("--keep", action="store_true", help="keep the execution log")
    a = ap.parse_args()
    if subprocess.run(["make", "-s", "all"], cwd=ROOT).returncode:
        return 1
    os.makedirs(os.path.join(run.BUILD, "profile"), exist_ok=True)
    log = os.path.join(run.BUILD, "profile", "exec.log")
    try:
        syms = run_qemu_logged(a.cfg, a.guest or ["bench.elf"], log)
        kept, totals, example, names, tb_size = profile(log, syms, a.marker, a.skip, a.cycles)
    finally:
        if not a.keep and os.path.exists(log):
            os.remove(log)
    if not kept:
        print(f"exit_profile: no exit cycle ran {a.marker} (past the first {a.skip})")
        return 1
    total = sum(totals.values()) / kept
    print(f"L0 instructions per exit cycle with {a.marker}: {total:.0f} (mean of {kept} cycles)")
    for fn, n in totals.most_common():
        if n / kept >= 1:
            print(f"  {n / kept:7.1f}  {100 * n / kept / total:5.1f}%  {fn}")
    path = []
    for pc in example:
        fn, s = names[pc], tb_size.get(pc, 1)
        if path and path[-1][0] == fn:
            path[-1][1] += s
        else:
            path.append([fn, s])
    print("one cycle, in order (function:instructions):")
    print("  " + " ".join(f"{fn}:{s}" for fn, s in path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
