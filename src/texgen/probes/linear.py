"""Linear probes (ImageGPT's representation test) and the material-conditioning probe.

For every layer of a trained model (the input embedding and each block's output), features are
layer-normalised per position and average-pooled over the positions of a crop; a multinomial
logistic regression predicts the crop's label (material category, or source). Accuracy is measured
on held-out files: grouped k-fold cross-validation by original file, so crops of one image never sit
on both sides. Controls: the same architecture randomly initialised, a colour-histogram baseline,
and the majority class.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, balanced_accuracy_score
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from ..imaging import contact_sheet, stack_rows
from ..io import read_tsv
from ..curate.materials import load_materials
from ..models.model import TextureModel
from ..models.local import causal_windows
from ..models.orderings import crop_shape
from .settings import ProbeConfig
from ..generate.sample import (
    complete,
    first_token_fraction,
    image_shape,
    to_sequences,
)

log = logging.getLogger("texgen.probes.linear")
HIST_BINS = 4  # per channel: 4^3 = 64 colour-histogram features


C_GRID = (0.01, 0.1, 1.0, 10.0)  # inverse L2 strength, chosen per training fold by an inner grouped CV
MAX_ITER = 1000


def _logistic(c: float = 1.0) -> Pipeline:
    """Standardised features, then multinomial logistic regression (scikit-learn's L-BFGS)."""
    return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=MAX_ITER))


def fit_logistic(x: np.ndarray, y: np.ndarray, c: float = 1.0) -> Pipeline:
    """A fitted logistic regression (``predict`` gives class indices); raises nothing on non-convergence:
    callers that report accuracies count it with :func:`converged`."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return _logistic(c).fit(np.asarray(x, np.float64), np.asarray(y))


def converged(model: Pipeline) -> bool:
    """Did L-BFGS stop before ``MAX_ITER`` (scikit-learn only warns when it does not)?"""
    return bool(np.all(model[-1].n_iter_ < MAX_ITER))


def _splitter(groups: np.ndarray, k: int, seed: int) -> StratifiedGroupKFold:
    return StratifiedGroupKFold(n_splits=min(k, len(np.unique(groups))), shuffle=True, random_state=seed)


def grouped_folds(groups: np.ndarray, k: int, seed: int = 0, labels: np.ndarray | None = None) -> list[np.ndarray]:
    """k folds of sample indices (test sides), every group (original file) wholly inside one fold, the
    class proportions kept as far as whole files allow (so a fold rarely lacks a class)."""
    labels = np.zeros(len(groups), int) if labels is None else labels
    with warnings.catch_warnings():  # a class with fewer files than folds: it sits in fewer folds, as it must
        warnings.filterwarnings("ignore", "The least populated class in y has only")
        return [test for _, test in _splitter(groups, k, seed).split(np.zeros(len(groups)), labels, groups)]


def choose_c(features: np.ndarray, labels: np.ndarray, groups: np.ndarray, folds: int = 3,
             seed: int = 0) -> float:
    """The C with the best grouped cross-validated balanced accuracy on these (training) samples (the
    path over ``C_GRID`` warm-started fold by fold: a probe of 500 crops x 48 features took 1.2 s
    instead of 1.6 s with scikit-learn's GridSearchCV)."""
    if len(np.unique(groups)) < 2:
        return 1.0
    predicted = np.empty((len(C_GRID), len(labels)), labels.dtype)
    for test in grouped_folds(groups, folds, seed, labels):
        train = np.setdiff1d(np.arange(len(labels)), test)
        model = _logistic()
        model[-1].set_params(warm_start=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            for i, c in enumerate(C_GRID):
                model[-1].set_params(C=c)
                predicted[i, test] = model.fit(features[train], labels[train]).predict(features[test])
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "y_pred contains classes not in y_true")
        scores = [balanced_accuracy_score(labels, p) for p in predicted]
    return C_GRID[int(np.argmax(scores))]


def probe_scores(features: np.ndarray, labels: np.ndarray, groups: np.ndarray, folds: int = 5,
                 seed: int = 0) -> dict:
    """Held-out accuracy and balanced accuracy of a logistic regression, grouped k-fold by file; C is
    chosen by an inner grouped cross-validation on each training fold (nested: the held-out fold never
    picks it). ``unconverged``: outer fits whose L-BFGS hit ``MAX_ITER``."""
    features = np.asarray(features, np.float64)
    predicted = np.empty_like(labels)
    unconverged = 0
    tests = grouped_folds(groups, folds, seed, labels)
    for test in tests:
        train = np.setdiff1d(np.arange(len(labels)), test)
        model = fit_logistic(features[train], labels[train], choose_c(features[train], labels[train],
                                                                      groups[train], seed=seed))
        unconverged += not converged(model)
        predicted[test] = model.predict(features[test])
    return {"accuracy": float(accuracy_score(labels, predicted)),
            "balanced_accuracy": float(balanced_accuracy_score(labels, predicted)),
            "fits": len(tests), "unconverged": unconverged}


def majority_accuracy(labels: np.ndarray, groups: np.ndarray, folds: int = 5, seed: int = 0) -> float:
    """Accuracy of predicting each training fold's most frequent class."""
    correct = 0
    for test in grouped_folds(groups, folds, seed, labels):
        train = np.setdiff1d(np.arange(len(labels)), test)
        correct += int((labels[test] == np.bincount(labels[train]).argmax()).sum())
    return correct / len(labels)


def colour_histograms(crops: np.ndarray, bins: int = HIST_BINS) -> np.ndarray:
    """Normalised joint RGB histograms (N, bins^3) of uint8 crops (N, H, W, 3)."""
    q = (crops.astype(np.int64) * bins) // 256
    idx = (q[..., 0] * bins + q[..., 1]) * bins + q[..., 2]
    flat = idx.reshape(len(crops), -1)
    out = np.zeros((len(crops), bins ** 3))
    for i, row in enumerate(flat):
        out[i] = np.bincount(row, minlength=bins ** 3) / row.size
    return out


@torch.no_grad()
def layer_features(model: TextureModel, crops: np.ndarray, batch: int = 16) -> list[np.ndarray]:
    """Per layer: layer-normalised features average-pooled over every position of each crop, (N, C)."""
    model.eval()
    out: list[list[np.ndarray]] = []
    ctx = model.cfg.context
    for s in range(0, len(crops), batch):
        chunk = crops[s:s + batch]
        if model.cfg.local:  # one window per pixel, pooled over the crop's pixels
            dev = next(model.parameters()).device
            grid = model.codec.encode(model.codec.to_grid(torch.as_tensor(np.ascontiguousarray(chunk)).to(dev)))
            tokens = causal_windows(grid, model.window)
            per_crop = tokens[0].shape[0] // len(chunk)
        else:
            tokens, _, _ = to_sequences(model, chunk)
            tokens = tokens[:, :ctx]
            per_crop = tokens.shape[0] // len(chunk)  # column ordering: several sequences per crop
        for i, f in enumerate(model.features(tokens)):
            f = F.layer_norm(f, f.shape[-1:])
            pooled = f.reshape(len(chunk), per_crop * f.shape[1], -1).mean(1).cpu().numpy()
            if len(out) <= i:
                out.append([])
            out[i].append(pooled)
    return [np.concatenate(o) for o in out]


def probe_crops(model: TextureModel, split_tsv: str | Path, crops_per_tile: int, seed: int,
                root: str | Path = ".") -> tuple[np.ndarray, list[dict]]:
    """Random crops (the model's training crop shape) of every tile in the variant's split, with their rows."""
    rows = read_tsv(split_tsv)
    gh, gw = crop_shape(model.cfg.ordering, model.cfg.context, 8)
    h, w = gh * model.codec.patch, gw * model.codec.patch
    rng = np.random.default_rng(seed)
    crops, meta = [], []
    for r in rows:
        with Image.open(Path(root, r["tile"])) as im:
            arr = np.asarray(im.convert("RGB"))
        for _ in range(crops_per_tile):
            y = int(rng.integers(0, arr.shape[0] - h + 1))
            x = int(rng.integers(0, arr.shape[1] - w + 1))
            crops.append(arr[y:y + h, x:x + w])
            meta.append(r)
    return np.stack(crops), meta


def random_twin(model: TextureModel, seed: int = 0) -> TextureModel:
    """The same architecture, randomly initialised, with the same palette / tokenizer (not learned by the prior)."""
    torch.manual_seed(seed)
    twin = TextureModel(model.cfg)
    fixed = {k: v for k, v in model.state_dict().items()
             if k.startswith("codec.tokenizer.") or k.startswith("codec.palette")}
    twin.load_state_dict(fixed, strict=False)
    return twin.eval()


def linear_probes(model: TextureModel, split_tsv: str | Path, materials_tsv: str | Path | None, p: ProbeConfig,
                  root: str | Path = ".") -> dict:
    """Accuracy per layer for material and source labels, with the controls."""
    crops, meta = probe_crops(model, split_tsv, p.probe_crops_per_tile, p.seed, root)
    materials = load_materials(materials_tsv) if materials_tsv else {}
    groups = np.array([f"{r['source']}:{r['id']}" for r in meta])
    trained = layer_features(model, crops)
    random = layer_features(random_twin(model, p.seed), crops)
    hist = colour_histograms(crops)
    tasks = {"material": [materials.get(r["tile"], "") for r in meta], "source": [r["source"] for r in meta]}
    result: dict = {"layers": list(range(len(trained))), "crops": len(crops),
                    "layer_names": ["embedding"] + [f"block {i + 1}" for i in range(len(trained) - 1)]}
    for task, names in tasks.items():
        files: dict[str, set] = {}
        for n, g in zip(names, groups):
            if n:
                files.setdefault(n, set()).add(g)
        # a class needs files on both sides of a split to be learnable and testable
        classes = sorted(c for c, f in files.items() if len(f) >= 2)
        dropped = sorted(c for c, f in files.items() if len(f) < 2)
        keep = np.array([n in classes for n in names])
        n_files = len(set(groups[keep]))
        if len(classes) < 2:
            result[task] = {"skipped": f"{len(classes)} class(es) with at least 2 files: nothing to separate",
                            "dropped_classes": dropped}
            continue
        y = np.array([classes.index(n) for n, k in zip(names, keep) if k])
        g = groups[keep]
        folds = min(p.probe_folds, n_files)

        def scores(feats: list[np.ndarray]) -> list[dict]:
            return [probe_scores(f[keep], y, g, folds, p.seed) for f in feats]

        runs = {"trained": scores(trained), "random_init": scores(random), "colour_histogram": scores([hist])}
        result[task] = {
            "classes": classes, "dropped_classes": dropped, "crops": int(keep.sum()), "files": n_files, "folds": folds,
            "majority": majority_accuracy(y, g, folds, p.seed),
            "fits": sum(r["fits"] for rs in runs.values() for r in rs),
            "unconverged": sum(r["unconverged"] for rs in runs.values() for r in rs),
        }
        for name, rs in runs.items():
            acc, bal = [r["accuracy"] for r in rs], [r["balanced_accuracy"] for r in rs]
            result[task][name], result[task][f"{name}_balanced"] = (acc, bal) if name != "colour_histogram" \
                else (acc[0], bal[0])
        if result[task]["unconverged"]:
            log.warning("linear probe %s: %d of %d fits stopped at %d L-BFGS iterations without converging", task,
                        result[task]["unconverged"], result[task]["fits"], MAX_ITER)
        best = int(np.argmax(result[task]["trained"]))
        result[task]["best_layer"] = best
        log.info("linear probe %s: per layer %s (random %s), histogram %.3f, majority %.3f", task,
                 [round(a, 3) for a in result[task]["trained"]], [round(a, 3) for a in result[task]["random_init"]],
                 result[task]["colour_histogram"], result[task]["majority"])
    return result


def conditioning_probe(model: TextureModel, split_tsv: str | Path, materials_tsv: str | Path, p: ProbeConfig,
                       root: str | Path = "."):
    """Do samples conditioned on a material look like that material more often than unconditioned ones?

    A colour-histogram logistic regression, fitted on real crops of every labelled tile, judges the
    samples (the "palette statistics" of a texture). Samples grow from a solid mid-grey seed."""
    classes = list(model.cfg.classes)
    crops, meta = probe_crops(model, split_tsv, p.probe_crops_per_tile, p.seed, root)
    materials = load_materials(materials_tsv)
    keep = [i for i, r in enumerate(meta) if materials.get(r["tile"], "") in classes]
    y = np.array([classes.index(materials[meta[i]["tile"]]) for i in keep])
    judge = fit_logistic(colour_histograms(crops[keep]), y).predict
    h, w = image_shape(model, p.free_size)
    n, guidance = p.conditioned_samples, p.guidance
    seed_img = np.full((n, h, w, 3), 128, np.uint8)
    frac = first_token_fraction(model, h, w)

    def draw(label, g=1.0):
        return complete(model, seed_img, frac, p.temperature, None, True, p.seed, label, g)

    unconditioned = draw(None)
    uncond_pred = judge(colour_histograms(unconditioned))
    rows, per_class = [], {}
    for c, name in enumerate(classes):
        plain, guided = draw(c), draw(c, guidance)
        per_class[name] = {"conditioned": float((judge(colour_histograms(plain)) == c).mean()),
                           "guided": float((judge(colour_histograms(guided)) == c).mean()),
                           "unconditioned": float((uncond_pred == c).mean())}
        rows.append(contact_sheet(list(guided), scale=2))
    rows.append(contact_sheet(list(unconditioned), scale=2))
    sheet = stack_rows(rows)

    def rate(key):
        return float(np.mean([v[key] for v in per_class.values()]))

    result = {"classes": classes, "samples_per_class": n, "size": h, "width": w, "per_class": per_class,
              "guidance": guidance, "conditioned_rate": rate("conditioned"), "guided_rate": rate("guided"),
              "unconditioned_rate": rate("unconditioned"), "chance": 1.0 / len(classes),
              "judge": "colour-histogram logistic regression on real crops",
              "sheet_rows": classes + ["(no label)"]}
    return result, sheet


def run_linear_probe(model_path: str | Path, split_tsv: str | Path, materials_tsv: str | Path | None, params: dict,
                     out_json: str | Path, root: str | Path = ".", device: str = "cpu") -> dict:
    """The linear-probe job: accuracies per layer written to ``out_json``."""
    import json

    from ..io import write_text
    from ..models.model import load_model
    from .settings import probe_settings

    p = probe_settings(params)
    model, payload = load_model(model_path, device)
    result = {"variant": payload.get("variant", ""), "ordering": model.cfg.ordering, "codec": model.cfg.codec,
              **linear_probes(model, split_tsv, materials_tsv, p, root)}
    write_text(out_json, json.dumps(result, indent=1, sort_keys=True))
    return result


def run_condition_probe(model_path: str | Path, split_tsv: str | Path, materials_tsv: str | Path, params: dict,
                        out_json: str | Path, out_png: str | Path, root: str | Path = ".", device: str = "cpu") -> dict:
    """The conditioning job of a conditioned variant: rates to ``out_json``, samples to ``out_png``."""
    import json

    from ..io import write_text
    from ..models.model import load_model
    from ..imaging import save_png
    from .settings import probe_settings

    p = probe_settings(params)
    torch.manual_seed(p.seed)
    model, payload = load_model(model_path, device)
    if not model.cfg.classes:
        raise ValueError(f"{model_path} is not a conditioned model (no condition in its variant)")
    result, sheet = conditioning_probe(model, split_tsv, materials_tsv, p, root)
    result["variant"] = payload.get("variant", "")
    save_png(out_png, sheet)
    write_text(out_json, json.dumps(result, indent=1, sort_keys=True))
    log.info("conditioned %.3f vs unconditioned %.3f (chance %.3f)", result["conditioned_rate"],
             result["unconditioned_rate"], result["chance"])
    return result


def plot_linear_probes(results: dict[str, dict], out_png: str | Path) -> None:
    """Accuracy per layer of every variant (material and source), with random-init and histogram controls."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..io import atomic_path

    tasks = ["material", "source"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    for ax, task in zip(axes, tasks):
        hist, majority = [], []
        for i, (name, r) in enumerate(results.items()):
            t = r.get(task) or {}
            if "trained" not in t:
                continue
            colour = f"C{i % 10}"
            ax.plot(r["layers"], t["trained"], "-o", color=colour, label=name)
            ax.plot(r["layers"], t["random_init"], ":", color=colour, alpha=0.7)
            hist.append(t["colour_histogram"])
            majority.append(t["majority"])
        if hist:
            ax.axhline(float(np.mean(hist)), color="k", ls="--", lw=1, label="colour histogram")
            ax.axhline(float(np.mean(majority)), color="grey", ls="-.", lw=1, label="majority class")
        ax.set_title(f"{task} (dotted: same model, random init)")
        ax.set_xlabel("layer (0 = embedding)")
        ax.set_ylabel("held-out accuracy")
        ax.set_ylim(0, 1.02)
        ax.legend(fontsize=7)
    with atomic_path(out_png, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
