"""The settings and results of a search: :class:`SearchConfig` (saved as ``config.json``), :class:`SearchResult`."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Optional

import torch

from xnas.nas.arch.optimizers import ARCH_OPTIMIZERS, check_arch_lr, check_arch_weight_decay
from xnas.limits import check_seed
from xnas.nas.limits import MAX_WS_SAMPLES, WS_SAMPLES, check_hyperparameters, check_network_size
from xnas.nas.spaces.ops import check_primitives
from xnas.nas.runtime import RunError, device_memory
from xnas.nas.spaces.registry import PAPER_SEARCH, SPACES, get_space
from xnas.nas.spaces.tables import get_table, has_table
from xnas.pea.rule import check_reward_bound

__all__ = ["CHECKPOINT", "RESUME_KEYS", "WS_SAMPLES", "SearchConfig", "SearchError", "SearchResult",
           "mean_normalized_entropy"]

CHECKPOINT = "checkpoint.pt"


class SearchError(RunError):
    """The search cannot go on (a NaN loss, say); the message is one line."""


@dataclass
class SearchConfig:
    """Every setting of a search (the resolved form is saved as ``config.json``).

    Defaults are the paper's CIFAR-10 search: batch 96, 50 epochs, C = 16,
    8 cells, 4 nodes, the DARTS operations, a 50/50 split, first order.
    ``space`` names the search space (:mod:`xnas.nas.spaces.registry`); ``primitives``
    and ``nodes`` left ``None`` take the space's (nb201: its 5 operations and
    3 nodes, and ``layers`` must be ``3N``; its one cell type has no ``eta_reduce``).
    ``eta_normal`` / ``eta_reduce`` left ``None`` take the theory's
    ``eta_c* = sqrt(2 ln N / (T_c L^2))`` with the horizon the run really has.
    ``arch_weight_decay`` left ``None`` takes the architecture optimizer's
    default (``darts`` 1e-3, ``gd`` 0); ``xnas`` rejects a non-zero value.
    ``channels_last`` puts the supernet and its batches in the NHWC layout on
    every device (:func:`xnas.nas.runtime.to_layout`): 2x faster search steps on
    one CPU thread (docs/performance.md); False gives the NCHW layout of the
    earlier releases, with the same math up to floating-point rounding.
    ``compile`` runs the supernet through ``torch.compile`` (off by default: it
    pays on no CPU search, see :func:`xnas.nas.runtime.maybe_compile`).
    ``ws_samples`` is random-ws's K, the sampled cells it ranks at the end (``None``:
    :data:`WS_SAMPLES`); the other optimizers refuse it.
    """

    dataset: str = "cifar10"
    space: str = "darts"
    out_dir: str = "runs/search"
    data_dir: Optional[str] = None
    download: bool = False
    arch_optimizer: str = "xnas"
    epochs: int = PAPER_SEARCH["epochs"]
    batch_size: int = PAPER_SEARCH["batch_size"]
    split: float = 0.5
    limit: Optional[int] = None
    augment: bool = True
    channels: int = PAPER_SEARCH["channels"]
    layers: int = PAPER_SEARCH["layers"]
    nodes: Optional[int] = None
    primitives: Optional[tuple] = None
    lr: float = 0.025
    lr_min: float = 0.001
    momentum: float = 0.9
    weight_decay: float = 3e-4
    grad_clip: float = 5.0
    eta_normal: Optional[float] = None
    eta_reduce: Optional[float] = None
    L: float = 1.0
    zeta: float = 1.0
    arch_lr: Optional[float] = None
    arch_weight_decay: Optional[float] = None
    ws_samples: Optional[int] = None
    seed: int = 0
    device: str = "auto"
    workers: int = 0
    threads: Optional[int] = None
    micro_batches: int = 1
    channels_last: bool = True
    compile: bool = False
    record_rewards: bool = False
    plots: bool = True
    progress: bool = True

    def __post_init__(self) -> None:
        # None takes the space's own operations and nodes (an unknown space is left to validate)
        space = SPACES.get(self.space)
        if space is not None:
            if self.primitives is None:
                self.primitives = space.primitives
            if self.nodes is None:
                self.nodes = space.default_nodes

    def validate(self, info: Any = None) -> "SearchConfig":
        """Check every field, then the supernet's size; raises ``ValueError`` with one line naming the problem.

        ``info`` (a :class:`~xnas.nas.data.datasets.DatasetInfo`) gives the image shape for
        the size check; by default the dataset's own (read without loading the data).
        """
        self._check_fields()
        self.check_size(info)
        return self

    def check_size(self, info: Any = None) -> None:
        """Refuse a supernet too large for the memory of the device (or the host), before any data is loaded.

        Raises
        ------
        LimitError
            (a ``ValueError``) One line naming the option to lower.
        DataError
            An unknown dataset or an unusable image folder (when ``info`` is None).
        """
        if info is None:
            from xnas.nas.data.datasets import dataset_info

            info = dataset_info(self.dataset, self.data_dir)
        check_network_size(self.channels, self.layers, self.nodes, self.batch_size, info.image_size, info.channels,
                           search=True, n_ops=len(self.primitives), available=device_memory(self.device),
                           cells=get_space(self.space).cell_model)

    def _check_fields(self) -> None:
        space = get_space(self.space)
        if has_table(space.name):
            get_table(space.name)  # a missing or corrupt table stops the search before it starts (TableError)

        def positive(name: str, value: Any, integer: bool = False) -> None:
            bad = value is None or isinstance(value, bool) or not isinstance(value, (int, float))
            if not bad:
                bad = not math.isfinite(value) or value <= 0 or (integer and int(value) != value)
            if bad:
                kind = "a positive integer" if integer else "positive"
                raise ValueError(f"{name} must be {kind}, got {value!r}")

        for name in ("epochs", "batch_size", "channels", "layers", "nodes", "micro_batches"):
            positive(name, getattr(self, name), integer=True)
        for name in ("lr", "lr_min", "L"):
            positive(name, getattr(self, name))
        for name in ("eta_normal", "eta_reduce", "arch_lr"):
            if getattr(self, name) is not None:
                positive(name, getattr(self, name))
        if self.lr_min > self.lr:
            raise ValueError(f"lr_min {self.lr_min} exceeds lr {self.lr}")
        if not 0.0 <= self.momentum < 1.0:
            raise ValueError(f"momentum must lie in [0, 1), got {self.momentum}")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ValueError(f"weight decay must be non-negative, got {self.weight_decay}")
        if not (math.isfinite(self.grad_clip) and self.grad_clip > 0):
            raise ValueError(f"grad clip must be positive, got {self.grad_clip}")
        if not (0.0 < self.zeta <= 1.0):
            raise ValueError(f"zeta must lie in (0, 1], got {self.zeta}")
        if not (0.0 < self.split < 1.0):
            raise ValueError(f"split must lie strictly between 0 and 1, got {self.split}")
        space.check_shape(self.layers, self.nodes)
        if "reduce" not in space.cell_types and self.eta_reduce is not None:
            raise ValueError(f"the {space.name} space has no reduction cell: eta_reduce does not apply")
        if self.limit is not None and (isinstance(self.limit, bool) or self.limit < 4):
            raise ValueError(f"limit must be at least 4 images, got {self.limit}")
        if self.threads is not None and (isinstance(self.threads, bool) or self.threads < 1):
            raise ValueError(f"threads must be a positive integer, got {self.threads!r}")
        if self.workers < 0:
            raise ValueError(f"workers must be non-negative, got {self.workers}")
        if self.arch_optimizer not in ARCH_OPTIMIZERS:
            raise ValueError(
                f"unknown architecture optimizer {self.arch_optimizer!r}; choose from {', '.join(ARCH_OPTIMIZERS)}"
            )
        check_arch_weight_decay(self.arch_optimizer, self.arch_weight_decay)
        check_arch_lr(self.arch_optimizer, self.arch_lr)
        self._check_rule_settings(space)
        check_primitives(self.primitives, space.primitives)
        if self.device not in ("auto", "cpu") and not self.device.startswith("cuda"):
            raise ValueError(f"device must be auto, cpu or cuda[:N], got {self.device!r}")
        # after the checks above, whose messages are more specific: these bound what float32 and the RNGs hold
        check_reward_bound(self.L)
        check_hyperparameters(lr=self.lr, lr_min=self.lr_min, weight_decay=self.weight_decay, momentum=self.momentum,
                              grad_clip=self.grad_clip, arch_lr=self.arch_lr, arch_weight_decay=self.arch_weight_decay,
                              eta_normal=self.eta_normal, eta_reduce=self.eta_reduce)
        check_seed(self.seed, "seed")

    def _check_rule_settings(self, space: Any) -> None:
        """Refuse what the architecture optimizer would ignore, by what the rule is: K (``ws_samples``)
        belongs to rules that rank sampled cells (random-ws), which sample the space's own cells; a rule
        without an architecture step has no etas and observes no rewards; a one-hot rule's forward
        changes with every sampled cell, which torch.compile would recompile."""
        rule, name = ARCH_OPTIMIZERS[self.arch_optimizer].build, self.arch_optimizer
        if rule.cell_from_weights:
            if self.ws_samples is not None:
                raise ValueError(f"--ws-samples is random-ws's; {name} derives its cell from its weights")
        else:
            if self.ws_samples is not None:
                bad = isinstance(self.ws_samples, bool) or not isinstance(self.ws_samples, int)
                if bad or not 1 <= self.ws_samples <= MAX_WS_SAMPLES:
                    raise ValueError(f"ws_samples must be an integer from 1 to {MAX_WS_SAMPLES}, "
                                     f"got {self.ws_samples!r}")
            if tuple(self.primitives) != tuple(space.primitives) or self.nodes != space.default_nodes:
                raise ValueError(f"{name} samples the {space.name} space's own cells: it takes the space's "
                                 f"operations and {space.default_nodes} nodes")
        if not rule.steps_on_validation:
            if self.eta_normal is not None or self.eta_reduce is not None:
                raise ValueError(f"--eta-normal and --eta-reduce set the steps of xnas and gd; {name} has no "
                                 "architecture step")
            if self.record_rewards:
                raise ValueError(f"{name} observes no rewards (it has no architecture step): drop --record-rewards")
        if rule.one_hot and self.compile:
            raise ValueError(f"{name} computes only each sampled cell's operations, which torch.compile would "
                             "recompile for every cell: drop --compile")

    @property
    def samples(self) -> int:
        """random-ws's K, resolved (the resume check compares this, not the option as given)."""
        return WS_SAMPLES if self.ws_samples is None else self.ws_samples

    def to_dict(self) -> dict:
        """JSON-ready dict."""
        d = asdict(self)
        d["primitives"] = list(self.primitives)
        return d

    @classmethod
    def from_dict(cls, data: dict) -> "SearchConfig":
        """Inverse of :meth:`to_dict` (unknown keys are ignored)."""
        names = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in names}
        if "primitives" in kwargs:
            kwargs["primitives"] = tuple(kwargs["primitives"])
        return cls(**kwargs)


@dataclass
class SearchResult:
    """What a finished (or stopped) search hands back."""

    genotype: Any  # a Genotype (darts) or an NB201Genotype
    epochs_done: int
    log: list
    out_dir: str
    probabilities: dict = field(default_factory=dict)
    alive: dict = field(default_factory=dict)
    selection: Optional[dict] = None  # random-ws: the candidates' validation errors (search.select)

    def summary(self, space: str) -> dict:
        """One JSON-ready object (``xnas-nas search --json``): the genotype and the last epoch's metrics.

        ``space`` names the search space, which writes the genotype's ``text``
        (``darts`` repeats it for the darts space, ``None`` otherwise);
        ``seconds`` sums the logged epochs' times and random-ws's scoring (``selection``); ``table`` is the found cell's entry in the
        space's table of trained cells (nb201: :meth:`~xnas.nas.spaces.nb201.table.NB201Table.lookup`),
        ``None`` in a space without one.
        """
        last = self.log[-1] if self.log else {}
        text = get_space(space).format_genotype(self.genotype)
        return {
            "space": space,
            "genotype": self.genotype.to_dict(),
            "text": text,
            "darts": text if space == "darts" else None,
            "out_dir": self.out_dir,
            "epochs": self.epochs_done,
            "valid_acc": last.get("valid_acc"),
            "valid_loss": last.get("valid_loss"),
            "entropy": last.get("entropy"),
            "alive": last.get("alive"),
            "seconds": sum(e.get("seconds", 0.0) for e in self.log) + (self.selection or {}).get("seconds", 0.0),
            "table": get_table(space).lookup(self.genotype) if has_table(space) else None,
            "selection": self.selection,
        }


def mean_normalized_entropy(probs: dict[str, torch.Tensor]) -> float:
    """Mean over all edges of ``H(u) / ln N`` (paper, section 8.5).

    1 means uniform weights on every edge, 0 a single expert per edge.
    """
    values = []
    for u in probs.values():
        u = torch.as_tensor(u, dtype=torch.float64)
        n = u.shape[-1]
        h = -(u * torch.where(u > 0, u.log(), torch.zeros_like(u))).sum(-1) / math.log(n)
        values.append(h)
    return float(torch.cat(values).mean())


# Everything that shapes the result must match between the parts of a resumed
# search; device, threads, workers, progress and plots may change.
RESUME_KEYS = (
    "dataset", "space", "arch_optimizer", "epochs", "batch_size", "channels", "layers", "nodes", "primitives", "seed",
    "split", "limit", "augment", "lr", "lr_min", "momentum", "weight_decay", "grad_clip", "eta_normal",
    "eta_reduce", "L", "zeta", "arch_lr", "arch_weight_decay", "micro_batches", "samples",
)
