"""The command registry: each stage module declares its commands with ``@command``, arguments beside the
handler, so one command lives in one place (the rule that calls it is the only other)."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from dataclasses import dataclass

Handler = Callable[[argparse.Namespace], None]


@dataclass(frozen=True)
class Arg:
    flags: tuple[str, ...]
    options: dict


def arg(*flags: str, **options) -> Arg:
    """One ``add_argument`` call, kept as data until the parser is built."""
    return Arg(flags, options)


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    args: tuple[Arg, ...]
    func: Handler
    torch_threads: bool


COMMANDS: list[Command] = []

THREADS_HELP = "torch threads (0: torch's default, every core)"


def command(name: str, help: str, *args: Arg, torch_threads: bool = False) -> Callable[[Handler], Handler]:
    """Register ``texgen <name>``. ``torch_threads`` adds ``--threads`` and limits torch to it before the
    handler runs: two jobs that each spin every core's worth of threads on a shared CPU slow each other
    down several times."""
    def register(func: Handler) -> Handler:
        COMMANDS.append(Command(name, help, args, func, torch_threads))
        return func
    return register


def add_commands(sub: argparse._SubParsersAction) -> None:
    for c in COMMANDS:
        s = sub.add_parser(c.name, help=c.help)
        groups: dict[str, argparse._ArgumentGroup] = {}
        for a in c.args:
            options = dict(a.options)
            title = options.pop("group", None)  # e.g. "advanced": research knobs listed apart in --help
            target = groups.setdefault(title, s.add_argument_group(title)) if title else s
            target.add_argument(*a.flags, **options)
        if c.torch_threads:
            s.add_argument("--threads", type=int, default=0, help=THREADS_HELP)
        s.set_defaults(func=_with_threads(c.func) if c.torch_threads else c.func)


def _with_threads(func: Handler) -> Handler:
    def run(a: argparse.Namespace) -> None:
        if a.threads:
            import torch

            torch.set_num_threads(a.threads)
        func(a)
    return run


def spec(a: argparse.Namespace) -> dict:
    """The command's ``--spec`` JSON (settings passed as Snakemake ``params``)."""
    return json.loads(a.spec)


def device(name: str | None) -> str:
    """--device auto|cpu|cuda: auto takes CUDA when torch sees a GPU; cuda without one fails at once with one
    line (a GPU job that silently trained on the CPU would crawl for its whole time limit)."""
    import socket

    import torch

    if name in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"error: --device cuda (the variant asks for GPUs), but torch {torch.__version__} sees no CUDA "
                         f"GPU on {socket.gethostname()} (torch's CUDA build: {torch.version.cuda or 'none, a CPU wheel'}"
                         f"; CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', 'unset')}): check nvidia-smi "
                         f"and that the driver supports this torch's CUDA (README: GPU installs), or set the variant's "
                         f"resources.gpus: 0 to run on the CPU")
    return name


DEVICE = arg("--device", choices=["auto", "cpu", "cuda"], default="auto",
             help="auto: CUDA when torch sees a GPU; cuda: fail at once without one")
SPEC = arg("--spec", required=True, help="JSON of the step's settings (Snakemake params)")
OUT = arg("--out", required=True)
MODEL = arg("--model", required=True, help="results/models/{variant}/model.pt")
SPLIT = arg("--split", required=True, help="the variant's split.tsv (its validation tiles are held out)")
