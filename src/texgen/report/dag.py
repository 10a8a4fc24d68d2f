"""Render Snakemake's ``--rulegraph`` DOT output as a small layered SVG (no graphviz needed)."""

from __future__ import annotations

import html
import re


def parse_rulegraph(dot: str) -> tuple[dict[str, str], list[tuple[str, str]]]:
    nodes = dict(re.findall(r'^\s*(\d+)\[label = "([^"]+)"', dot, re.M))
    edges = re.findall(r"^\s*(\d+) -> (\d+)", dot, re.M)
    return nodes, edges


def rulegraph_svg(dot: str) -> str:
    """Nodes in layers by longest path from the sources; edges as straight lines."""
    nodes, edges = parse_rulegraph(dot)
    if not nodes:
        return "<p>No rule graph available.</p>"
    preds: dict[str, list[str]] = {n: [] for n in nodes}
    for a, b in edges:
        preds.setdefault(b, []).append(a)
    layer: dict[str, int] = {}

    def depth(n: str, seen=()) -> int:
        if n in layer:
            return layer[n]
        if n in seen:
            return 0
        layer[n] = 1 + max((depth(p, seen + (n,)) for p in preds.get(n, [])), default=-1)
        return layer[n]

    for n in nodes:
        depth(n)
    columns: dict[int, list[str]] = {}
    for n in sorted(nodes, key=lambda k: (layer[k], nodes[k])):
        columns.setdefault(layer[n], []).append(n)
    box_w, box_h, gap_x, gap_y = 130, 26, 40, 14
    pos = {}
    for col, members in columns.items():
        for row, n in enumerate(members):
            pos[n] = (10 + col * (box_w + gap_x), 10 + row * (box_h + gap_y))
    width = 20 + (max(columns) + 1) * (box_w + gap_x)
    height = 20 + max(len(m) for m in columns.values()) * (box_h + gap_y)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">']
    for a, b in edges:
        (x1, y1), (x2, y2) = pos[a], pos[b]
        parts.append(f'<line x1="{x1 + box_w}" y1="{y1 + box_h / 2}" x2="{x2}" y2="{y2 + box_h / 2}" '
                     f'stroke="#999" stroke-width="1.2"/>')
    for n, (x, y) in pos.items():
        parts.append(f'<rect x="{x}" y="{y}" width="{box_w}" height="{box_h}" rx="6" fill="#eef4fb" '
                     f'stroke="#4a78a8"/><text x="{x + box_w / 2}" y="{y + box_h / 2 + 4}" '
                     f'text-anchor="middle">{html.escape(nodes[n])}</text>')
    parts.append("</svg>")
    return "".join(parts)
