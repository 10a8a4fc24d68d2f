"""The shape of the house: no import cycles, model modules as leaves, every rule's command parses with the
real CLI parser, small CLI files, one source of truth for codecs and defaults."""

from __future__ import annotations

import ast
import re
import shlex
from pathlib import Path

import pytest
import yaml

from .helpers import ROOT

SRC = ROOT / "src" / "texgen"
# the model proper: imports torch, numpy and each other, never a stage (data, training, probes, report, CLI)
MODEL_LEAVES = {"backbone", "codecs", "colour", "configs", "local", "model", "orderings", "vq", "codecs.base",
                "codecs.regression", "codecs.categorical", "codecs.candidate", "codecs.tokens"}


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """texgen modules imported anywhere in the file (function-level imports included)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("texgen")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if not mod.startswith("texgen"):
                continue
            for a in node.names:  # `from . import x` imports the module x
                found.add(f"{mod}.{a.name}" if (SRC.parent / f"{mod}.{a.name}".replace(".", "/")).exists()
                          or (SRC.parent / (f"{mod}.{a.name}".replace(".", "/") + ".py")).exists() else mod)
    return found - {name}


def graph() -> dict[str, set[str]]:
    return {module_name(p): imports(p) for p in SRC.rglob("*.py")}


def test_no_import_cycle():
    g = graph()
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        path.append(m)
        for n in sorted(g.get(m, ())):
            if state.get(n) == 1:
                raise AssertionError("import cycle: " + " -> ".join(path[path.index(n):] + [n]))
            if n not in state:
                visit(n)
        path.pop()
        state[m] = 2

    for m in sorted(g):
        if m not in state:
            visit(m)


def test_model_modules_are_leaves():
    g = graph()
    # texgen.models is the model proper and nothing else: the training stage is texgen.training
    assert {m.removeprefix("texgen.models.") for m in g if m.startswith("texgen.models.")} == MODEL_LEAVES
    for leaf in MODEL_LEAVES:
        outside = {m for m in g[f"texgen.models.{leaf}"] if m.removeprefix("texgen.models.") not in MODEL_LEAVES}
        assert not outside, f"texgen.models.{leaf} imports {sorted(outside)}"
    later = ("texgen.training", "texgen.generate", "texgen.probes", "texgen.report", "texgen.cli")
    for m, deps in g.items():
        if m.startswith("texgen.models"):
            assert not [d for d in deps if d.startswith(later)], f"{m} imports a later stage: {sorted(deps)}"
        if m.startswith("texgen.training"):  # training uses the model, never generation, probes or the CLI
            assert not [d for d in deps if d.startswith(later[1:])], f"{m} imports a later stage: {sorted(deps)}"


def test_the_graph_sees_imports():
    """The checks above are only as good as the parser: it must see relative, nested and package imports."""
    g = graph()
    assert "texgen.models.vq" in g["texgen.models.codecs.tokens"] and "texgen.models.codecs.base" in g["texgen.models.codecs"]
    assert "texgen.metrics" in g["texgen.training.tokenizer"]
    assert "texgen.curate.materials" in g["texgen.training.train"]  # a function-level import
    assert "texgen.cli.probe" in g["texgen.cli"]


def test_cli_files_are_small():
    for p in (SRC / "cli").glob("*.py"):
        assert len(p.read_text().splitlines()) <= 250, p


# placeholders that expand to whole options (or nothing) rather than to one option's value
OPTION_PLACEHOLDERS = {"{params.launcher}": "texgen", "{params.maps}": "--maps X", "{params.device}": "cuda", "{params.review}": "--review X",
                       "{params.assets}": "--palette X --tokenizer X --materials X",
                       "{params.materials}": "--materials X", "{params.extra}": "--maps X", "{params.gmic}": "--gmic X",
                       "{params.dims}": "--width 2 --height 2", "{params.tileable}": "--tileable xy",
                       "{params.variant}": "--variant X", "{params.mode}": "synthesize"}


def rule_commands() -> list[tuple[str, str]]:
    """(rule, shell command) of every rule whose shell calls texgen, placeholders filled in."""
    found = []
    for smk in sorted((ROOT / "workflow" / "rules").glob("*.smk")):
        lines = smk.read_text().splitlines()
        rule = ""
        for i, line in enumerate(lines):
            m = re.match(r"\s*(?:local)?rule (\w+):", line) or re.match(r"\s*f\"(grow_set)_", line)
            rule = m.group(1) if m else rule
            if line.strip() != "shell:":
                continue
            block = []
            for nxt in lines[i + 1:]:
                if not nxt.strip().startswith(('"', "'")):
                    break
                block.append(nxt.strip())
            cmd = ast.literal_eval("(" + "\n".join(block) + ")")
            cmd = re.sub(r"\s*2>>?\s*\{log:q\}", "", cmd)
            for key, value in OPTION_PLACEHOLDERS.items():
                cmd = cmd.replace(key, value)
            leftover = [t for t in re.findall(r"\S*\{[^}]*\}\S*", cmd)]
            tokens = cmd.split()
            for t in leftover:  # every other placeholder must be an option's value (or `texgen grow`'s exemplar)
                k = tokens.index(t)
                positional = k == 2 and tokens[:2] == ["texgen", "grow"]
                assert positional or (k > 0 and (tokens[k - 1].startswith("--") or "{" in tokens[k - 1])), (rule, t)
            found.append((rule, re.sub(r"\{[^}]*\}", "1", cmd)))  # "1": a valid path, int and JSON
    return [(r, c) for r, c in found if c.split()[0] == "texgen"]


def test_every_rule_command_parses():
    from texgen.cli import COMMANDS, build_parser

    parser = build_parser()
    commands = rule_commands()
    assert len(commands) >= 20
    used = set()
    for rule, cmd in commands:
        argv = shlex.split(cmd)[1:]
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:
            pytest.fail(f"rule {rule}: `{cmd}` does not parse ({exc})")
        assert callable(args.func)
        used.add(argv[0])
    # the commands no rule calls are the user's own
    assert {c.name for c in COMMANDS} - used == {"sample", "check-config"}


def test_codec_registry_matches_the_schema():
    from texgen.models.codecs import CODECS

    schema = yaml.safe_load((ROOT / "config" / "schema.yaml").read_text())
    variant = schema["properties"]["models"]["properties"]["variants"]["additionalProperties"]
    assert set(variant["properties"]["codec"]["enum"]) == set(CODECS)


def test_defaults_are_written_once():
    """Configuration defaults live in the schema; the model's dataclasses (leaves: they may not read the
    schema, and old checkpoints load through them) must carry the same values."""
    from dataclasses import fields

    from texgen.config import schema_defaults
    from texgen.models.model import ModelConfig
    from texgen.training.tokenizer import TokenizerTrainConfig
    from texgen.training.train import TrainConfig
    from texgen.models.vq import TokenizerConfig
    from texgen.probes.settings import ProbeConfig, probe_settings

    for cls, path in ((ModelConfig, ("models", "variants", "*")), (TokenizerConfig, ("models", "tokenizers", "*",
                                                                                     "tokenizer"))):
        schema = schema_defaults(*path)
        assert schema, path
        ours = {f.name: f.default for f in fields(cls) if f.name in schema}
        assert ours == schema, f"{cls.__name__} and the schema disagree"
    # typed settings: the dataclasses declare the schema's names (no defaults of their own), filled from it once
    for cls, path in ((TrainConfig, ("models", "variants", "*", "train")), (ProbeConfig, ("probes",)),
                      (TokenizerTrainConfig, ("models", "tokenizers", "*", "train"))):
        assert {f.name for f in fields(cls)} == set(schema_defaults(*path)), cls.__name__
        assert all(f.default is f.default_factory for f in fields(cls)), cls.__name__  # both MISSING
    assert TrainConfig.of({}).steps == 300 and TrainConfig.of({"train": {"steps": 7}}).steps == 7
    assert probe_settings({}).crop == 32 and probe_settings({"crop": 16}).crop == 16
    with pytest.raises(ValueError, match="unknown probes setting"):
        probe_settings({"crops_": 3})
    # no second copy of a defaults table in the code
    for p in SRC.rglob("*.py"):
        assert not re.search(r"^[A-Z_]*DEFAULTS = \{", p.read_text(), re.M), p


def test_defaults_fill_registry_entries():
    from texgen.config import SCHEMA, validate

    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    cfg["keywords"] = {k: str(ROOT / v) for k, v in cfg["keywords"].items()}
    filled = validate(cfg, SCHEMA)
    variant = next(iter(filled["models"]["variants"].values()))
    assert variant["resources"]["runtime"] >= 1 and variant["train"]["grad_clip"] == 1.0  # through $ref and objects


def test_snakemake_lint_finds_nothing_but_the_kept_conda_advice():
    """`snakemake --lint`: every rule has log/resources, no lambdas or paths built with +, etc. The one lint
    kept is "Specify a conda environment": one pinned environment runs every rule (README, Lint)."""
    import subprocess

    from .helpers import snakemake_cmd, venv_env

    proc = subprocess.run(snakemake_cmd() + ["--lint"], capture_output=True, text=True, cwd=ROOT, env=venv_env(),
                          timeout=300)
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out, out[-3000:]
    lints = set(re.findall(r"^\s+\* (.+?):?$", out, re.M))
    assert proc.returncode == 0 or lints, out[-3000:]  # a failing lint run names what it found
    assert lints <= {"Specify a conda environment or container for each rule."}, lints


def _require_dot() -> None:
    import os
    import shutil

    if shutil.which("dot") is None:
        message = "graphviz's dot is not installed (scripts/system-deps.sh installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def test_rule_graph_is_laid_out_by_graphviz_with_arrowheads():
    from texgen.report.dag import dot_to_svg

    _require_dot()
    svg = dot_to_svg('digraph snakemake_dag { 0[label = "all"]; 1[label = "train"]; 2[label = "tiles"];\n'
                     '1 -> 0\n2 -> 1\n2 -> 0\n}')
    assert svg.startswith("<svg") and "<?xml" not in svg
    assert svg.count('class="node"') == 3
    assert svg.count('class="edge"') == 3 and svg.count("<polygon") >= 3 + 1  # an arrowhead per edge + background


def test_a_missing_dot_or_a_broken_graph_is_a_clear_error():
    from texgen.report.dag import dot_to_svg, rulegraph_dot

    with pytest.raises(SystemExit, match="graphviz's `no-such-dot` is not on PATH.*apt-get install graphviz"):
        dot_to_svg("digraph { a -> b }", executable="no-such-dot")
    _require_dot()
    with pytest.raises(SystemExit, match="-Tsvg` failed"):
        dot_to_svg("digraph { a -> ")
    with pytest.raises(SystemExit, match="gave no rule graph"):
        rulegraph_dot("false", "Snakefile", [])


def test_train_function_stays_short():
    """The training entry point reads top to bottom: state in a dataclass, steps in helpers (issue: <= 80 lines)."""
    tree = ast.parse((SRC / "training" / "train.py").read_text())
    (fn,) = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "train"]
    assert fn.end_lineno - fn.lineno + 1 <= 80


def test_no_capability_probes_on_codecs():
    """Codec capabilities are attributes declared on ``Codec`` (False by default), read as attributes: a
    ``getattr``/``hasattr`` probe on a codec anywhere else would let a misspelt capability pass silently."""
    probe = re.compile(r"\b(getattr|hasattr)\(\s*[\w.]*codec\b")
    found = [f"{p.relative_to(SRC)}:{n}" for p in SRC.rglob("*.py") if "codecs" not in p.parts
             for n, line in enumerate(p.read_text().splitlines(), 1) if probe.search(line)]
    assert found == []
    from texgen.models.codecs import CODECS, Codec

    flags = ("needs_candidates", "grouped", "matches_windows", "supports_seed_prior")
    assert all(getattr(Codec, f) is False for f in flags)
    assert all(issubclass(c, Codec) for c in CODECS.values())
    assert {k for k, c in CODECS.items() if c.needs_candidates} == {"exemplar", "pointer", "match"}
    assert {k for k, c in CODECS.items() if c.supports_seed_prior} == {"match"}
