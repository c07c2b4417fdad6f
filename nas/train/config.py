"""The settings of a training run (:class:`TrainConfig`) and its two kinds of failure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from xnas.nas.spaces.darts.genotypes import Genotype
from xnas.nas.train.recipes import Recipe
from xnas.nas.runtime import RunError, SetupError

__all__ = ["TrainConfig", "TrainingError", "TrainSetupError"]


class TrainingError(RunError):
    """The run cannot continue (e.g. a non-finite loss); one-line message."""


class TrainSetupError(SetupError):
    """Bad settings detected before training starts (one-line message)."""


@dataclass
class TrainConfig:
    """Everything a training run needs besides the recipe's fields.

    Attributes
    ----------
    dataset : str
        A dataset name (see :mod:`xnas.nas.data.datasets`).
    genotype : Genotype or NB201Genotype
        A cell of the recipe's space (``recipe.space``).
    recipe : Recipe
        Already resolved (overrides applied).
    out : str
        Output folder.
    data_dir : str, optional
    download : bool
    seed : int
    device : str
        ``auto`` (CUDA when available), ``cpu``, ``cuda`` or ``cuda:N``.
    limit : int, optional
        Use only this many training and test images (a seeded subset): quick runs.
    max_steps : int, optional
        At most this many optimizer steps per epoch.
    num_workers : int, optional
        DataLoader worker processes; ``None`` picks 0 on CPU and
        ``min(8, cpu_count // local processes)`` on CUDA.
    eval_every : int
        Evaluate on the test split every this many epochs (and always after the last).
    log_format : str
        ``jsonl`` or ``csv``.
    channels_last : bool
        Use channels_last (NHWC) tensors. On by default: besides CUDA, it made
        training 1.5x faster on a 2-core EPYC CPU at 32x32 (``benchmarks/bench_train.py``).
    compile : bool
        Run the network through ``torch.compile`` (:func:`xnas.nas.runtime.maybe_compile`);
        off by default, as for the search.
    progress : bool
        Show a rich progress display on stderr (rank 0 only).
    threads : int, optional
        CPU threads of torch; None follows :func:`xnas.nas.runtime.default_threads`
        (1 thread), as the search does; config.json records the count used.
    """

    dataset: str
    genotype: Any
    recipe: Recipe
    out: str
    data_dir: Optional[str] = None
    download: bool = False
    seed: int = 0
    device: str = "auto"
    limit: Optional[int] = None
    max_steps: Optional[int] = None
    num_workers: Optional[int] = None
    eval_every: int = 1
    log_format: str = "jsonl"
    progress: bool = True
    channels_last: bool = True
    compile: bool = False
    threads: Optional[int] = None
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The resolved configuration as JSON-ready data."""
        return {
            "dataset": self.dataset,
            "data_dir": self.data_dir,
            "space": self.recipe.space,
            "genotype": self.genotype.to_dict(),
            **({"genotype_darts": self.genotype.to_darts()} if isinstance(self.genotype, Genotype) else {}),
            "recipe": self.recipe.to_dict(),
            "seed": self.seed,
            "device": self.device,
            "limit": self.limit,
            "max_steps": self.max_steps,
            "num_workers": self.num_workers,
            "eval_every": self.eval_every,
            "log_format": self.log_format,
            "channels_last": self.channels_last,
            "compile": self.compile,
            **self.extra,
        }
