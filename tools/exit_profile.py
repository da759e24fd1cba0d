#!/usr/bin/env python3
"""Where L0's instructions go on one kind of exit (docs/benchmarks.md,
"Profiling L0's exit path").

On QEMU (SVM): runs a benchmark configuration under QEMU TCG with -icount (a guest's TSC
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
read, and is deleted afterwards (--keep keeps it).

On Bochs (VMX, --bochs): a breakpoint on the marker function, continued
past --skip hits, then Bochs's debugger traces every instruction until
the next hit: one cycle from the marker round to the marker again
(e.g. vmcs02_exit_to_vmcs12: an L2 exit given to L1, L1's handler, its
VMRESUME, L2 until its next exit).  Instructions are exact (one line
each); those in VMX non-root operation (from VMLAUNCH/VMRESUME to the
exit's host RIP, vmx_exit) are counted as GUEST.

    python3 tools/exit_profile.py --bochs --cfg nested-vmx-bench.cfg --guest nvmx_bench.elf \
        --marker vmcs02_exit_to_vmcs12
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


def bochs_trace(cfg, guests, marker, skip, out):
    """One traced cycle between two hits of marker, Bochs's debugger lines in out."""
    syms = text_symbols()
    addr = [a for a, n in syms if n == marker]
    if len(addr) != 1:
        raise SystemExit(f"exit_profile: {len(addr)} functions named {marker}: need exactly one")
    sc = run.Scenario("profile", "bochs", "mb2", cfg=cfg, cpus=1, timeout=900,
                      modules=[os.path.join("build", "guests", g) for g in guests])
    d = os.path.join(run.WORK, "profile-bochs")
    serial = run.fresh_run_dir(d)
    cmd, _ = run.run_bochs(sc, d, serial)
    with open(os.path.join(d, "bochs.rc"), "w") as fh:     # instead of run_bochs's "c, quit"
        fh.write(f"lb {addr[0]:#x}\n" + "c\n" * skip + "trace on\nc\ntrace off\nquit\n")
    with open(out, "wb") as fh:
        subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=fh, stderr=subprocess.STDOUT,
                       timeout=sc.timeout, cwd=d)
    return syms, addr[0]


def bochs_cycle(out, syms, start):
    """The traced cycle: the function (or GUEST) of each instruction."""
    addrs = [a for a, _ in syms]
    host_rip = next(a for a, n in syms if n == "vmx_exit")
    cycle, in_guest, names = None, False, {}
    with open(out, errors="replace") as fh:
        for line in fh:
            m = re.match(r"\(0\)\.\[\d+\] \[0x[0-9a-f]+\] [0-9a-f]{4}:([0-9a-f]+) \(unk\. ctxt\): (\S+)", line)
            if not m:
                continue
            pc, mnemonic = int(m.group(1), 16), m.group(2)
            if not in_guest and pc == start:
                if cycle is not None:
                    break                     # the next hit: the cycle is complete
                cycle = []
            if cycle is None:
                continue
            if in_guest and pc == host_rip:
                in_guest = False
            if in_guest:
                cycle.append("GUEST")
            else:
                if pc not in names:
                    names[pc] = syms[bisect.bisect_right(addrs, pc) - 1][1]
                cycle.append(names[pc])
                if mnemonic in ("vmlaunch", "vmresume"):
                    in_guest = True
    return cycle or []


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


def print_path(path_names, sizes=None):
    path = []
    for i, fn in enumerate(path_names):
        n = sizes[i] if sizes else 1
        if path and path[-1][0] == fn:
            path[-1][1] += n
        else:
            path.append([fn, n])
    print("one cycle, in order (function:instructions):")
    print("  " + " ".join(f"{fn}:{n}" for fn, n in path))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cfg", default="bench.cfg", help="a configuration in tests/integ/cfg")
    ap.add_argument("--guest", action="append", help="guest images in build/guests (default bench.elf)")
    ap.add_argument("--marker", required=True, help="a function that runs in the exits to profile")
    ap.add_argument("--skip", type=int, default=None,
                    help="matching cycles (QEMU) or marker hits (Bochs) skipped first (100 / 3000)")
    ap.add_argument("--cycles", type=int, default=300, help="matching cycles averaged (QEMU)")
    ap.add_argument("--bochs", action="store_true", help="Bochs (VMX): trace one cycle with its debugger")
    ap.add_argument("--keep", action="store_true", help="keep the execution log")
    a = ap.parse_args()
    if subprocess.run(["make", "-s", "all"], cwd=ROOT).returncode:
        return 1
    os.makedirs(os.path.join(run.BUILD, "profile"), exist_ok=True)
    log = os.path.join(run.BUILD, "profile", "bochs-trace.txt" if a.bochs else "exec.log")
    guests = a.guest or ["bench.elf"]
    try:
        if a.bochs:
            syms, start = bochs_trace(a.cfg, guests, a.marker, 3000 if a.skip is None else a.skip, log)
            cycle = bochs_cycle(log, syms, start)
            if not cycle:
                print(f"exit_profile: {a.marker} was not reached {3000 if a.skip is None else a.skip} + 2 times")
                return 1
            totals = collections.Counter(cycle)
            l0 = len(cycle) - totals["GUEST"]
            print(f"one cycle from {a.marker} to {a.marker}: {l0} L0 instructions, {totals['GUEST']} in the guests")
            for fn, n in totals.most_common():
                print(f"  {n:7d}  {100 * n / len(cycle):5.1f}%  {fn}")
            print_path(cycle)
            return 0
        syms = run_qemu_logged(a.cfg, guests, log)
        kept, totals, example, names, tb_size = profile(log, syms, a.marker,
                                                        100 if a.skip is None else a.skip, a.cycles)
    finally:
        if not a.keep and os.path.exists(log):
            os.remove(log)
    if not kept:
        print(f"exit_profile: no exit cycle ran {a.marker}")
        return 1
    total = sum(totals.values()) / kept
    print(f"L0 instructions per exit cycle with {a.marker}: {total:.0f} (mean of {kept} cycles)")
    for fn, n in totals.most_common():
        if n / kept >= 1:
            print(f"  {n / kept:7.1f}  {100 * n / kept / total:5.1f}%  {fn}")
    print_path([names[pc] for pc in example], [tb_size.get(pc, 1) for pc in example])
    return 0


if __name__ == "__main__":
    sys.exit(main())
