"""Dataclass configs that travel inside checkpoints as plain dicts."""

from __future__ import annotations

from dataclasses import asdict, fields


class DictConfig:
    """from_dict ignores keys the dataclass does not know (older or richer checkpoints); to_dict is asdict."""

    @classmethod
    def from_dict(cls, d: dict | None):
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (d or {}).items() if k in names})

    def to_dict(self) -> dict:
        return asdict(self)
