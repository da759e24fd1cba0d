#!/usr/bin/env python3
"""The summary of `make bench` (docs/benchmarks.md, "The table"):

    report(results, outdir)

takes the (name, value, unit) figures behind the `BENCH <name> <value>
<unit>` lines, prints one table, operation x level x vendor, with the
instructions per operation (QEMU -icount for SVM, Bochs for VMX), the L0
exits per operation and the wall-clock ns where measured, and writes

    outdir/bench.csv   one row per (vendor, level, operation, variant)
    outdir/bench.svg   grouped bars: instructions per operation, L1 vs L2,
                       SVM vs VMX, on a log scale

Only the standard library: the SVG is written by hand.  Run on its own,
`tools/bench_report.py FILE [OUTDIR]` reads BENCH lines from FILE (e.g. a
saved `make bench` output) and does the same.
"""
import csv
import math
import os
import re
import sys

# <vendor>_<level>_<operation>[<variant>]_<metric>
NAME_RE = re.compile(r"^(svm|vmx)_(l\d)_(\w+?)(_noshadow|_traced)?_"
                     r"(insns|ticks|l0_exits|ns|per_s|l1_vmreads|l1_vmwrites)$")
# The same operation under another name at L2 (the hypercall instruction
# differs by vendor): one row in the table.
SAME_OP = {"vmmcall_by_l1": "hypercall_by_l1", "vmcall_by_l1": "hypercall_by_l1"}
# Plot groups: which operation stands for which L1 operation at L2.
PLOT_GROUPS = [
    ("cpuid", {"l1": "cpuid", "l2": "cpuid_by_l1"}),
    ("hypercall", {"l1": "hypercall", "l2": "hypercall_by_l1"}),
    ("cpuid_by_l0", {"l2": "cpuid_by_l0"}),
    ("pio", {"l1": "pio", "l2": "pio_by_l0"}),
    ("mmio", {"l1": "mmio", "l2": "mmio_by_l0"}),
    ("rdmsr", {"l1": "rdmsr", "l2": "rdmsr_by_l0"}),
    ("first_touch", {"l1": "first_touch", "l2": "first_touch"}),
    ("hlt_timer", {"l1": "hlt_timer", "l2": "hlt_timer_by_l0"}),
    ("ipi", {"l1": "ipi", "l2": "ipi_by_l0"}),
]
SERIES = [("svm", "l1", "#9ecae1"), ("svm", "l2", "#2171b5"), ("vmx", "l1", "#fdae6b"), ("vmx", "l2", "#d94801")]


def collect(results):
    """figures -> {(vendor, level, op, variant): {metric: value}}, in order.
    Figures per request (virtio-blk: `_insns_per_req`, ...) or per frame
    (virtio-net: `_insns_per_frame`, ...) become rows with the variant
    "per_req" / "per_frame"; the other such figures are left out."""
    rows = {}
    for name, value, _unit in results:
        per = next((p for p in ("_per_req", "_per_frame") if name.endswith(
            (f"_insns{p}", f"_l0_exits{p}", f"_ns{p}"))), None)
        m = NAME_RE.match(name[:-len(per)] if per else name)
        if not m or "_split_" in name or name.endswith(("_reqs_per_s", "_frames_per_s", "_irqs_per_req", "_bytes_per_exit")):
            continue
        vendor, level, op, variant, metric = m.groups()
        if per:
            variant = per.lstrip("_")
        op = SAME_OP.get(op, op)
        rows.setdefault((vendor, level, op, (variant or "").lstrip("_")), {})[metric] = value
    return rows


def _num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _fmt(v, decimals=0):
    x = _num(v)
    if x is None:
        return ""
    return f"{x:,.{decimals}f}"


def table(rows):
    """The text table: one line per (level, operation, variant)."""
    keys = []
    for vendor, level, op, variant in rows:
        if (level, op, variant) not in keys:
            keys.append((level, op, variant))
    keys.sort(key=lambda k: (k[0], k[2] != "", ))  # L1 then L2; variants after
    head = (f"{'level':<5} {'operation':<28} {'SVM insns':>10} {'exits':>6} {'wall ns':>8}   "
            f"{'VMX insns':>10} {'exits':>6}")
    out = ["", "operation x level x vendor: instructions per operation (SVM: QEMU TCG -icount;",
           "VMX: Bochs), L0 exits per operation, SVM wall-clock ns (QEMU without icount)", head,
           "-" * len(head)]
    ticks_note = False
    for level, op, variant in keys:
        label = op + (f" ({variant})" if variant else "")
        cells = []
        for vendor in ("svm", "vmx"):
            f = rows.get((vendor, level, op, variant), {})
            ins = f.get("insns")
            mark = ""
            if ins is None and "ticks" in f:
                ins, mark, ticks_note = f["ticks"], "*", True
            cells.append((_fmt(ins) + mark, _fmt(f.get("l0_exits"), 2), _fmt(f.get("ns"))))
        (si, se, sn), (vi, ve, _) = cells
        out.append(f"{level.upper():<5} {label:<28} {si:>10} {se:>6} {sn:>8}   {vi:>10} {ve:>6}")
    if ticks_note:
        out.append("* TSC ticks, not instructions: includes idle time the emulator skips")
    out.append("")
    return "\n".join(out)


def write_csv(rows, path):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["vendor", "level", "operation", "variant", "instructions", "ticks", "l0_exits",
                    "wall_ns", "l1_vmreads", "l1_vmwrites", "platform"])
        for (vendor, level, op, variant), f in rows.items():
            w.writerow([vendor, level, op, variant, f.get("insns", ""), f.get("ticks", ""),
                        f.get("l0_exits", ""), f.get("ns", ""), f.get("l1_vmreads", ""),
                        f.get("l1_vmwrites", ""), "qemu-tcg" if vendor == "svm" else "bochs"])


def _esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def write_svg(rows, path):
    """Grouped bars (log scale): per operation, SVM L1/L2 and VMX L1/L2."""
    groups = []
    for label, by_level in PLOT_GROUPS:
        vals = []
        for vendor, level, _color in SERIES:
            op = by_level.get(level)
            v = _num(rows.get((vendor, level, op, ""), {}).get("insns")) if op else None
            vals.append(v if v and v > 0 else None)
        if any(vals):
            groups.append((label, by_level, vals))
    W, H = 1000, 480
    left, right, top, bottom = 70, 20, 50, 110
    pw, ph = W - left - right, H - top - bottom
    vmax = max([v for _, _, vals in groups for v in vals if v] + [10])
    dec_hi = math.ceil(math.log10(vmax))
    dec_lo = 0

    def y(v):
        return top + ph - (math.log10(v) - dec_lo) / (dec_hi - dec_lo) * ph

    s = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
         f'font-family="sans-serif" font-size="11">',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<text x="{W / 2}" y="20" text-anchor="middle" font-size="15">Nestor make bench: instructions per '
         f'operation (log scale)</text>',
         f'<text x="{W / 2}" y="37" text-anchor="middle" fill="#555">SVM: QEMU TCG -icount; VMX: Bochs. '
         f'L2 bars: the L2 operation of the same kind (axis labels)</text>']
    for d in range(dec_lo, dec_hi + 1):
        yy = y(10 ** d)
        s.append(f'<line x1="{left}" x2="{left + pw}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#ddd"/>')
        s.append(f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end">{10 ** d:,}</text>')
    s.append(f'<line x1="{left}" x2="{left}" y1="{top}" y2="{top + ph}" stroke="#333"/>')
    s.append(f'<text x="16" y="{top + ph / 2}" transform="rotate(-90 16 {top + ph / 2})" '
             f'text-anchor="middle">instructions per operation</text>')
    gw = pw / max(len(groups), 1)
    bw = gw * 0.8 / len(SERIES)
    for gi, (label, by_level, vals) in enumerate(groups):
        x0 = left + gi * gw + gw * 0.1
        for si, v in enumerate(vals):
            if not v:
                continue
            x = x0 + si * bw
            yy = y(max(v, 1))
            s.append(f'<rect x="{x:.1f}" y="{yy:.1f}" width="{bw - 1:.1f}" height="{top + ph - yy:.1f}" '
                     f'fill="{SERIES[si][2]}"><title>{SERIES[si][0]} {SERIES[si][1]} '
                     f'{_esc(by_level.get(SERIES[si][1], ""))}: {v:,.0f}</title></rect>')
            s.append(f'<text x="{x + bw / 2:.1f}" y="{yy - 3:.1f}" text-anchor="middle" font-size="9">'
                     f'{v:,.0f}</text>')
        cx = left + gi * gw + gw / 2
        s.append(f'<text x="{cx:.1f}" y="{top + ph + 16}" text-anchor="middle" font-size="12">{_esc(label)}</text>')
        if "l2" in by_level and by_level["l2"] != label:
            s.append(f'<text x="{cx:.1f}" y="{top + ph + 30}" text-anchor="middle" fill="#555" font-size="9">'
                     f'L2: {_esc(by_level["l2"])}</text>')
    lx = left
    for vendor, level, color in SERIES:
        s.append(f'<rect x="{lx}" y="{H - 30}" width="14" height="14" fill="{color}"/>')
        s.append(f'<text x="{lx + 20}" y="{H - 19}">{vendor.upper()} {level.upper()}</text>')
        lx += 110
    s.append("</svg>")
    with open(path, "w") as fh:
        fh.write("\n".join(s) + "\n")


def report(results, outdir):
    rows = collect(results)
    if not rows:
        return
    print(table(rows))
    os.makedirs(outdir, exist_ok=True)
    write_csv(rows, os.path.join(outdir, "bench.csv"))
    write_svg(rows, os.path.join(outdir, "bench.svg"))
    print(f"bench: table written to {os.path.join(outdir, 'bench.csv')}, plot to {os.path.join(outdir, 'bench.svg')}")


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    figures = re.findall(r"^BENCH (\S+) (\S+) (\S+)", open(sys.argv[1]).read(), re.M)
    report(figures, sys.argv[2] if len(sys.argv) == 3 else os.path.join("build", "bench"))
