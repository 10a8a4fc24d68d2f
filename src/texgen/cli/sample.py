"""``texgen sample``: grow or complete a texture from a trained model (the user's command)."""

from __future__ import annotations

from ..progress import progress_bar
from .base import DEVICE, arg, command, device


def _read_seed_image(path: str):
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except (OSError, UnidentifiedImageError) as exc:
        raise SystemExit(f"error: cannot read seed image {path}: {exc}") from None


@command("sample", "generate a texture from a trained model",
         arg("--model", required=True, help="results/models/{variant}/model.pt"),
         arg("--out", required=True, help="PNG to write"),
         arg("--height", type=int, default=64),
         arg("--width", type=int, default=None, help="default 64; raster models: their crop width"),
         arg("--size", type=int, default=None, help="height and width at once (any size: local models)"),
         arg("--tileable", choices=["x", "y", "xy"], default=None,
             help="local models: wrap around the canvas so the texture tiles along x, y or both"),
         arg("--closing-band", type=int, default=None,
             help="with --tileable: pixels on each side of each seam generated again once the texture is "
                  "done, with the seam in the middle (default: three window reaches; 0 = off)"),
         arg("--adapt-steps", type=int, default=None,
             help="local models: test-time training steps on the seed (default: the model's own)"),
         arg("--border-cost", type=float, default=None,
             help="match models: extra cost of a seed pixel whose window leaves the seed, set before test-time "
                  "training (default: the model's own; 0 = off; see docs/results.md 'A border prior')"),
         arg("--sharpness", type=float, default=None,
             help="match models: multiplies the window distance's sharpness before test-time training "
                  "(default: the model's own; 1 = off)"),
         arg("--edge-cost", type=float, default=None,
             help="match models: added to a seed pixel's window distance per share of its window outside the "
                  "seed (default: the model's own; 0 = off; see docs/results.md 'An edge prior')"),
         DEVICE,
         arg("--seed-image", default=None,
             help="image whose seed part is kept (local models: the whole image, grown from the top-left)"),
         arg("--colour", default="128,128,128", help="solid seed colour R,G,B"),
         arg("--seed-fraction", type=float, default=0.25, help="CIT: top rows; SIT: inner spiral share"),
         arg("--temperature", type=float, default=1.0),
         arg("--top-k", type=int, default=None),
         arg("--no-cache", action="store_true", help="recompute the context for every pixel (slow)"),
         arg("--count", type=int, default=1),
         arg("--seed", type=int, default=0),
         arg("--mark-seed", action="store_true", help="draw the seed boundary in purple"),
         arg("--material", default=None, help="conditioned models: the material to ask for"),
         arg("--guidance", type=float, default=1.0, help="classifier-free guidance scale with --material"))
def sample(a) -> None:
    import numpy as np

    from ..models.model import load_model
    from ..generate.sample import complete, grow, image_shape, mark_seed, seed_mask
    from ..imaging import contact_sheet, save_png

    model, _ = load_model(a.model, device(a.device))
    for flag, value, ok in (("--border-cost", a.border_cost, lambda v: v >= 0), ("--sharpness", a.sharpness,
                            lambda v: v > 0), ("--edge-cost", a.edge_cost, lambda v: v >= 0)):
        if value is not None and not ok(value):
            raise SystemExit(f"error: {flag} must be {'> 0' if flag == '--sharpness' else '>= 0'}, got {value}")
    try:
        model.codec.set_priors(a.border_cost, a.sharpness, a.edge_cost)
    except ValueError:
        raise SystemExit(f"error: --border-cost, --sharpness and --edge-cost need a match-codec model (this one's "
                         f"codec is {model.cfg.codec!r})") from None
    if a.size:
        a.height = a.width = a.size
    natural = image_shape(model, a.height)[1]
    if a.width is None:
        a.width = natural if model.cfg.ordering == "raster" else 64
    elif model.cfg.ordering == "raster" and a.width != natural:
        raise SystemExit(f"error: this raster model generates rows of {natural} pixels (its training crops' "
                         f"width); use --width {natural}")
    if a.closing_band is not None and (a.closing_band < 0 or not a.tileable):
        raise SystemExit(f"error: --closing-band needs --tileable and a value >= 0, got {a.closing_band}")
    if a.tileable and not model.cfg.local:
        raise SystemExit(f"error: --tileable needs a local-ordering model (this one is {model.cfg.ordering!r}): "
                         "its window wraps around the canvas")
    label = None
    if a.material:
        if a.material not in model.cfg.classes:
            known = ", ".join(model.cfg.classes) or "none: this model is not conditioned"
            raise SystemExit(f"error: material {a.material!r} is not one this model knows ({known})")
        label = model.cfg.classes.index(a.material)
    arr = _read_seed_image(a.seed_image) if a.seed_image else None
    try:
        if model.cfg.local:  # the seed image (or an 8 x 8 solid colour) grows from the top-left corner
            if arr is None:
                arr = np.full((8, 8, 3), tuple(int(c) for c in a.colour.split(",")), np.uint8)
            arr = arr[: a.height, : a.width]
            out = grow(model, arr, a.height, a.width, a.count, a.tileable or "", a.temperature, a.top_k, a.seed,
                       label, a.adapt_steps, progress_bar("growing"), closing_band=a.closing_band)
            mask = np.zeros((a.height, a.width), bool)
            mask[: arr.shape[0], : arr.shape[1]] = True
        else:
            if arr is not None:
                if arr.shape[0] < a.height or arr.shape[1] < a.width:
                    raise SystemExit(f"error: seed image {a.seed_image} is smaller than {a.height}x{a.width}")
                arr = arr[: a.height, : a.width]
            else:
                arr = np.full((a.height, a.width, 3), tuple(int(c) for c in a.colour.split(",")), np.uint8)
            out = complete(model, np.repeat(arr[None], a.count, axis=0), a.seed_fraction, a.temperature, a.top_k,
                           not a.no_cache, a.seed, label, a.guidance)
            mask = seed_mask(model.cfg.ordering, a.height, a.width, a.seed_fraction, model.codec.patch)
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None
    if a.mark_seed:
        out = np.stack([mark_seed(o, mask) for o in out])
    save_png(a.out, out[0] if a.count == 1 else contact_sheet(list(out), scale=1))
