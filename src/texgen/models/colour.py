"""Colour conversions the palette codec needs inside the model (torch only, so the codec stays a leaf)."""

from __future__ import annotations

import torch

_SRGB_TO_XYZ = torch.tensor([[0.412453, 0.357580, 0.180423],
                             [0.212671, 0.715160, 0.072169],
                             [0.019334, 0.119193, 0.950227]], dtype=torch.float64)
_WHITE_D65 = torch.tensor([0.95047, 1.0, 1.08883], dtype=torch.float64)


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """uint8 or [0, 255] float sRGB (..., 3) -> CIELAB (..., 3), D65 (the same formulas as skimage)."""
    c = rgb.to(torch.float64) / 255.0
    lin = torch.where(c > 0.04045, ((c + 0.055) / 1.055) ** 2.4, c / 12.92)
    xyz = lin @ _SRGB_TO_XYZ.T.to(lin.device) / _WHITE_D65.to(lin.device)
    f = torch.where(xyz > 0.008856, xyz.clamp_min(1e-12) ** (1 / 3), 7.787 * xyz + 16 / 116)
    fx, fy, fz = f.unbind(-1)
    return torch.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], -1)


def encode_nearest(pixels: torch.Tensor, palette_lab: torch.Tensor, chunk: int = 1 << 16) -> torch.Tensor:
    """uint8 pixels (..., 3) -> long palette indices (...): nearest entry in Lab."""
    shape = pixels.shape[:-1]
    flat = pixels.reshape(-1, 3)
    out = torch.empty(flat.shape[0], dtype=torch.long, device=pixels.device)
    pal = palette_lab.to(torch.float32)
    for s in range(0, flat.shape[0], chunk):
        lab = rgb_to_lab(flat[s:s + chunk]).to(torch.float32)
        out[s:s + chunk] = torch.cdist(lab, pal).argmin(-1)
    return out.reshape(shape)
