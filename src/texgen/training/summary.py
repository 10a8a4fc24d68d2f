"""A trained variant's small summary (facts without weights) and its loss-curve figure, for the report."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from ..io import atomic_path, read_tsv, write_text  # noqa: E402

FACTS = ("variant", "step", "best_val_loss", "best_step", "baseline_val_loss", "n_params", "train_seconds",
         "pixels_per_s", "device", "gpus", "train_tiles", "val_tiles", "spec")


def summarise_model(model_pt: str | Path, metrics_tsv: str | Path, out_json: str | Path, out_png: str | Path,
                    name: str) -> dict:
    payload = torch.load(model_pt, map_location="cpu", weights_only=True)
    summary = {k: payload.get(k) for k in FACTS}
    summary["config"] = payload["config"]
    spec = json.loads(summary.pop("spec") or "{}")
    summary["train"] = spec.get("train", {})
    summary["data"] = spec.get("data", {})
    write_text(out_json, json.dumps(summary, indent=1, sort_keys=True))
    rows = read_tsv(metrics_tsv)
    fig, ax = plt.subplots(figsize=(5.5, 3.2), dpi=110)
    ax.plot([int(r["step"]) for r in rows], [float(r["train_loss"]) for r in rows], lw=1, label="train")
    val = [(int(r["step"]), float(r["val_loss"])) for r in rows if r["val_loss"]]
    if val:
        ax.plot(*zip(*val), "o-", ms=3, label="validation")
    ax.axhline(summary["baseline_val_loss"], color="0.5", ls="--", lw=1, label="predict the mean")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(f"{name}: loss curve", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(out_png, suffix=".png") as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return summary
