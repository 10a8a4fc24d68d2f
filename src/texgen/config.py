"""Configuration validation: JSON schema plus checks of the files it names, with readable errors."""

from __future__ import annotations

import copy
import functools
import json
import math
from pathlib import Path
from typing import Any

import yaml


SCHEMA = Path(__file__).with_name("schema.yaml")  # config/schema.yaml links here: the package carries it


class ConfigError(ValueError):
    """The configuration is invalid; the message names every offending key or file."""


def schema_defaults(*path: str) -> dict:
    """The schema's defaults of the object at ``path`` (property names; "*" for a registry entry such as
    one model variant): the one place each configuration default is written. Python reads them here,
    ``validate`` fills them into the configuration."""
    node = load_schema(SCHEMA)
    for key in path:
        node = node["additionalProperties"] if key == "*" else node["properties"][key]
        if "$ref" in node:
            node = load_schema(SCHEMA)["$defs"][node["$ref"].rsplit("/", 1)[1]]
    return {k: copy.deepcopy(v["default"]) for k, v in node.get("properties", {}).items() if "default" in v}


def typed_settings(cls: type, path: tuple[str, ...], values: dict | None = None):
    """A typed settings dataclass (``TrainConfig``, ``ProbeConfig``, ...) filled once: the schema's defaults at
    ``path`` under ``values``. The dataclass declares names and types only; the schema holds every default."""
    from dataclasses import fields

    merged = {**schema_defaults(*path), **(values or {})}
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(merged) - names)
    if unknown:
        raise ValueError(f"unknown {'.'.join(path)} setting(s) {unknown}; known: {sorted(names)}")
    return cls(**merged)


def _where(path: Any) -> str:
    parts = [str(p) for p in path]
    return ".".join(parts) if parts else "(top level)"


def _describe(err: "jsonschema.ValidationError") -> str:  # noqa: F821
    """One line per error: the key, what is wrong, what is expected."""
    where = _where(err.absolute_path)
    desc = err.schema.get("description") if isinstance(err.schema, dict) else None
    if err.validator == "additionalProperties":
        allowed = sorted((err.schema.get("properties") or {}).keys())
        extra = sorted(set(err.instance) - set(allowed)) if isinstance(err.instance, dict) else []
        hint = f"; allowed keys: {', '.join(allowed)}" if allowed else ""
        return f"{where}: unknown key(s) {', '.join(map(repr, extra))}{hint}"
    if err.validator == "enum":
        return f"{where}: {err.instance!r} is not one of {', '.join(map(repr, err.validator_value))}"
    if err.validator == "required":
        return f"{where}: {err.message}"
    if err.validator == "propertyNames":
        return f"{where}: invalid name {err.instance!r}"
    msg = f"{where}: {err.message}"
    if desc:
        msg += f" (expected: {desc.strip()})"
    return msg


def _fill_defaults(instance: Any, schema: dict, root: dict | None = None) -> None:
    """Insert schema defaults for missing keys (in place), recursing into objects and local $refs."""
    root = root or schema
    if "$ref" in schema:
        schema = root["$defs"][schema["$ref"].rsplit("/", 1)[1]]
    if not isinstance(instance, dict) or schema.get("type") != "object":
        return
    for key, sub in (schema.get("properties") or {}).items():
        if "$ref" in sub:
            sub = root["$defs"][sub["$ref"].rsplit("/", 1)[1]]
        if key not in instance and "default" in sub:
            instance[key] = copy.deepcopy(sub["default"])
        if key not in instance and sub.get("type") == "object" and "properties" in sub and not sub.get("required"):
            instance[key] = {}
            _fill_defaults(instance[key], sub, root)
        elif key in instance:
            _fill_defaults(instance[key], sub, root)
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        for key, value in instance.items():
            if key not in (schema.get("properties") or {}):
                _fill_defaults(value, extra, root)


@functools.cache
def _read_schema(path: str) -> dict:
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def load_schema(path: str | Path = SCHEMA) -> dict:
    """Read the YAML schema (a fresh copy: callers may change it)."""
    return copy.deepcopy(_read_schema(str(path)))


def validate(config: dict, schema_path: str | Path, check_files: bool = True) -> dict:
    """Validate ``config`` against the schema and its named files; return a copy with defaults filled.

    Raises ConfigError listing every problem (key path, what is wrong, what is expected).
    """
    schema = load_schema(schema_path)
    import jsonschema  # here, not at import: model commands on a GPU node need no schema validator

    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    problems = []
    for err in errors:
        # an if/then failure repeats as its inner 'required' error; report the specific one
        leaves = [e for e in (err.context or [])] or [err]
        problems.extend(_describe(e) for e in leaves)
    if problems:
        raise ConfigError("invalid configuration:\n  - " + "\n  - ".join(dict.fromkeys(problems)))
    cfg = copy.deepcopy(config)
    _fill_defaults(cfg, schema)
    problems = (list(_file_problems(cfg)) if check_files else []) + list(grow_problems(cfg, check_files))
    if problems:
        raise ConfigError("invalid configuration:\n  - " + "\n  - ".join(problems))
    return cfg


def _file_problems(cfg: dict):
    for key in ("good", "bad"):
        p = Path(cfg["keywords"][key])
        if not p.is_file():
            yield f"keywords.{key}: file {str(p)!r} does not exist (expected a text file with one keyword per line)"
    maps = cfg["keywords"].get("maps")
    if maps and not Path(maps).is_file():
        yield f"keywords.maps: file {maps!r} does not exist (expected a text file with one 'type: word word' per line)"
    for name, src in cfg["sources"].items():
        kind = src["kind"]
        if kind == "folder" and not Path(src["path"]).is_dir():
            yield f"sources.{name}.path: folder {src['path']!r} does not exist (kind 'folder' expects a directory)"
        if kind == "archive":
            p = Path(src["path"])
            if not p.is_file():
                yield f"sources.{name}.path: archive {src['path']!r} does not exist (kind 'archive' expects a zip/tar/wheel file)"
            else:
                from .acquire.archive import archive_format

                if archive_format(p) is None:
                    yield f"sources.{name}.path: {src['path']!r} is not a zip, tar, tar.gz/bz2/xz or wheel file"
    yield from _model_problems(cfg)
    size = (cfg.get("analysis") or {}).get("tile_size")
    if size is not None and size not in cfg["curate"]["tile_sizes"]:
        yield f"analysis.tile_size: {size} is not one of curate.tile_sizes {cfg['curate']['tile_sizes']}"


def load(path: str | Path, schema_path: str | Path | None = None, check_files: bool = True) -> dict:
    """Read a YAML config file and validate it."""
    with open(path, encoding="utf-8") as fh:
        cfg = yaml.safe_load(fh) or {}
    return validate(cfg, schema_path or SCHEMA, check_files)


def built_tokenizers(models: dict) -> list[str]:
    """Tokenizers to train: ``tokenizer_build`` (e.g. the codebook ablation) plus those of built vq variants."""
    variants = models.get("variants") or {}
    used = [variants[v]["tokenizer"] for v in models.get("build") or [] if variants[v]["codec"] == "vq"]
    return list(dict.fromkeys((models.get("tokenizer_build") or []) + used))


def grow_variant(grow: dict, name: str) -> dict:
    """The generator settings of a grow variant: grow.generator with the variant's ``generator`` keys over it
    ('' = grow.generator as it is)."""
    return {**grow["generator"], **(grow["variants"][name]["generator"] if name else {})}


def grow_problems(cfg: dict, check_files: bool = True):
    """Problems of the grow section: unknown variants, variant settings the generator rejects, and (files) every
    set's exemplar, companion maps and their sizes. Each names the set (or variant) and the file."""
    grow = cfg.get("grow")
    if not grow:
        return
    import jsonschema

    node = load_schema(SCHEMA)["properties"]["grow"]["properties"]["generator"]
    for name in grow["variants"]:
        for err in jsonschema.Draft202012Validator(node).iter_errors(grow_variant(grow, name)):
            yield f"grow.variants.{name}.generator: {_describe(err)}"
    for name, spec in grow["sets"].items():
        where = f"grow.sets.{name}"
        if spec["variant"] and spec["variant"] not in grow["variants"]:
            yield (f"{where}.variant: unknown variant {spec['variant']!r} (grow.variants defines: "
                   f"{', '.join(sorted(grow['variants'])) or 'none'})")
        if not check_files:
            continue
        from .generate.maps import ExemplarError, check_sizes, exemplar_files

        try:
            check_sizes(*exemplar_files(spec["exemplar"], spec["maps"],
                                        cfg["keywords"].get("maps") or "config/keywords/maps.txt"))
        except ExemplarError as exc:
            yield f"{where}: {exc}"


def _model_problems(cfg: dict):
    models = cfg.get("models")
    if not models:
        return
    variants = models["variants"]
    tokenizers = models.get("tokenizers") or {}
    for name in models["build"]:
        if name not in variants:
            yield f"models.build: unknown variant {name!r} (defined: {', '.join(sorted(variants))})"
    for name in models.get("tokenizer_build") or []:
        if name not in tokenizers:
            yield f"models.tokenizer_build: unknown tokenizer {name!r} (defined: {', '.join(sorted(tokenizers)) or 'none'})"
    for name, tok in tokenizers.items():
        for src in (tok.get("data") or {}).get("sources") or []:
            if src not in cfg["sources"]:
                yield f"models.tokenizers.{name}.data.sources: unknown source {src!r}"
        patch = (tok.get("tokenizer") or {}).get("patch", 4)
        crop = (tok.get("train") or {}).get("crop", 32)
        if crop % patch:
            yield f"models.tokenizers.{name}.train.crop: {crop} is not a multiple of the patch {patch}"
    sizes = cfg["curate"]["tile_sizes"]
    for name, v in variants.items():
        where = f"models.variants.{name}"
        data = v.get("data") or {}
        for src in data.get("sources") or []:
            if src not in cfg["sources"]:
                yield f"{where}.data.sources: unknown source {src!r}"
        size = data.get("tile_size", min(sizes))
        if size not in sizes:
            yield f"{where}.data.tile_size: {size} is not one of curate.tile_sizes {sizes}"
        if v["ordering"] == "local":
            side = data.get("crop_size", 32)
            if v["codec"] == "vq":
                yield f"{where}.codec: the local ordering predicts pixels; codec 'vq' needs a sequence ordering"
            elif 2 * v["window"] + 1 > side:
                yield f"{where}.window: a {2 * v['window'] + 1}-pixel window is larger than the crops ({side})"
        elif v["ordering"] == "column":
            side = v["context"] + 1
        else:
            side = math.ceil(math.sqrt(v["context"] + 1))
        codec = v["codec"]
        if codec == "vq":
            tok = v.get("tokenizer")
            if tok not in tokenizers:
                yield (f"{where}.tokenizer: {'unknown tokenizer ' + repr(tok) if tok else 'missing'}: codec 'vq' needs "
                       f"one of models.tokenizers ({', '.join(sorted(tokenizers)) or 'none defined'})")
            else:
                side *= (tokenizers[tok].get("tokenizer") or {}).get("patch", 4)
        elif v.get("tokenizer"):
            yield f"{where}.tokenizer: only codec 'vq' uses a tokenizer (this variant's codec is {codec!r})"
        if codec == "palette" and not v.get("palette_size"):
            yield f"{where}.palette_size: codec 'palette' needs the number of palette colours, e.g. palette_size: 64"
        if v.get("condition") and not cfg.get("materials"):
            yield f"{where}.condition: conditioning on material needs a top-level 'materials' section"
        if side > size:
            yield f"{where}: a training crop of {side} pixels does not fit in tiles of {size}"
        if v["n_embd"] // v["n_head"] < 1:
            yield f"{where}: n_embd {v['n_embd']} is smaller than n_head {v['n_head']}"


def schema_reference(schema_path: str | Path = SCHEMA) -> str:
    """Every configuration key as a Markdown table (key, type, default, meaning), read from the schema:
    ``config/README.md`` is this text, and a test keeps it so."""
    schema = load_schema(schema_path)
    defs = schema.get("$defs", {})
    rows: list[tuple[str, str, str, str]] = []

    def kind(node: dict) -> str:
        if "enum" in node:
            return " \\| ".join(repr(v) if v == "" else str(v) for v in node["enum"])
        if "anyOf" in node:
            return " or ".join(kind(n) for n in node["anyOf"])
        return str(node.get("type", "object" if "properties" in node else ""))

    def walk(node: dict, path: str, depth: int = 0) -> None:
        if "$ref" in node:
            node = {**defs[node["$ref"].rsplit("/", 1)[1]], **{k: v for k, v in node.items() if k != "$ref"}}
        if path:
            default = json.dumps(node["default"]) if "default" in node else ""
            text = " ".join(str(node.get("description", "")).split())
            rows.append((path, kind(node), default, text))
        for key, sub in (node.get("properties") or {}).items():
            walk(sub, f"{path}.{key}" if path else key, depth + 1)
        extra = node.get("additionalProperties")
        if isinstance(extra, dict) and depth < 6:
            walk(extra, f"{path}.NAME", depth + 1)

    walk(schema, "")
    lines = ["| key | type | default | meaning |", "|---|---|---|---|"]
    lines += [f"| `{k}` | {t} | {f'`{d}`' if d else ''} | {m.replace('|', '/')} |" for k, t, d, m in rows]
    return "\n".join(lines) + "\n"
