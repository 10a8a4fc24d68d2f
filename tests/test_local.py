"""The local ordering: 2-D windows, raster-causal wavefronts, any canvas size, wrap-around, test-time training
and the closing pass."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from texgen.generate import fill as FL
from texgen.models import local as L
from texgen.models.model import load_model
from texgen.training.train import save_model
from texgen.generate.sample import complete, grow
from texgen import metrics as M

from .local_models import brick, complete_with, local_model


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
