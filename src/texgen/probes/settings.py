"""The probe settings every probe job runs with (config ``probes:``), typed: the dataclass declares names and
types, config/schema.yaml holds every default (``typed_settings`` fills them once)."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import typed_settings


@dataclass(frozen=True)
class ProbeConfig:
    new_pixels: int  # pixels generated per sequence in the colour, zebra and pattern probes
    crop: int  # edge of the held-out crops completed by the models
    crops: int
    samples: int  # samples per crop (best-of-k metrics)
    temperature: float
    free_size: int
    seed: int
    probe_crops_per_tile: int  # linear probes
    probe_folds: int
    conditioned_samples: int  # conditioned variants
    guidance: float
    score_crops: int  # next-pixel energy score and MSE
    growth_seed: int  # growth probe
    growth_factor: int
    growth_seeds: int


def probe_settings(params: dict | None) -> ProbeConfig:
    """The probe settings a job runs with: its spec over the schema's defaults."""
    return typed_settings(ProbeConfig, ("probes",), params)
