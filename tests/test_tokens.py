"""Palette, VQ and energy codecs, conditioning, linear probes and material labels."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from skimage.color import deltaE_cie76, rgb2lab

from texgen.io import write_tsv
from texgen.curate.materials import category_of, material_table
from texgen.models.codecs import EnergyCodec, PaletteCodec, energy_score
from texgen.models.model import ModelConfig, TextureModel, generate
from texgen.models.colour import encode_nearest, rgb_to_lab
from texgen.training.palette import fit_palette, quantisation_error, weighted_kmeans
from texgen.generate.sample import complete, seed_mask, to_sequences
from texgen.models.vq import (
    Quantizer,
    Tokenizer,
    TokenizerConfig,
    codebook_usage,
    logit_laplace_nll,
)
from texgen.probes.linear import (
    colour_histograms,
    grouped_folds,
    majority_accuracy,
    probe_scores,
)

from .helpers import skimage_data


def _brick(size: int = 128) -> np.ndarray:
    with Image.open(skimage_data() / "brick.png") as im:
        return np.asarray(im.convert("RGB"))[:size, :size]


# --- palette ---------------------------------------------------------------------------------------

def test_lab_conversion_matches_scikit_image():
    px = np.random.default_rng(0).integers(0, 256, (5000, 3)).astype(np.uint8)
    ours = rgb_to_lab(torch.from_numpy(px)).numpy()
    assert np.abs(ours - rgb2lab(px[None] / 255.0)[0]).max() < 1e-6


def test_weighted_kmeans_equals_kmeans_on_expanded_pixels():
    rng = np.random.default_rng(1)
    points = rng.normal(size=(40, 3)) * 10
    weights = rng.integers(1, 6, 40)
    expanded = np.repeat(points, weights, axis=0)
    init = points[[0, 7, 19, 33]]
    c_w, inertia_w = weighted_kmeans(points, weights, 4, init=init, tol=0)
    c_e, inertia_e = weighted_kmeans(expanded, np.ones(len(expanded)), 4, init=init, tol=0)
    np.testing.assert_allclose(c_w, c_e, rtol=1e-8, atol=1e-8)
    assert inertia_w == pytest.approx(inertia_e, rel=1e-8)
    # and the weights matter: unweighted k-means over the distinct points ends elsewhere
    c_u, _ = weighted_kmeans(points, np.ones(40), 4, init=init, tol=0)
    assert not np.allclose(c_u, c_w)


def test_weighted_kmeans_with_fewer_colours_than_entries_keeps_every_colour():
    points = np.array([[10.0, 0, 0], [50.0, 5, 5]])
    centres, inertia = weighted_kmeans(points, np.array([3.0, 1.0]), 4)
    assert centres.shape == (4, 3) and inertia == 0.0
    assert {tuple(c) for c in centres} == {tuple(p) for p in points}


def test_palette_round_trip_error_is_bounded_by_the_nearest_entry():
    levels = np.arange(16, 256, 32)  # ImageGPT's 9-bit palette: 8 levels per channel
    palette = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), -1).reshape(-1, 3).astype(np.uint8)
    codec = PaletteCodec(8, len(palette))
    codec.set_palette(palette)
    # palette colours come back exactly
    assert torch.equal(codec.decode(codec.encode(torch.from_numpy(palette))), torch.from_numpy(palette))
    # any pixel comes back as a colour at least as close in Lab as its rounding to the RGB grid
    px = _brick().reshape(-1, 3)
    back = codec.decode(codec.encode(torch.from_numpy(px))).numpy()
    grid = (np.clip(px // 32, 0, 7) * 32 + 16).astype(np.uint8)
    lab = rgb2lab(px[None] / 255.0)[0]
    err = deltaE_cie76(lab, rgb2lab(back[None] / 255.0)[0])
    assert np.all(err <= deltaE_cie76(lab, rgb2lab(grid[None] / 255.0)[0]) + 1e-6)
    assert err.max() < 20.0  # the 9-bit grid is never further than ~17 CIE76 units here
    assert quantisation_error([_brick()], palette)["mean_delta_e2000"] < 5.0


def test_fitted_palette_beats_a_uniform_one_on_its_own_image():
    img = _brick()
    colours, counts = np.unique(img.reshape(-1, 3), axis=0, return_counts=True)
    palette, info = fit_palette(colours, counts.astype(float), 16)
    assert palette.shape == (16, 3) and palette.dtype == np.uint8 and info["distinct_colours"] == len(colours)
    levels = np.array([32, 96, 160, 224])
    uniform = np.stack(np.meshgrid(levels, levels, [64, 192], indexing="ij"), -1).reshape(-1, 3).astype(np.uint8)
    fitted, plain = quantisation_error([img], palette), quantisation_error([img], uniform)
    assert fitted["mean_delta_e2000"] < plain["mean_delta_e2000"]
    idx = encode_nearest(torch.from_numpy(img.copy()), rgb_to_lab(torch.from_numpy(palette)))
    assert idx.shape == img.shape[:2] and int(idx.max()) < 16


# --- VQ ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("factorized, l2", [(False, False), (True, False), (False, True), (True, True)])
def test_quantizer_picks_the_nearest_code_in_its_lookup_space(factorized, l2):
    torch.manual_seed(0)
    q = Quantizer(TokenizerConfig(width=12, codebook_size=20, code_dim=4, factorized=factorized, l2_norm=l2))
    q.codebook.weight.data.normal_()
    q.initialised.fill_(True)  # keep these codes (training mode would start them at encoder outputs)
    z = torch.randn(3, 5, 12)
    _, idx, _ = q(z)
    zl = q.proj_in(z) if factorized else z
    assert zl.shape[-1] == (4 if factorized else 12)
    e = q.codebook.weight
    if l2:  # cosine similarity
        expect = (torch.nn.functional.normalize(zl, dim=-1) @ torch.nn.functional.normalize(e, dim=-1).T).argmax(-1)
    else:
        expect = torch.cdist(zl.reshape(-1, zl.shape[-1]), e).argmin(-1).reshape(3, 5)
    assert torch.equal(idx, expect)


def test_codebook_starts_at_encoder_outputs():
    torch.manual_seed(0)
    q = Quantizer(TokenizerConfig(width=6, codebook_size=8, factorized=False, l2_norm=False))
    z = torch.randn(50, 6)
    q(z)
    d = torch.cdist(q.codebook.weight.detach(), z).min(1).values
    assert bool(q.initialised) and float(d.max()) < 0.01


def test_straight_through_gradient_and_losses():
    q = Quantizer(TokenizerConfig(width=6, codebook_size=8, factorized=False, l2_norm=False, beta=0.25))
    q.codebook.weight.data = torch.randn(8, 6)
    q.initialised.fill_(True)
    z = torch.randn(4, 6, requires_grad=True)
    zq, idx, loss = q(z)
    assert torch.allclose(zq, q.codebook.weight[idx])  # forward: the code itself
    g = torch.randn(4, 6)
    (zq * g).sum().backward()
    assert torch.allclose(z.grad, g)  # backward: the decoder's gradient passes straight through
    d = ((q.codebook.weight[idx] - z) ** 2).mean()
    assert loss.item() == pytest.approx(d.item() * 1.25, rel=1e-5)  # codebook + 0.25 x commitment


def test_tokenizer_shapes_usage_and_laplace():
    tok = Tokenizer(TokenizerConfig(patch=4, width=8, codebook_size=16, code_dim=4))
    imgs = torch.from_numpy(np.stack([_brick(32), _brick(32)[::-1].copy()]))
    losses, idx = tok(imgs)
    assert idx.shape == (2, 8, 8) and set(losses) == {"loss", "l2", "logit_laplace", "vq"}
    assert tok.decode(tok.encode(imgs)).shape == imgs.shape
    u = codebook_usage(torch.tensor([0, 0, 1, 1]), 4)
    assert u["used"] == 2 and u["usage"] == 0.5 and u["perplexity"] == pytest.approx(2.0)
    x = torch.full((1, 3, 2, 2), 0.5)
    # at the mode with scale 1: log 2 + log(x(1-x)) with x squeezed to 0.5 -> log 2 + log 0.25
    assert float(logit_laplace_nll(x, torch.zeros_like(x), torch.zeros_like(x))) == pytest.approx(np.log(0.5))


def test_vq_prior_completes_images_through_the_code_grid():
    tok = TokenizerConfig(patch=2, width=8, codebook_size=16, code_dim=4)
    model = TextureModel(ModelConfig(ordering="raster", codec="vq", context=15, n_embd=16, n_head=2, n_layer=1,
                                     tokenizer=tok.to_dict()))
    images = np.stack([_brick(8), _brick(8)])
    tokens, gh, gw = to_sequences(model, images)
    assert tokens.shape == (2, 16) and (gh, gw) == (4, 4)
    out = complete(model, images, 0.5)
    assert out.shape == images.shape and out.dtype == np.uint8
    mask = seed_mask("raster", 8, 8, 0.5, patch=2)
    assert mask[:4].all() and not mask[4:].any()
    with pytest.raises(ValueError, match="multiples of 2"):
        complete(model, images[:, :7], 0.5)


# --- energy head --------------------------------------------------------------------------------------

def test_energy_loss_on_known_inputs():
    x1, x2, y = torch.tensor([1.0, 0, 0]), torch.tensor([-1.0, 0, 0]), torch.tensor([0.0, 1, 0])
    assert float(energy_score(x1, x2, y)) == pytest.approx(2 * np.sqrt(2) - 2, abs=1e-5)
    assert float(energy_score(x1, x1, x1)) == pytest.approx(0.0, abs=1e-5)
    assert float(energy_score(x1, x2, y, alpha=2.0)) == pytest.approx(2 + 2 - 4, abs=1e-5)


def test_energy_loss_prefers_the_target_distribution():
    g = torch.Generator().manual_seed(0)
    y = torch.randn(20000, 3, generator=g)
    matched = energy_score(torch.randn(20000, 3, generator=g), torch.randn(20000, 3, generator=g), y).mean()
    shifted = energy_score(torch.randn(20000, 3, generator=g) + 1, torch.randn(20000, 3, generator=g) + 1, y).mean()
    point = energy_score(torch.zeros(20000, 3), torch.zeros(20000, 3), y).mean()  # the MSE-optimal point mass
    assert float(matched) < float(shifted) and float(matched) < float(point)


def test_energy_head_learns_both_modes_where_mse_learns_the_mean():
    torch.manual_seed(0)
    codec = EnergyCodec(16, 0.0, noise_dim=4)
    opt = torch.optim.Adam(codec.parameters(), lr=3e-3)
    hidden = torch.zeros(256, 16)
    for _ in range(400):
        target = torch.where(torch.rand(256, 1) < 0.5, 0.2, 0.8).expand(256, 3)
        loss = codec.loss(hidden, target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        samples = codec.sample(torch.zeros(2000, 16), 1.0)[:, 0]
    low, high = float((samples < 0.35).float().mean()), float((samples > 0.65).float().mean())
    assert low > 0.3 and high > 0.3  # both modes, few samples at the blurry mean 0.5
    assert float(((samples > 0.4) & (samples < 0.6)).float().mean()) < 0.2
    assert torch.equal(codec.sample(torch.zeros(3, 16), 0.0), codec.sample(torch.zeros(3, 16), 0.0))


# --- conditioning -------------------------------------------------------------------------------------

def test_conditioning_label_changes_generation_and_guidance_one_is_plain():
    torch.manual_seed(0)
    cfg = ModelConfig(ordering="raster", codec="grey", context=15, n_embd=16, n_head=2, n_layer=1, classes=["a", "b"])
    model = TextureModel(cfg).eval()
    model.cond.weight.data.normal_(std=2.0)
    seed = torch.zeros(2, 1, dtype=torch.long)
    a = torch.zeros(2, dtype=torch.long)
    out_a = generate(model, seed, 12, temperature=0, cond=a)
    out_b = generate(model, seed, 12, temperature=0, cond=a + 1)
    assert not torch.equal(out_a, out_b)
    assert torch.equal(out_a, generate(model, seed, 12, temperature=0, cond=a, guidance=1.0, use_cache=False))
    guided = generate(model, seed, 20, temperature=0, cond=a, guidance=3.0)  # past the context: the window slides
    assert torch.equal(guided, generate(model, seed, 20, temperature=0, cond=a, guidance=3.0, use_cache=False))


# --- linear probes ------------------------------------------------------------------------------------

def test_linear_probe_separates_separable_features_and_not_noise():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 40)
    groups = np.repeat(np.arange(30), 4)  # 10 files per class, 4 crops each
    centres = rng.normal(size=(3, 8)) * 5
    features = centres[labels] + rng.normal(size=(120, 8)) * 0.3
    good = probe_scores(features, labels, groups, folds=5)
    assert good["accuracy"] >= 0.98 and good["balanced_accuracy"] >= 0.98
    assert good["fits"] == 5 and good["unconverged"] == 0
    noise = probe_scores(rng.normal(size=(120, 8)), labels, groups, folds=5)
    assert noise["accuracy"] < 0.6 and noise["balanced_accuracy"] < 0.6
    assert majority_accuracy(labels, groups, folds=5) < 0.5


def test_balanced_accuracy_sees_through_an_imbalanced_majority():
    """90 % of crops in one class and features that say nothing: accuracy looks good, balanced does not."""
    rng = np.random.default_rng(1)
    labels = np.array([0] * 108 + [1] * 12)
    groups = np.arange(120) // 3
    r = probe_scores(rng.normal(size=(120, 4)), labels, groups, folds=4)
    assert r["accuracy"] > 0.8
    assert r["balanced_accuracy"] < 0.65


def test_unconverged_fits_are_counted(monkeypatch):
    import texgen.probes.linear as linear

    monkeypatch.setattr(linear, "MAX_ITER", 1)
    rng = np.random.default_rng(2)
    labels = np.repeat(np.arange(3), 20)
    r = linear.probe_scores(rng.normal(size=(60, 6)) + labels[:, None], labels, np.arange(60) // 2, folds=3)
    assert r["unconverged"] == r["fits"] == 3


def test_grouped_folds_keep_files_together():
    groups = np.repeat(np.array(["a", "b", "c", "d", "e", "f"]), 3)
    folds = grouped_folds(groups, 3)
    assert sorted(np.concatenate(folds)) == list(range(18))
    for f in folds:
        inside = set(groups[f])
        assert not inside & set(groups[np.setdiff1d(np.arange(18), f)])


def test_colour_histograms_sum_to_one():
    h = colour_histograms(np.stack([_brick(16), np.zeros((16, 16, 3), np.uint8)]))
    assert h.shape == (2, 64) and np.allclose(h.sum(1), 1) and h[1, 0] == 1.0


# --- materials ----------------------------------------------------------------------------------------

def test_material_categories_follow_config_priority_and_min_files(tmp_path):
    cats = {"tile": ["tile"], "masonry": ["concrete", "brick"], "wood": ["wood", "plank"]}
    assert category_of(["concrete", "tile"], cats) == "tile"
    assert category_of(["grass"], cats) == ""
    man = [{"source": "s", "id": str(i), "status": "kept", "matched": m}
           for i, m in enumerate(["concrete", "brick wall", "concrete tile", "wood", "wood plank", "grass"])]
    man.append({"source": "s", "id": "9", "status": "filtered", "matched": "wood"})
    write_tsv(tmp_path / "m.tsv", man, ["source", "id", "status", "matched"])
    tiles = [{"source": "s", "id": str(i), "tile": f"t{i}.png", "size": "64", "origin": f"o{i}"} for i in range(6)]
    write_tsv(tmp_path / "t.tsv", tiles, ["source", "id", "tile", "size", "origin"])
    rows, summary = material_table([tmp_path / "m.tsv"], [tmp_path / "t.tsv"], cats, min_files=2)
    got = {r["tile"]: (r["category"], r["material"]) for r in rows}
    assert got["t0.png"] == ("masonry", "masonry") and got["t2.png"] == ("tile", "")  # one tile file: dropped
    assert got["t4.png"] == ("wood", "wood") and got["t5.png"] == ("", "")
    assert summary["files_per_category"] == {"masonry": 2, "tile": 1, "wood": 2} and summary["usable"] == ["masonry", "wood"]


def test_raster_windows_slide_by_whole_rows():
    from texgen.generate.sample import image_shape, window_stride

    model = TextureModel(ModelConfig(ordering="raster", codec="grey", context=63, n_embd=16, n_head=2, n_layer=1))
    assert image_shape(model, 32) == (32, 8)  # rows as wide as the 8 x 8 training crops
    assert window_stride(model, 8) == 24 and window_stride(model, 8) % 8 == 0
    column = TextureModel(ModelConfig(ordering="column", codec="grey", context=63, n_embd=16, n_head=2, n_layer=1))
    assert window_stride(column, 8) == 31
    images = np.stack([_brick(32)[:, :8]])
    a = complete(model, images, 0.25, temperature=0)  # 256 pixels: the window slides several times
    b = complete(model, images, 0.25, temperature=0, use_cache=False)
    assert np.array_equal(a, b)


def test_resumable_state_is_keyed_on_tiles_and_asset_contents(tmp_path):
    from texgen.training.train import run_key

    pal = tmp_path / "64.npy"
    np.save(pal, np.zeros((4, 3), np.uint8))
    rows = [{"tile": "a.png"}, {"tile": "b.png"}]
    spec = {"model": {"codec": "palette"}}
    key = run_key(spec, rows[:1], rows[1:], {"palette": str(pal)})
    assert key == run_key(spec, rows[:1], rows[1:], {"palette": str(pal)})
    assert key != run_key(spec, rows[1:], rows[:1], {"palette": str(pal)})  # a different split
    np.save(pal, np.ones((4, 3), np.uint8))  # a refitted palette: the old state must not be resumed
    assert key != run_key(spec, rows[:1], rows[1:], {"palette": str(pal)})
