#!/usr/bin/env python3
"""Draws bench/results/sweep.csv (from `bench/compare.sh --sweep`) as an SVG:
epoch time against batch size, log2 x-axis, one curve per implementation.
Plain Python, no plotting library.

    python3 bench/plot_sweep.py bench/results/sweep.csv bench/results/sweep.svg [PEER_LABEL]
"""
import csv
import math
import sys

W, H = 640, 400
LEFT, RIGHT, TOP, BOTTOM = 70, 25, 40, 55
SERIES = [("libnn_epoch_s", "libnn", "#1f77b4"), ("pytorch_epoch_s", "PyTorch", "#d62728")]


def nice_ceiling(v):
    """Smallest round number (1, 1.2, 1.5, 2, ... times a power of ten) >= v."""
    if v <= 0:
        return 1.0
    p = 10 ** math.floor(math.log10(v))
    for m in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if m * p >= v * (1 - 1e-9):
            return m * p
    return 10 * p


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit("usage: plot_sweep.py SWEEP.csv OUT.svg [PEER_LABEL]")
    series = list(SERIES)
    if len(sys.argv) == 4:
        key, _, colour = series[1]
        series[1] = (key, sys.argv[3], colour)
    with open(sys.argv[1], newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        sys.exit("plot_sweep.py: no rows in " + sys.argv[1])
    batches = [int(r["batch"]) for r in rows]
    threads = rows[0].get("threads", "")
    curves = []
    for key, name, colour in series:
        pts = [(int(r["batch"]), float(r[key])) for r in rows if r.get(key, "").strip()]
        if pts:
            curves.append((name, colour, pts))
    ymax = nice_ceiling(max(y for _, _, pts in curves for _, y in pts))
    xlo, xhi = math.log2(min(batches)), math.log2(max(batches))
    if xhi == xlo:
        xlo, xhi = xlo - 1, xhi + 1
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM

    def px(b):
        return LEFT + (math.log2(b) - xlo) / (xhi - xlo) * pw

    def py(y):
        return TOP + ph - y / ymax * ph

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
           f'viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{LEFT + pw / 2}" y="22" text-anchor="middle" font-size="14">'
           f'Epoch time vs batch size (Fashion-MNIST, 784-512-10, Adam'
           f'{", " + esc(threads) + " threads" if threads else ""})</text>']
    for k in range(6):  # horizontal grid and y ticks
        y = ymax * k / 5
        out.append(f'<line x1="{LEFT}" y1="{py(y):.1f}" x2="{LEFT + pw}" y2="{py(y):.1f}" '
                   f'stroke="#ddd"/>')
        out.append(f'<text x="{LEFT - 6}" y="{py(y) + 4:.1f}" text-anchor="end">{y:g}</text>')
    for b in batches:  # vertical grid and x ticks, one per measured batch size
        out.append(f'<line x1="{px(b):.1f}" y1="{TOP}" x2="{px(b):.1f}" y2="{TOP + ph}" '
                   f'stroke="#eee"/>')
        out.append(f'<text x="{px(b):.1f}" y="{TOP + ph + 16}" text-anchor="middle">{b}</text>')
    out.append(f'<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>')
    out.append(f'<text x="{LEFT + pw / 2}" y="{H - 14}" text-anchor="middle">'
               f'batch size (log2 scale)</text>')
    out.append(f'<text transform="translate(18 {TOP + ph / 2}) rotate(-90)" '
               f'text-anchor="middle">epoch time (s, 60,000 images)</text>')
    for name, colour, pts in curves:
        path = " ".join(f"{px(b):.1f},{py(y):.1f}" for b, y in pts)
        out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for b, y in pts:
            out.append(f'<circle cx="{px(b):.1f}" cy="{py(y):.1f}" r="3.5" fill="{colour}">'
                       f'<title>{esc(name)}, batch {b}: {y:.3f} s</title></circle>')
    # Legend: top right, inside the plot (the curves fall towards the right).
    partial = [r["batch"] for r in rows if float(r.get("timed_fraction") or 1) < 1]
    notes = []
    if partial:  # say which points are extrapolated from part of an epoch
        fr = float(rows[batches.index(int(partial[0]))]["timed_fraction"])
        notes = [f"batch {', '.join(partial)}: {fr:g} of an epoch", "timed, scaled to a full one"]
    chars = max([len(n) + 5 for n, _, _ in curves] + [len(n) for n in notes])
    bw, bh = 6.5 * chars + 16, 20 * len(curves) + 13 * len(notes) + 14
    bx, by = LEFT + pw - bw - 10, TOP + 10
    out.append(f'<rect x="{bx:.1f}" y="{by}" width="{bw:.1f}" height="{bh}" fill="white" '
               f'stroke="#999"/>')
    for i, (name, colour, _) in enumerate(curves):
        x, y = bx + 8, by + 15 + 20 * i
        out.append(f'<line x1="{x:.1f}" y1="{y}" x2="{x + 24:.1f}" y2="{y}" stroke="{colour}" '
                   f'stroke-width="2"/>')
        out.append(f'<circle cx="{x + 12:.1f}" cy="{y}" r="3.5" fill="{colour}"/>')
        out.append(f'<text x="{x + 30:.1f}" y="{y + 4}">{esc(name)}</text>')
    for j, line in enumerate(notes):
        out.append(f'<text x="{bx + 8:.1f}" y="{by + 20 * len(curves) + 16 + 13 * j}" '
                   f'font-size="10" fill="#555">{esc(line)}</text>')
    out.append("</svg>")
    with open(sys.argv[2], "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
