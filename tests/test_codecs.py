"""Codecs of the local ordering: the candidate codecs (exemplar, pointer, match, its priors) and the channel codec."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from texgen.generate import fill as FL
from texgen.models import local as L
from texgen.models.model import ModelConfig, TextureModel

from .local_models import brick, complete_with, local_model


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
