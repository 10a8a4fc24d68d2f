"""The local ordering (2-D windows, any canvas size, wrap-around), the channel codec and the G'MIC peer."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from texgen.generate import fill as FL
from texgen.models import local as L
from texgen.models.model import ModelConfig, TextureModel, load_model
from texgen.training.train import save_model
from texgen.generate.sample import complete, grow
from texgen import metrics as M
from texgen.probes import peer

from .helpers import skimage_data


def local_model(codec: str = "energy", window: int = 2, adapt_steps: int = 0, seed: int = 0,
                reach: int = 4) -> TextureModel:
    torch.manual_seed(seed)
    model = TextureModel(ModelConfig(ordering="local", codec=codec, window=window, reach=reach, n_embd=16, n_head=2,
                                     n_layer=2, act="leaky_relu", adapt_steps=adapt_steps)).eval()
    if codec == "energy":  # its AdaLN starts at zero (output independent of the context): make it depend
        with torch.no_grad():
            for m in model.codec.modulation:
                m.weight.normal_(std=0.5)
    return model


def brick(size: int = 48) -> np.ndarray:
    with Image.open(skimage_data() / "brick.png") as im:
        grey = np.asarray(im.convert("L"))[:size, :size]
    return np.repeat(grey[..., None], 3, axis=2)


def test_offsets_and_causal_half():
    win = L.Window(1)
    assert win.offsets.tolist() == [[-1, -1], [-1, 0], [-1, 1], [0, -1], [0, 0], [0, 1], [1, -1], [1, 0], [1, 1]]
    assert win.causal.tolist() == [True, True, True, True, False, False, False, False, False]
    assert win.centre == 4 and win.slope == 2
    assert L.Window(3).size == 49
    far = L.Window(3, 6)
    assert far.size == 89 and far.centre == 24 and far.offsets[24].tolist() == [0, 0]
    assert len({tuple(o) for o in far.offsets.tolist()}) == 89  # no offset twice
    assert far.slope == 4  # (-1, 3) and (-2, 6) must both come before (0, 0)


def test_gather_wraps_only_the_axes_asked_for():
    grid = torch.arange(4 * 5).reshape(1, 4, 5, 1)  # value = y * 5 + x
    known = torch.ones(4, 5, dtype=torch.bool)
    ys, xs = torch.tensor([0]), torch.tensor([4])  # the top-right corner
    for wrap, left_of_right_edge, above in (("", None, None), ("x", 0, None), ("y", None, 19), ("xy", 0, 19)):
        values, kn = L.gather(grid, known, ys, xs, L.Window(1), wrap)
        v, k = values[0, 0, :, 0].view(3, 3), kn[0, 0].view(3, 3)
        assert v[1, 0] == 3 and k[1, 0]  # (0, 3): inside
        assert bool(k[1, 2]) == (left_of_right_edge is not None)  # (0, 5) wraps to (0, 0)
        if left_of_right_edge is not None:
            assert v[1, 2] == left_of_right_edge
        assert bool(k[0, 1]) == (above is not None)  # (-1, 4) wraps to (3, 4)
        if above is not None:
            assert v[0, 1] == above
        assert not k[1, 1]  # the centre is never known


@pytest.mark.parametrize("win", [L.Window(2), L.Window(1, 4), L.Window(3, 6)])
@pytest.mark.parametrize("shift", [(0, 0), (5, 6), (0, 6)])
def test_wavefronts_respect_raster_dependencies(win, shift):
    """Every step knows what raster order would know, also in the order of a canvas rolled by ``shift``
    (the closing pass over wrap seams): positions below are in the rolled frame."""
    todo = np.ones((10, 12), bool)
    step_of = np.zeros(todo.shape, int)
    for i, (ys, xs) in enumerate(FL.wavefronts(todo, win, shift)):
        step_of[(ys + shift[0]) % 10, (xs + shift[1]) % 12] = i
    for y in range(10):
        for x in range(12):
            for (dy, dx), c in zip(win.offsets.tolist(), win.causal.tolist()):
                yy, xx = y + dy, x + dx
                if c and 0 <= yy < 10 and 0 <= xx < 12:  # raster order knows it: generated in an earlier step
                    assert step_of[yy, xx] < step_of[y, x]
    assert len(FL.wavefronts(todo, win, shift)) < todo.size
    assert sorted(np.concatenate([ys * 12 + xs for ys, xs in FL.wavefronts(todo, win, shift)])) == list(range(120))
    assert FL.wavefronts(np.zeros((10, 12), bool), win, shift) == []  # nothing to do: no (empty) step


@pytest.mark.parametrize("codec", ["energy", "channels", "exemplar", "pointer", "match"])
def test_changing_a_later_pixel_never_changes_an_earlier_prediction(codec):
    """Causality of fill: pixels generated before (y, x) do not depend on the image after it."""
    model = local_model(codec)
    img = brick(16)
    known = np.zeros((16, 16), bool)
    known[:4] = True
    a = complete_with(model, img, known, seed=3)
    changed = img.copy()
    changed[10:] = 255 - changed[10:]  # pixels that are generated, not known: their values must not matter
    b = complete_with(model, changed, known, seed=3)
    assert np.array_equal(a, b)
    # and the seed does matter
    other = img.copy()
    other[:4] = 255 - other[:4]
    assert not np.array_equal(a[4:], complete_with(model, other, known, seed=3)[4:])


def complete_with(model, img, known, seed):
    from texgen.generate.sample import local_generate

    return local_generate(model, img[None], known, seed=seed)[0]


def test_window_forward_ignores_unknown_values():
    model = local_model("channels")
    values = torch.randint(0, 256, (5, L.Window(2).size, 3))
    known = L.training_masks(5, L.Window(2), torch.Generator().manual_seed(0))
    out = model.window_forward(values, known)
    scrambled = torch.where(known[..., None], values, torch.randint(0, 256, values.shape))
    assert torch.allclose(out, model.window_forward(scrambled, known))


def test_training_masks_never_reveal_the_centre_and_include_growth_shapes():
    win = L.Window(3, 6)
    masks = L.training_masks(4000, win, torch.Generator().manual_seed(1))
    assert not masks[:, win.centre].any()
    assert (masks | ~win.causal).all()  # the causal half is always known (before crop borders)
    below = win.offsets[:, 0] > 0
    assert 0.05 < masks[:, below].any(1).float().mean() < 0.6  # some masks see rows below


def test_any_size_and_tileable_growth():
    model = local_model("energy")
    seed = brick(8)
    for h, w in ((24, 40), (33, 17)):
        out = grow(model, seed, h, w, count=2, seed=1)
        assert out.shape == (2, h, w, 3)
        assert np.array_equal(out[0, :8, :8], seed)  # the seed is kept
        assert not np.array_equal(out[0], out[1])  # two samples differ
    with pytest.raises(ValueError, match="larger than the texture"):
        grow(model, brick(32), 16, 16)
    with pytest.raises(ValueError, match="tileable must be one of"):
        grow(model, seed, 16, 16, wrap="z")


def test_test_time_training_learns_the_seed(tmp_path):
    """A few steps on a solid-colour seed make an untrained model continue that colour."""
    model = local_model("energy", adapt_steps=60)
    seed = np.full((12, 12, 3), (200, 40, 30), np.uint8)
    before = grow(model, seed, 16, 16, adapt_steps=0)[0]
    after = grow(model, seed, 16, 16)[0]
    colour = (200, 40, 30)
    new = np.ones((16, 16), bool)
    new[:12, :12] = False
    assert M.mean_delta_e(after[new], colour) < 0.5 * M.mean_delta_e(before[new], colour)
    # the adapted copy is thrown away: the model itself is unchanged
    path = tmp_path / "m.pt"
    save_model(path, model, {})
    loaded, _ = load_model(path)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), loaded.state_dict().values()))


def test_complete_is_reproducible_and_seeded():
    model = local_model("channels")
    crops = np.stack([brick(16), brick(16)[::-1]])
    a = complete(model, crops, 0.5, seed=4)
    assert np.array_equal(a, complete(model, crops, 0.5, seed=4))
    assert not np.array_equal(a, complete(model, crops, 0.5, seed=5))
    assert np.array_equal(a[:, :8], crops[:, :8])


def test_exemplar_codec_draws_only_the_seeds_colours_and_learns_to_choose():
    """Generated pixels are colours of the known pixels; the loss counts every candidate of the true colour;
    a few training steps on windows of a two-colour stripe image make the choice follow the context."""
    from texgen.models.codecs import ExemplarCodec

    model = local_model("exemplar", window=1, reach=0)
    img = brick(16)
    known = np.zeros((16, 16), bool)
    known[:6] = True
    out = complete_with(model, img, known, seed=1)
    seed_colours = {tuple(c) for c in img[known]}
    assert {tuple(c) for c in out[~known]} <= seed_colours
    # every candidate of the true colour counts, far ones do not: the uniform choice gives log(P + 1) - log(#same);
    # a mixture centred on the true colour does better, one centred elsewhere worse
    codec = ExemplarCodec(8, 0.0)
    centre = torch.tensor([[0.2, 0.2, 0.2]])
    others = torch.tensor([[[0.2, 0.2, 0.2], [0.9, 0.9, 0.9], [0.5, 0.5, 0.5]]])
    assert codec.baseline(None, (centre, others)) == pytest.approx(np.log(4 / 2))

    def at(colour: float) -> torch.Tensor:  # every component at one grey, narrow
        return torch.tensor([[0.0, *[np.log(colour / (1 - colour))] * 3, -4.0] * codec.components])

    assert codec.loss(at(0.2), (centre, others)).item() < 0.01
    assert codec.loss(at(0.9), (centre, others)).item() > 10
    with pytest.raises(ValueError, match="needs ordering: local"):
        TextureModel(ModelConfig(ordering="raster", codec="exemplar"))
    # vertical stripes, 1 px: a pixel's colour is its left neighbour's opposite
    stripes = np.zeros((12, 12, 3), np.uint8)
    stripes[:, ::2] = (220, 30, 30)
    stripes[:, 1::2] = (20, 20, 200)
    trained = FL.adapt(model, model.codec.encode(torch.from_numpy(stripes)), np.ones((12, 12), bool), steps=150,
                      lr=0.01, batch=64)
    canvas = np.zeros((1, 12, 12, 3), np.uint8)
    canvas[0, :, :4] = stripes[:, :4]
    known = np.zeros((12, 12), bool)
    known[:, :4] = True
    grid = FL.fill(trained, trained.codec.encode(torch.from_numpy(canvas)), known,
                  generator=torch.Generator().manual_seed(0))
    grown = trained.codec.decode(grid)[0].numpy()
    assert (grown[:, 4:] == stripes[:, 4:]).all(-1).mean() > 0.9


def test_pointer_codec_groups_and_continues_the_seeds_stripes():
    """The group loss: a window never chooses itself, and a uniform choice costs log(others) less the
    log-share of the true colour. Horizontal stripes 4 px wide (after four equal rows the stripe changes;
    reach 4 sees four rows up): test-time training on the seed continues them, drawing only its colours."""
    from texgen.models.codecs import PointerCodec

    codec = PointerCodec(8, 0.0)
    centre = torch.tensor([[0.3] * 3, [0.3] * 3, [0.7] * 3, [0.7] * 3])  # equally likely under the mixture
    out = torch.zeros(4, codec.components * 5 + 2 * codec.key_dim)
    # uniform over the 3 others, one of which has the true colour: log 3
    assert codec.loss(out, (centre, torch.tensor([4]))).item() == pytest.approx(np.log(3), abs=1e-4)
    assert codec.baseline(None, (centre, torch.tensor([4]))) == pytest.approx(np.log(3), abs=1e-4)
    with pytest.raises(ValueError, match="multiple of pixels_per_crop"):
        codec.loss(out[:3], (centre[:3], torch.tensor([2])))
    from texgen.training.data import DataConfig
    from texgen.training.train import Batcher

    with pytest.raises(ValueError, match=r"train.batch \(100\) must be a multiple of data.pixels_per_crop \(64\)"):
        Batcher(local_model("pointer"), DataConfig(pixels_per_crop=64), 100)
    assert Batcher(local_model("pointer"), DataConfig(pixels_per_crop=64), 128).per_crop == 64

    plain = np.full((8, 8, 3), 77, np.uint8)  # a one-colour seed: 10,000 test-time steps skipped, its colour everywhere
    half = np.zeros((8, 8), bool)
    half[:4] = True
    assert (complete_with(local_model("pointer", adapt_steps=10_000), plain, half, 0) == 77).all()

    rows = (np.arange(24) // 4) % 2 == 1
    stripes = np.where(rows[:, None, None], 235, 20).astype(np.uint8).repeat(12, 1).repeat(3, 2)
    known = np.zeros((24, 12), bool)
    known[:16] = True
    model = local_model("pointer", window=2, reach=4, seed=1)
    grid = model.codec.encode(torch.from_numpy(stripes[None]))
    trained = FL.adapt(model, grid[0], known, steps=300, lr=0.01, batch=128)
    out = FL.fill(trained, grid, known, generator=torch.Generator().manual_seed(0))
    grown = trained.codec.decode(out)[0].numpy()
    assert {tuple(c) for c in grown[16:].reshape(-1, 3)} <= {(20, 20, 20), (235, 235, 235)}
    assert (grown[16:] == stripes[16:]).all(-1).mean() > 0.9


@pytest.mark.parametrize("codec", ["pointer", "match"])
def test_candidate_codecs_generate_without_any_seed(codec):
    """No known pixel: no keys, the candidates are the 512 colours of the 8-level grid."""
    out = complete_with(local_model(codec, window=1, reach=0), np.zeros((6, 6, 3), np.uint8),
                        np.zeros((6, 6), bool), 0)
    levels = {int((i + 0.5) / 8 * 255 + 0.5) for i in range(8)}
    assert out.shape == (6, 6, 3) and set(np.unique(out)) <= levels


def test_a_shared_cache_reuses_test_time_training_for_the_same_seed():
    """The growth probe's tileable textures reuse the plain growth's adapted model: same result as
    training again, one adapted model for one seed."""
    model = local_model("match", window=1, reach=0, adapt_steps=3)
    seed = brick(8)
    cache: dict = {}
    plain = grow(model, seed, 12, 12, seed=2, tuned_cache=cache)
    assert np.array_equal(plain, grow(model, seed, 12, 12, seed=2))
    wrapped = grow(model, seed, 12, 12, wrap="xy", seed=2, tuned_cache=cache)
    assert len(cache) == 1
    assert np.array_equal(wrapped, grow(model, seed, 12, 12, wrap="xy", seed=2))
    grow(model, 255 - seed, 12, 12, seed=2, tuned_cache=cache)
    assert len(cache) == 2


def test_match_codec_distance_is_the_weighted_mean_over_offsets_known_in_both():
    """The matrix-product distance equals the direct sum; an offset the candidate lacks costs the learned
    constant; identical known windows are at distance 0 whatever the unknown values."""
    from texgen.models.codecs import MatchCodec

    torch.manual_seed(0)
    win = L.Window(2)
    codec = MatchCodec(8, 0.0, offsets=win.offsets)
    values = torch.rand(2, 5, win.size, 3)
    known = L.training_masks(10, win, torch.Generator().manual_seed(0)).view(2, 5, -1)
    cand_known = torch.rand(2, 5, win.size) < 0.8
    q = codec.window_code(values.flatten(0, 1), known.flatten(0, 1)).view(2, 5, -1)
    k = codec.window_code(values.flatten(0, 1), cand_known.flatten(0, 1)).view(2, 5, -1)
    d = codec.distance(q, k)
    w = torch.exp(codec.log_weight)
    for g in range(2):
        for i in range(5):
            for j in range(5):
                a = w * known[g, i]
                both = a * cand_known[g, j]
                sq = ((values[g, i] - values[g, j]) ** 2).sum(-1)
                want = ((both * sq).sum() + torch.exp(codec.log_missing) * (a.sum() - both.sum())) / a.sum()
                assert d[g, i, j].item() == pytest.approx(want.item(), rel=1e-4, abs=1e-6)
    full = torch.ones(1, win.size, dtype=torch.bool)
    other = torch.where(known[0, :1, :, None], values[0, :1], torch.rand(1, win.size, 3))  # differs where unknown
    same = codec.distance(codec.window_code(values[0, :1], known[0, :1])[None],
                          codec.window_code(other, full)[None])
    assert same.item() == pytest.approx(0.0, abs=1e-6)


def test_match_codec_seed_prior_shifts_the_adapted_copy_only():
    """``border_cost`` adds to the missing cost and ``sharpness`` multiplies beta in the copy adapted to a
    seed (before its test-time training); the pre-trained model is unchanged. In the copy's scores a seed
    candidate lacking offsets the query knows loses sharpness * beta * (missing + border) * their share."""
    from texgen.models.model import ModelConfig, TextureModel

    with pytest.raises(ValueError, match="seed prior of the match codec"):
        TextureModel(ModelConfig(ordering="local", codec="pointer", window=1, n_embd=8, n_head=2, n_layer=1,
                                 border_cost=0.5))
    torch.manual_seed(0)
    cfg = ModelConfig(ordering="local", codec="match", window=1, n_embd=8, n_head=2, n_layer=1,
                      border_cost=0.5, sharpness=2.0)
    model = TextureModel(cfg)
    plain = model.codec
    before = {k: v.clone() for k, v in model.state_dict().items()}
    tuned = FL.adapt(model, torch.rand(6, 6, 3), np.ones((6, 6), bool), 0)
    assert tuned is not model and all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    codec = tuned.codec
    beta, missing = torch.exp(plain.log_beta), torch.exp(plain.log_missing)
    assert torch.exp(codec.log_beta).item() == pytest.approx(2.0 * beta.item(), rel=1e-5)
    assert torch.exp(codec.log_missing).item() == pytest.approx(missing.item() + 0.5, rel=1e-5)
    win = model.window
    values = torch.rand(1, win.size, 3)
    query = win.causal[None].clone()  # the query knows the four raster-earlier neighbours
    inside = torch.ones(1, win.size, dtype=torch.bool)
    edge = inside & (win.offsets[:, 0] >= 0)[None]  # a candidate on the seed's top edge: nothing above
    out = torch.cat([torch.randn(1, 1, plain.pointer_dim), plain.window_code(values, query)[None]], -1)
    colours = values[:, win.centre].expand(2, 3)[None]
    keys = torch.cat([torch.randn(1, 1, plain.key_dim).expand(1, 2, -1),
                      torch.cat([plain.window_code(values, inside), plain.window_code(values, edge)])[None]], -1)
    w = torch.exp(plain.log_weight) * query[0]
    lacks = (w * ~edge[0]).sum() / w.sum()  # the share of the query's weight above the edge candidate
    for c, want in ((plain, beta * missing * lacks), (codec, 2.0 * beta * (missing + 0.5) * lacks)):
        c.use_candidates(colours, keys)
        gap = (c.candidate_logits(out) @ torch.tensor([1.0, -1.0])).item()
        assert gap == pytest.approx(want.item(), rel=1e-3)


def test_match_codec_edge_cost_lowers_candidates_by_their_window_outside_the_seed():
    """At generation ``edge_cost`` x (share of the window weight outside the seed) joins each candidate's
    window distance: between a candidate inside the seed and one on its edge the score gap grows by exactly
    beta x edge_cost x the difference of their shares; training's scores are unchanged."""
    from texgen.models.model import ModelConfig, TextureModel

    with pytest.raises(ValueError, match="seed prior of the match codec"):
        TextureModel(ModelConfig(ordering="local", codec="exemplar", window=1, n_embd=8, n_head=2, n_layer=1,
                                 edge_cost=1.0))
    torch.manual_seed(0)
    model = TextureModel(ModelConfig(ordering="local", codec="match", window=1, n_embd=8, n_head=2, n_layer=1))
    codec, win = model.codec, model.window
    values = torch.rand(1, win.size, 3)
    inside = torch.ones(1, win.size, dtype=torch.bool)
    inside[:, win.centre] = False
    edge = inside & (win.offsets[:, 0] <= 0)[None]  # on the seed's bottom edge: nothing below
    out = torch.cat([torch.randn(1, 1, codec.pointer_dim), codec.window_code(values, win.causal[None])[None]], -1)
    colours = values[:, win.centre].expand(2, 3)[None]
    keys = torch.cat([torch.randn(1, 1, codec.key_dim).expand(1, 2, -1),
                      torch.cat([codec.window_code(values, inside), codec.window_code(values, edge)])[None]], -1)
    codec.use_candidates(colours, keys)
    plain = (codec.candidate_logits(out) @ torch.tensor([1.0, -1.0])).item()
    training = codec.pointer_logits(out, colours, keys).detach()
    w = torch.exp(codec.log_weight)
    below = (w * (win.offsets[:, 0] > 0)).sum() / w.sum()  # what the edge candidate lacks
    share = codec.outside_share().detach()
    assert (share[0, 1] - share[0, 0]).item() == pytest.approx(below.item(), rel=1e-5)
    codec.edge_cost = 0.01
    beta = torch.exp(codec.log_beta).item()
    assert (codec.candidate_logits(out) @ torch.tensor([1.0, -1.0])).item() == pytest.approx(
        plain + beta * 0.01 * below.item(), rel=1e-4)
    assert torch.equal(codec.pointer_logits(out, colours, keys).detach(), training)  # training has no edge term


def test_sample_command_grows_a_match_model_with_a_border_cost(tmp_path):
    """``texgen sample --border-cost --edge-cost --sharpness --closing-band`` grows a tileable texture from a seed
    image with a match model, and refuses the options for another codec, or out of range, with a clear error."""
    from PIL import Image

    from texgen.cli import main
    from texgen.models.model import ModelConfig, TextureModel
    from texgen.training.train import save_model

    seed = np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    Image.fromarray(seed).save(tmp_path / "seed.png")
    for codec in ("match", "exemplar"):
        cfg = ModelConfig(ordering="local", codec=codec, window=1, n_embd=8, n_head=2, n_layer=1, adapt_steps=2,
                          adapt_batch=8)
        torch.manual_seed(0)
        save_model(tmp_path / f"{codec}.pt", TextureModel(cfg), {})
    args = ["sample", "--seed-image", str(tmp_path / "seed.png"), "--size", "16", "--tileable", "xy",
            "--border-cost", "0.7", "--edge-cost", "0.3", "--sharpness", "2"]
    assert main(args + ["--model", str(tmp_path / "match.pt"), "--out", str(tmp_path / "t.png")]) in (0, None)
    with Image.open(tmp_path / "t.png") as im:
        out = np.asarray(im.convert("RGB"))
    assert out.shape == (16, 16, 3) and np.array_equal(out[:8, :8], seed)
    with pytest.raises(SystemExit, match="need a match-codec model"):
        main(args + ["--model", str(tmp_path / "exemplar.pt"), "--out", str(tmp_path / "u.png")])
    with pytest.raises(SystemExit, match="--edge-cost must be >= 0"):
        main(args[:-4] + ["--edge-cost", "-1", "--model", str(tmp_path / "match.pt"), "--out", str(tmp_path / "u.png")])
    with pytest.raises(SystemExit, match="--sharpness must be > 0"):
        main(args[:-2] + ["--sharpness", "0", "--model", str(tmp_path / "match.pt"), "--out", str(tmp_path / "u.png")])
    # --closing-band 0 skips the closing pass: the same texture away from the seams (default band: 3 px here)
    main(args + ["--closing-band", "0", "--model", str(tmp_path / "match.pt"), "--out", str(tmp_path / "o.png")])
    with Image.open(tmp_path / "o.png") as im:
        open_seams = np.asarray(im.convert("RGB"))
    assert np.array_equal(open_seams[3:13, 3:13], out[3:13, 3:13]) and not np.array_equal(open_seams, out)
    with pytest.raises(SystemExit, match="--closing-band needs --tileable"):
        main(args[:5] + ["--closing-band", "2", "--model", str(tmp_path / "match.pt"), "--out", str(tmp_path / "u.png")])


def test_match_codec_continues_stripes_that_need_the_fourth_row_up():
    """Horizontal stripes 4 px wide after 16 seed rows: only a window that sees four rows up can tell the
    stripe's fourth row from the next one's first. The match codec's window distance (a ring to 4) continues
    them from the seed's own colours after 100 test-time steps (mean over three initialisations)."""
    rows = (np.arange(24) // 4) % 2 == 1
    stripes = np.where(rows[:, None, None], 235, 20).astype(np.uint8).repeat(12, 1).repeat(3, 2)
    known = np.zeros((24, 12), bool)
    known[:16] = True
    right = []
    for init in range(3):
        model = local_model("match", window=2, reach=4, seed=init)
        grid = model.codec.encode(torch.from_numpy(stripes[None]))
        trained = FL.adapt(model, grid[0], known, steps=100, lr=0.01, batch=128)
        grown = trained.codec.decode(FL.fill(trained, grid, known, generator=torch.Generator().manual_seed(0)))
        grown = grown[0].numpy()
        assert {tuple(c) for c in grown[16:].reshape(-1, 3)} <= {(20, 20, 20), (235, 235, 235)}
        right.append((grown[16:] == stripes[16:]).all(-1).mean())
    assert np.mean(right) > 0.9


def test_channel_codec_loss_and_sampling():
    from texgen.models.codecs import ChannelCodec

    torch.manual_seed(0)
    codec = ChannelCodec(8)
    hidden = torch.randn(64, 8)
    target = torch.randint(0, 256, (64, 3))
    loss = codec.loss(hidden, target)
    assert abs(float(loss) - 3 * np.log(256)) < 1.0  # near uniform at initialisation
    assert codec.sample(hidden, 0.0).shape == (64, 3)
    assert torch.equal(codec.sample(hidden, 0.0), codec.sample(hidden, 0.0))  # argmax
    opt = torch.optim.Adam(codec.parameters(), 0.05)
    for _ in range(150):  # learns a one-colour distribution
        loss = codec.loss(hidden, torch.tensor([[10, 200, 30]]).expand(64, 3))
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert codec.sample(hidden, 0.0).tolist() == [[10, 200, 30]] * 64


def test_gmic_reference_grows_and_inpaints():
    seed = brick(32)
    a = peer.grow(seed, 64, 48, rng_seed=1)
    assert a.shape == (64, 48, 3) and a.dtype == np.uint8
    assert np.array_equal(a, peer.grow(seed, 64, 48, rng_seed=1))  # seeded
    known = np.zeros((32, 32), bool)
    known[:16] = True
    filled = peer.inpaint(seed, known, rng_seed=0)
    assert np.array_equal(filled[:16], seed[:16])
    assert M.mse(filled[16:], np.zeros_like(filled[16:])) > 100  # the hole was filled with texture


def test_gmic_errors_are_clear():
    with pytest.raises(peer.PeerError, match="G'MIC command 'no_such_command' failed"):
        peer.run("no_such_command", [brick(8).astype(np.float32)])
    with pytest.raises(peer.PeerError, match="does not match image"):
        peer.inpaint(brick(8), np.ones((4, 4), bool))
    with pytest.raises(peer.PeerError, match="RGB seed"):
        peer.grow(np.zeros((8, 8), np.uint8), 16, 16)


def test_missing_gmic_says_how_to_install(monkeypatch):
    import builtins

    real = builtins.__import__

    def no_gmic(name, *args, **kwargs):
        if name == "gmic":
            raise ImportError("No module named 'gmic'")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_gmic)
    with pytest.raises(peer.PeerError, match="G'MIC is not installed.*make setup"):
        peer.grow(brick(8), 16, 16)


def test_wrapped_growth_is_seamless_by_construction():
    """With xy wrap the window crosses the seams, so a trained model's wrap seam is like its inner steps.

    An untrained model is noise everywhere; this checks the wrap-seam ratio is computed over the seam the
    generator saw (ratio near 1 for noise, with or without wrap) and that wrap changes the pixels at the seam."""
    model = local_model("energy")
    seed = brick(8)
    plain = grow(model, seed, 24, 24, seed=2)[0]
    wrapped = grow(model, seed, 24, 24, wrap="xy", seed=2)[0]
    assert not np.array_equal(plain[:, -2:], wrapped[:, -2:])
    assert 0.3 < M.tileability(wrapped) < 3


@pytest.mark.parametrize("wrap", ["x", "y", "xy"])
def test_closing_pass_regenerates_only_the_generated_pixels_next_to_the_seams(wrap):
    """With wrap, fill forgets the generated pixels within ``closing_band`` of each seam and generates them
    again; the first pass, the seed and everything outside the band are exactly as without the pass."""
    model = local_model("energy")
    canvas = np.zeros((1, 20, 24, 3), np.uint8)
    canvas[0, :8, :8] = brick(8)
    known = np.zeros((20, 24), bool)
    known[:8, :8] = True
    grid = model.codec.encode(torch.from_numpy(canvas))

    def run(band, wrap=wrap):
        return FL.fill(model, grid, known, wrap, generator=torch.Generator().manual_seed(4), closing_band=band)

    plain, closed = run(0), run(3)
    band = FL.seam_band((20, 24), wrap, 3)
    assert band.sum() == {"x": 20 * 6, "y": 24 * 6, "xy": 20 * 6 + 24 * 6 - 36}[wrap]
    outside = torch.as_tensor(~band)
    assert torch.equal(plain[:, outside], closed[:, outside])
    assert torch.equal(closed[:, :8, :8], grid[:, :8, :8])  # seed pixels in the band are kept
    regenerated = torch.as_tensor(band & ~known)
    assert not torch.equal(plain[:, regenerated], closed[:, regenerated])
    assert torch.equal(run(3, ""), run(0, ""))  # nothing to close without wrap
    steps = []
    FL.fill(model, grid, known, wrap, closing_band=3, progress=lambda i, n: steps.append((i, n)))
    assert steps[-1][0] == steps[-1][1] == len(FL.wavefronts(~known, model.window)) + len(
        FL.wavefronts(band & ~known, model.window, (10 if "y" in wrap else 0, 12 if "x" in wrap else 0)))
    with pytest.raises(ValueError, match="closing_band"):
        run(-1)
