"""Contact sheet per source (``results/review/{source}.html``): thumbnails, ids, decisions."""

from __future__ import annotations

import html
from collections import Counter
from pathlib import Path

from ..io import read_tsv, write_text

_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
.grid{display:flex;flex-wrap:wrap;gap:10px}
figure{margin:0;width:150px;font-size:11px;border:1px solid #ccc;padding:4px;background:#fafafa}
figure.kept{border-color:#2a2}
figure.rejected{border-color:#c33;background:#fff4f4}
figure img{width:140px;height:140px;object-fit:contain;background:#ddd;display:block}
.noimg{width:140px;height:140px;display:flex;align-items:center;justify-content:center;background:#eee;color:#888}
code{font-size:11px}
figcaption{word-break:break-all}
"""


def write_contact_sheet(source: str, manifest_tsv: str | Path, scan_tsv: str | Path, thumbs_rel: str,
                        review_file: str, out_html: str | Path) -> None:
    """Render the review page of ``source`` from its scan (thumbnails) and manifest (decisions)."""
    scan = {r["id"]: r for r in read_tsv(scan_tsv)}
    rows = read_tsv(manifest_tsv)
    counts = Counter(r["status"] for r in rows)
    by_stage = Counter(r["stage"] or "-" for r in rows if r["status"] == "rejected")
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>Review: {html.escape(source)}</title>",
             f"<style>{_STYLE}</style></head><body>",
             f"<h1>Review of source <code>{html.escape(source)}</code></h1>",
             f"<p>{len(rows)} files: {counts.get('kept', 0)} kept, {counts.get('rejected', 0)} rejected "
             f"({', '.join(f'{k}: {v}' for k, v in sorted(by_stage.items())) or 'none'}).</p>",
             "<p>To override a decision add a line <code>id&lt;TAB&gt;keep|reject&lt;TAB&gt;note</code> to "
             f"<code>{html.escape(review_file)}</code>; only this source's later steps rerun.</p>"]
    for status in ("kept", "rejected"):
        group = [r for r in rows if r["status"] == status]
        parts.append(f"<h2>{status.capitalize()} ({len(group)})</h2><div class='grid'>")
        for r in sorted(group, key=lambda r: (r["stage"], r["origin"])):
            thumb = scan.get(r["id"], {}).get("thumb")
            img = (f"<img loading='lazy' src='{html.escape(thumbs_rel)}/{html.escape(thumb)}' alt=''>" if thumb
                   else "<div class='noimg'>no preview</div>")
            auto = scan.get(r["id"], {}).get("reason") or "passes"
            parts.append(
                f"<figure class='{status}'>{img}<figcaption><code>{html.escape(r['id'])}</code><br>"
                f"{html.escape(r['origin'])}<br>{html.escape(r['width'] or '?')}×{html.escape(r['height'] or '?')}"
                f"<br><b>auto:</b> {html.escape(auto)}<br><b>final:</b> {html.escape(r['reason'] or 'kept')}"
                "</figcaption></figure>")
        parts.append("</div>")
    parts.append("</body></html>")
    write_text(out_html, "\n".join(parts))
