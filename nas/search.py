"""The search loop: alternate weight and architecture steps on the DARTS supernet.

This is the trainer of the NASLib-style split: the search space lives in
:mod:`xnas.nas.supernet`, the architecture update rules in
:mod:`xnas.nas.arch_optimizers`, and this module only schedules them.

One step (first order, as in the paper, section 4.1):

1. **weight step** on a batch of the train half: SGD (lr 0.025 cosine-annealed
   to 0.001 per epoch, momentum 0.9, weight decay 3e-4, gradient-norm clip 5)
   on the mean cross entropy, with the current mixing weights held fixed;
2. **architecture step** on a batch of the validation half: the architecture
   optimizer's mixing weights ``u`` go through the supernet, the loss is summed
   over the batch (scaled by the rule's ``loss_scale``), one backward pass gives
   ``dloss/du``, and the rule updates the weights.  For XNAS, experts wiped by
   the step are deleted from the supernet at once and their parameters leave
   the SGD optimizer (:func:`xnas.nas.supernet.prune_optimizer`).

Under ``torchrun`` every rank takes its share of the global batch; network
gradients and architecture gradients are summed across ranks with one
all-reduce each before the updates, so all ranks apply identical updates.
``micro_batches`` splits a batch into strided chunks exactly as the ranks of a
distributed run would (batch norm sees the same per-chunk statistics), which is
how the test compares one process with two.

After every epoch (rank 0) the loop appends a line to ``log.jsonl`` and writes
an atomic checkpoint; ``resume`` restarts from it and, on CPU, ends in the same
weights and genotype as an uninterrupted run.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Callable, Optional

import numpy as np
import torch
import torch.nn.functional as F

from xnas.nas import distributed as dist
from xnas.nas.arch_optimizers import ARCH_OPTIMIZERS, ArchSettings, build_arch_optimizer, check_arch_weight_decay
from xnas.nas.checkpoint import CheckpointError, capture_rng_state, load_checkpoint, restore_rng_state, save_checkpoint
from xnas.nas.checkpoint import write_text_atomic as _write_text_atomic
from xnas.nas.data import default_transform, make_loader, search_splits, set_loader_epoch
from xnas.nas.genotypes import Genotype
from xnas.nas.ops import OPERATIONS, PRIMITIVES
from xnas.nas.supernet import CELL_TYPES, SearchNetwork, discretize, prune_optimizer
from xnas.pea.rule import eta_star

__all__ = [
    "SearchConfig",
    "SearchError",
    "SearchResult",
    "mean_normalized_entropy",
    "run_search",
]

CHECKPOINT = "checkpoint.pt"


class SearchError(RuntimeError):
    """The search cannot go on (a NaN loss, say); the message is one line."""


@dataclass
class SearchConfig:
    """Every setting of a search (the resolved form is saved as ``config.json``).

    Defaults are the paper's CIFAR-10 search: batch 96, 50 epochs, C = 16,
    8 cells, 4 nodes, the DARTS operations, a 50/50 split, first order.
    ``eta_normal`` / ``eta_reduce`` left ``None`` take the theory's
    ``eta_c* = sqrt(2 ln N / (T_c L^2))`` with the horizon the run really has.
    ``arch_weight_decay`` left ``None`` takes the architecture optimizer's
    default (``darts`` 1e-3, ``gd`` 0); ``xnas`` rejects a non-zero value.
    """

    dataset: str = "cifar10"
    out_dir: str = "runs/search"
    data_dir: Optional[str] = None
    download: bool = False
    arch_optimizer: str = "xnas"
    epochs: int = 50
    batch_size: int = 96
    split: float = 0.5
    limit: Optional[int] = None
    augment: bool = True
    channels: int = 16
    layers: int = 8
    nodes: int = 4
    primitives: tuple = PRIMITIVES
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
    seed: int = 0
    device: str = "auto"
    workers: int = 0
    threads: Optional[int] = None
    micro_batches: int = 1
    record_rewards: bool = False
    plots: bool = True
    progress: bool = True

    def validate(self) -> "SearchConfig":
        """Check every field; raises ``ValueError`` with one line naming the problem."""

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
        if self.layers < 3:
            raise ValueError(f"a search needs at least 3 cells (normal and reduction), got {self.layers}")
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
        prims = tuple(self.primitives)
        if len(prims) < 2 or len(set(prims)) != len(prims):
            raise ValueError(f"need at least 2 distinct operations, got {list(prims)}")
        for p in prims:
            if p not in OPERATIONS:
                raise ValueError(f"unknown operation {p!r}; choose from {', '.join(OPERATIONS)}")
        if self.device not in ("auto", "cpu") and not self.device.startswith("cuda"):
            raise ValueError(f"device must be auto, cpu or cuda[:N], got {self.device!r}")
        return self

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

    genotype: Genotype
    epochs_done: int
    log: list
    out_dir: str
    probabilities: dict = field(default_factory=dict)
    alive: dict = field(default_factory=dict)


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


# ---------------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------------
def _save_npy_atomic(path: str, array: np.ndarray) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npy", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.save(fh, array)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("device cuda requested but CUDA is not available")
    return torch.device(name)


def _cosine_lr(cfg: SearchConfig, epoch: int) -> float:
    """DARTS' per-epoch cosine annealing from ``lr`` to ``lr_min`` over ``epochs``."""
    return cfg.lr_min + 0.5 * (cfg.lr - cfg.lr_min) * (1.0 + math.cos(math.pi * epoch / cfg.epochs))


def _flat_all_reduce_(tensors: list[torch.Tensor]) -> None:
    """Sum a list of tensors across ranks with one all-reduce."""
    if dist.world_size() <= 1 or not tensors:
        return
    flat = torch.cat([t.reshape(-1) for t in tensors])
    dist.all_reduce_sum_(flat)
    offset = 0
    for t in tensors:
        n = t.numel()
        t.copy_(flat[offset : offset + n].view_as(t))
        offset += n


def _chunks(x: torch.Tensor, y: torch.Tensor, parts: int):
    # Strided chunks: chunk j holds examples j, j + parts, ... which is exactly the
    # share of rank j when a DistributedSampler splits the same global batch.
    if parts == 1:
        yield x, y
        return
    for j in range(parts):
        yield x[j::parts], y[j::parts]


# ---------------------------------------------------------------------------------
# the search
# ---------------------------------------------------------------------------------
class _Search:
    def __init__(self, cfg: SearchConfig, resume: bool) -> None:
        self.cfg = cfg
        self.resume = resume
        self.distributed = dist.init_from_env(device=None if cfg.device == "auto" else cfg.device)
        self.world = dist.world_size()
        self.rank = dist.rank()
        self.main = dist.is_main()
        self.device = _resolve_device(cfg.device)
        if self.device.type == "cuda" and self.distributed:
            self.device = torch.device("cuda", dist.local_rank())
        self.cuda = self.device.type == "cuda"
        if cfg.batch_size % (self.world * cfg.micro_batches):
            raise ValueError(
                f"batch size {cfg.batch_size} must be divisible by ranks x micro-batches = {self.world * cfg.micro_batches}"
            )
        self.out_dir = cfg.out_dir
        self.ckpt_path = os.path.join(self.out_dir, CHECKPOINT)

    # -- setup -----------------------------------------------------------
    def build(self, datasets=None) -> None:
        cfg = self.cfg
        torch.manual_seed(cfg.seed)
        np.random.seed(cfg.seed % 2**32)
        import random

        random.seed(cfg.seed)
        if self.cuda:
            torch.backends.cudnn.benchmark = True
        elif cfg.threads is not None:
            # Small supernets are made of many tiny kernels: extra intra-op threads
            # buy little and, on a shared machine, spin-wait against each other.
            torch.set_num_threads(cfg.threads)
        if datasets is not None:
            train_set, valid_set, info = datasets
        else:
            transform = None
            if not cfg.augment:
                from xnas.nas.data import dataset_info

                transform = default_transform(dataset_info(cfg.dataset, cfg.data_dir), train=True, augment=False)
            # with --download under torchrun, rank 0 fetches while the others wait
            fetch_first = self.distributed and cfg.download
            if fetch_first and not self.main:
                dist.barrier()
            try:
                train_set, valid_set, info = search_splits(
                    cfg.dataset, cfg.data_dir, split=cfg.split, seed=cfg.seed, download=cfg.download and self.main,
                    limit=cfg.limit, transform=transform,
                )
            finally:
                if fetch_first and self.main:
                    dist.barrier()  # release the others even if the download failed
        self.info = info
        local_batch = cfg.batch_size // self.world
        self.train_loader = make_loader(
            train_set, local_batch, shuffle=True, seed=cfg.seed, num_workers=cfg.workers, drop_last=True,
            distributed=self.distributed,
        )
        self.valid_loader = make_loader(
            valid_set, local_batch, shuffle=True, seed=cfg.seed + 7919, num_workers=cfg.workers, drop_last=True,
            distributed=self.distributed,
        )
        self.steps_per_epoch = min(len(self.train_loader), len(self.valid_loader))
        if self.steps_per_epoch < 1:
            raise ValueError(
                f"batch size {cfg.batch_size} exceeds the split halves ({len(train_set)} / {len(valid_set)} images)"
            )

        self.net = SearchNetwork(
            info.channels, info.num_classes, C=cfg.channels, layers=cfg.layers, steps=cfg.nodes,
            primitives=cfg.primitives,
        ).to(self.device)
        if self.cuda:
            self.net = self.net.to(memory_format=torch.channels_last)
        reps = self.net.replications()
        n = len(cfg.primitives)
        # Horizon units (reference.md): one round per validation example, per
        # replication; a batch step of B examples covers B x r_c rounds.
        rounds = {k: float(cfg.batch_size * reps[k]) for k in CELL_TYPES}
        horizon = {k: rounds[k] * self.steps_per_epoch * cfg.epochs for k in CELL_TYPES}
        eta = {
            "normal": cfg.eta_normal if cfg.eta_normal is not None else eta_star(n, horizon["normal"], cfg.L),
            "reduce": cfg.eta_reduce if cfg.eta_reduce is not None else eta_star(n, horizon["reduce"], cfg.L),
        }
        self.resolved = {
            "eta": eta,
            "horizon": horizon,
            "rounds_per_step": rounds,
            "replications": reps,
            "steps_per_epoch": self.steps_per_epoch,
            "valid_examples_per_epoch": self.steps_per_epoch * cfg.batch_size,
            "world_size": self.world,
            "device": str(self.device),
            "dataset_info": {
                "channels": info.channels, "num_classes": info.num_classes, "image_size": info.image_size,
                "train_size": info.train_size, "search_train": len(train_set), "search_valid": len(valid_set),
            },
        }
        self.arch = build_arch_optimizer(
            cfg.arch_optimizer,
            ArchSettings(
                shape=self.net.arch_shape(), eta=eta, horizon=horizon, rounds_per_step=rounds, L=cfg.L,
                zeta=cfg.zeta, lr=cfg.arch_lr, weight_decay=cfg.arch_weight_decay, seed=cfg.seed, world=self.world,
            ),
            device=self.device,
        )
        self._assert_disjoint()
        self.net_opt = torch.optim.SGD(
            self.net.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay
        )
        self.start_epoch = 0
        self.log: list[dict] = []
        self.history_steps: list[int] = [0]
        self.history: list[np.ndarray] = [self._probs_array()]
        total = self.steps_per_epoch * cfg.epochs
        self.history_every = max(1, total // 200)
        if self.resume:
            self._load()

    def _assert_disjoint(self) -> None:
        net_ids = {id(p) for p in self.net.parameters()}
        arch_ids = {id(p) for p in self.arch.parameters()}
        assert not net_ids & arch_ids, "network and architecture weights must be disjoint"

    def _genotype(self, probs: dict) -> Genotype:
        # XNAS's wipe-time log-weights break the ties its last round leaves (every edge
        # one-hot, 'none'-led edges all zero); None for the rules without wipeout
        logw = self.arch.final_log_weights()
        return discretize(probs, self.cfg.primitives, self.cfg.nodes, log_weights=logw)

    def _probs_array(self) -> np.ndarray:
        p = self.arch.probabilities()
        return np.stack([p[k].cpu().numpy() for k in CELL_TYPES]).astype(np.float32)

    # -- checkpoint ------------------------------------------------------
    def _state(self, epochs_done: int) -> dict:
        return {
            "format": "xnas-search-1",
            "epochs_done": epochs_done,
            "config": self.cfg.to_dict(),
            "alive": {k: self.net.alive(k) for k in CELL_TYPES},
            "net": self.net.state_dict(),
            "net_opt": self.net_opt.state_dict(),
            "arch": self.arch.state_dict(),
            "rng": capture_rng_state(),
            "log_json": json.dumps(self.log),
            "history_steps": torch.tensor(self.history_steps, dtype=torch.int64),
            "history": torch.from_numpy(np.stack(self.history)),
        }

    def _load(self) -> None:
        if not os.path.isfile(self.ckpt_path):
            raise CheckpointError(f"cannot resume: no checkpoint at {self.ckpt_path!r}")
        state = load_checkpoint(self.ckpt_path, map_location=self.device)
        try:
            if not isinstance(state, dict) or state.get("format") != "xnas-search-1":
                raise CheckpointError(f"checkpoint {self.ckpt_path!r} is not a search checkpoint")
            saved = SearchConfig.from_dict(state["config"])
            # everything that shapes the result must match; device, threads, workers,
            # progress and plots may change between the parts of a search
            for key in ("dataset", "arch_optimizer", "epochs", "batch_size", "channels", "layers", "nodes",
                        "primitives", "seed", "split", "limit", "augment", "lr", "lr_min", "momentum",
                        "weight_decay", "grad_clip", "eta_normal", "eta_reduce", "L", "zeta", "arch_lr",
                        "arch_weight_decay", "micro_batches"):
                if getattr(saved, key) != getattr(self.cfg, key):
                    raise CheckpointError(
                        f"checkpoint was made with {key}={getattr(saved, key)!r}, not {getattr(self.cfg, key)!r}"
                    )
            for k in CELL_TYPES:
                self.net.wipe(k, state["alive"][k])
            self.net.load_state_dict(state["net"])
            self.net_opt = torch.optim.SGD(
                self.net.parameters(), lr=self.cfg.lr, momentum=self.cfg.momentum, weight_decay=self.cfg.weight_decay
            )
            self.net_opt.load_state_dict(state["net_opt"])
            self.arch.load_state_dict(state["arch"])
            restore_rng_state(state["rng"])
            self.start_epoch = int(state["epochs_done"])
            self.log = json.loads(state["log_json"])
            self.history_steps = [int(v) for v in state["history_steps"].tolist()]
            self.history = list(state["history"].numpy())
        except CheckpointError:
            raise
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CheckpointError(f"checkpoint {self.ckpt_path!r} does not fit this search ({first})") from None

    # -- the loop --------------------------------------------------------
    def _to_device(self, x: torch.Tensor, y: torch.Tensor):
        x = x.to(self.device, non_blocking=True)
        y = y.to(self.device, non_blocking=True)
        if self.cuda:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, y

    def _autocast(self):
        if self.cuda:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return torch.autocast("cpu", enabled=False)

    def _forward_sum(self, x, y, weights, scale: float, parts: int, arch: bool = False):
        """Summed CE over the (local) batch, times ``scale``, backward per chunk; returns (loss_sum, correct)."""
        loss_total = torch.zeros((), device=self.device)
        correct = torch.zeros((), device=self.device, dtype=torch.int64)
        for xc, yc in _chunks(x, y, parts):
            with self._autocast():
                logits = self.net(xc, weights)
            loss = F.cross_entropy(logits.float(), yc, reduction="sum")
            if arch:
                self.arch.backward(loss * scale)
            else:
                (loss * scale).backward()
            loss_total += loss.detach()
            correct += (logits.detach().argmax(1) == yc).sum()
        return loss_total, correct

    def _check_finite(self, value: float, what: str, epoch: int, step: int) -> None:
        if not math.isfinite(value):
            kept = (
                f"the last good checkpoint ({self.ckpt_path}, after epoch {self.start_epoch_for_msg}) is kept"
                if self.start_epoch_for_msg > 0
                else "no checkpoint had been written yet"
            )
            raise SearchError(f"{what} loss became {value} at epoch {epoch + 1}, step {step + 1}; search stopped, {kept}")

    def step(self, xt, yt, xv, yv, epoch: int = 0, step: int = 0):
        """One weight step on ``(xt, yt)`` and one architecture step on ``(xv, yv)``.

        Returns the summed (loss, correct) of both halves, the architecture
        rewards and the alive masks before the step.
        """
        cfg = self.cfg
        B = cfg.batch_size
        parts = cfg.micro_batches
        # 1. weights, on the train half, mixing weights held fixed
        xt, yt = self._to_device(xt, yt)
        with torch.no_grad():
            fixed = {k: v.float() for k, v in self.arch.probabilities().items()}
        self.net_opt.zero_grad(set_to_none=True)
        loss_t, corr_t = self._forward_sum(xt, yt, fixed, 1.0 / B, parts)
        grads = [p.grad for p in self.net.parameters() if p.grad is not None]
        stats_t = torch.stack([loss_t.double(), corr_t.double()])
        if self.world > 1:
            _flat_all_reduce_(grads + [stats_t])
        self._check_finite(float(stats_t[0]), "train", epoch, step)
        torch.nn.utils.clip_grad_norm_(self.net.parameters(), cfg.grad_clip)
        self.net_opt.step()

        # 2. architecture, on the validation half
        xv, yv = self._to_device(xv, yv)
        weights = self.arch.mixing()
        loss_v, corr_v = self._forward_sum(xv, yv, weights, self.arch.loss_scale(B), parts, arch=True)
        stats_v = torch.stack([loss_v.double(), corr_v.double()])
        if self.world > 1:
            dist.all_reduce_sum_(stats_v)
        self._check_finite(float(stats_v[0]), "validation", epoch, step)
        alive_before = self.arch.alive()
        rewards = self.arch.step(dist.all_reduce_sum_ if self.world > 1 else None)
        if self.arch.wipes:
            self.apply_wipeout()
        return stats_t, stats_v, rewards, alive_before

    def apply_wipeout(self) -> int:
        """Delete the experts the architecture optimizer wiped; returns parameters dropped from SGD."""
        alive = self.arch.alive()
        changed = False
        for k in CELL_TYPES:
            changed |= self.net.wipe(k, alive[k])
        return prune_optimizer(self.net_opt, self.net) if changed else 0

    def train_epoch(self, epoch: int, progress: Callable[[], None]) -> dict:
        cfg = self.cfg
        lr = _cosine_lr(cfg, epoch)
        for g in self.net_opt.param_groups:
            g["lr"] = lr
        set_loader_epoch(self.train_loader, epoch)
        set_loader_epoch(self.valid_loader, epoch)
        self.net.train()
        B = cfg.batch_size
        sums = torch.zeros(4, dtype=torch.float64)  # train loss, train correct, valid loss, valid correct
        rewards_epoch = [] if cfg.record_rewards else None
        t0 = time.perf_counter()
        for step, ((xt, yt), (xv, yv)) in enumerate(zip(self.train_loader, self.valid_loader)):
            if step >= self.steps_per_epoch:
                break
            stats_t, stats_v, rewards, alive_before = self.step(xt, yt, xv, yv, epoch, step)
            if rewards_epoch is not None:
                # experts wiped before this step were not evaluated: NaN marks them
                rewards_epoch.append(
                    np.stack([np.where(alive_before[k].numpy(), rewards[k].cpu().numpy(), np.nan) for k in CELL_TYPES])
                )
            sums += torch.cat([stats_t.cpu(), stats_v.cpu()])
            global_step = epoch * self.steps_per_epoch + step + 1
            if global_step % self.history_every == 0:
                self.history_steps.append(global_step)
                self.history.append(self._probs_array())
            progress()
        seconds = time.perf_counter() - t0
        n = float(self.steps_per_epoch * B)
        probs = self.arch.probabilities()
        alive = self.arch.alive()
        genotype = self._genotype(probs)
        entry = {
            "epoch": epoch + 1,
            "lr": lr,
            "train_loss": float(sums[0]) / n,
            "train_acc": float(sums[1]) / n,
            "valid_loss": float(sums[2]) / n,
            "valid_acc": float(sums[3]) / n,
            "alive": {k: int(alive[k].sum()) for k in CELL_TYPES},
            "alive_fraction": {k: float(alive[k].float().mean()) for k in CELL_TYPES},
            "entropy": mean_normalized_entropy(probs),
            "entropy_per_type": {k: mean_normalized_entropy({k: probs[k]}) for k in CELL_TYPES},
            "network_params": int(sum(p.numel() for p in self.net.parameters())),
            "seconds": seconds,
            "genotype": genotype.to_dict(),
        }
        if hasattr(self.arch, "log_gamma"):
            lg = self.arch.log_gamma()
            entry["log_gamma_max"] = {k: float(lg[k].max()) for k in CELL_TYPES}
        return entry, rewards_epoch

    def run(self, stop_after: Optional[int] = None) -> SearchResult:
        cfg = self.cfg
        if self.main:
            os.makedirs(self.out_dir, exist_ok=True)
            resolved = {"config": cfg.to_dict(), "resolved": self.resolved}
            _write_text_atomic(os.path.join(self.out_dir, "config.json"), json.dumps(resolved, indent=2) + "\n")
        end = cfg.epochs if stop_after is None else min(cfg.epochs, stop_after)
        self.start_epoch_for_msg = self.start_epoch
        bar = _Progress(self.main and cfg.progress, total=(end - self.start_epoch) * self.steps_per_epoch)
        with bar:
            for epoch in range(self.start_epoch, end):
                bar.describe(f"search epoch {epoch + 1}/{cfg.epochs}")
                entry, rewards_epoch = self.train_epoch(epoch, bar.advance)
                self.log.append(entry)
                if self.main:
                    if rewards_epoch is not None:
                        _save_npy_atomic(
                            os.path.join(self.out_dir, "rewards", "parts", f"epoch_{epoch + 1:04d}.npy"),
                            np.stack(rewards_epoch).astype(np.float64),
                        )
                    save_checkpoint(self._state(epoch + 1), self.ckpt_path)
                    _write_text_atomic(
                        os.path.join(self.out_dir, "log.jsonl"),
                        "".join(json.dumps(e, sort_keys=True) + "\n" for e in self.log),
                    )
                self.start_epoch_for_msg = epoch + 1
                bar.epoch_line(entry)
                dist.barrier()
        done = end if self.log else self.start_epoch
        probs = self.arch.probabilities()
        genotype = self._genotype(probs)
        if self.main:
            self._write_outputs(genotype, finished=end == cfg.epochs)
        return SearchResult(
            genotype=genotype,
            epochs_done=max(done, len(self.log)),
            log=list(self.log),
            out_dir=self.out_dir,
            probabilities={k: v.cpu() for k, v in probs.items()},
            alive={k: v.cpu() for k, v in self.arch.alive().items()},
        )

    def _write_outputs(self, genotype: Genotype, finished: bool) -> None:
        out = self.out_dir
        _write_text_atomic(os.path.join(out, "genotype.json"), genotype.to_json(indent=2) + "\n")
        _write_text_atomic(os.path.join(out, "genotype.txt"), genotype.to_darts() + "\n")
        tmp = os.path.join(out, ".tmp-arch_history.npz")
        np.savez(tmp, steps=np.asarray(self.history_steps), weights=np.stack(self.history),
                 cell_types=np.asarray(CELL_TYPES), primitives=np.asarray(self.cfg.primitives))
        os.replace(tmp, os.path.join(out, "arch_history.npz"))
        if self.cfg.record_rewards:
            self._assemble_rewards()
        if self.cfg.plots:
            from xnas.nas.search_plots import plot_arch_weights, plot_cells

            plot_arch_weights(
                np.asarray(self.history_steps), np.stack(self.history), self.cfg.primitives, self.cfg.nodes,
                os.path.join(out, "arch_weights.png"), steps_per_epoch=self.steps_per_epoch,
            )
            plot_cells(genotype, os.path.join(out, "cells.png"))

    def _assemble_rewards(self) -> None:
        """Per-edge ``(T, N)`` arrays that ``xnas-sim regret --rewards`` can replay."""
        parts_dir = os.path.join(self.out_dir, "rewards", "parts")
        files = sorted(f for f in os.listdir(parts_dir) if f.endswith(".npy")) if os.path.isdir(parts_dir) else []
        if not files:
            return
        stream = np.concatenate([np.load(os.path.join(parts_dir, f)) for f in files])  # (T, 2, E, N)
        rounds = self.resolved["rounds_per_step"]
        for ci, kind in enumerate(CELL_TYPES):
            per_round = stream[:, ci] / rounds[kind]  # mean reward per elementary round
            # a wiped expert is never evaluated again (NaN in the parts): from then
            # on it gets the worst reward the bound allows, so a replay keeps it out
            per_round = np.where(np.isnan(per_round), -self.cfg.L, per_round)
            for e in range(per_round.shape[1]):
                _save_npy_atomic(
                    os.path.join(self.out_dir, "rewards", f"{kind}_edge{e:02d}.npy"),
                    np.ascontiguousarray(per_round[:, e, :]),
                )


class _Progress:
    """A rich progress bar on stderr (or nothing)."""

    def __init__(self, enabled: bool, total: int) -> None:
        self.enabled = enabled
        self.total = total
        self._progress = None

    def __enter__(self):
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.console = Console(stderr=True)
            self._progress = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                console=self.console, transient=False,
            )
            self._progress.__enter__()
            self._task = self._progress.add_task("search", total=self.total)
        return self

    def __exit__(self, *exc):
        if self._progress is not None:
            self._progress.__exit__(*exc)
        return False

    def describe(self, text: str) -> None:
        if self._progress is not None:
            self._progress.update(self._task, description=text)

    def advance(self) -> None:
        if self._progress is not None:
            self._progress.advance(self._task)

    def epoch_line(self, e: dict) -> None:
        if self._progress is not None:
            self._progress.console.print(
                f"epoch {e['epoch']}: train loss {e['train_loss']:.3f} acc {e['train_acc']:.3f} | "
                f"valid loss {e['valid_loss']:.3f} acc {e['valid_acc']:.3f} | alive "
                f"{e['alive']['normal']}/{e['alive']['reduce']} | entropy {e['entropy']:.3f} | {e['seconds']:.1f}s"
            )


def run_search(
    cfg: SearchConfig,
    resume: bool = False,
    stop_after: Optional[int] = None,
    datasets: Optional[tuple] = None,
) -> SearchResult:
    """Run (or resume) a search and write its output folder.

    Parameters
    ----------
    cfg : SearchConfig
        The settings; validated here.
    resume : bool
        Continue from ``out_dir/checkpoint.pt``.
    stop_after : int, optional
        Stop after this many epochs in total (as if interrupted); the
        checkpoint then lets ``resume`` finish the search.
    datasets : (train, valid, info), optional
        Ready-made halves (``torch`` datasets of ``(image tensor, label)``) and
        a :class:`~xnas.nas.data.DatasetInfo`, instead of ``cfg.dataset``
        (benchmarks on synthetic data, custom data in code).

    Raises
    ------
    ValueError
        Invalid settings (one line).
    DataError, CheckpointError
        Missing data, a corrupt or mismatched checkpoint.
    SearchError
        A NaN loss; the last good checkpoint stays in place.
    """
    cfg.validate()
    search = _Search(cfg, resume)
    try:
        search.build(datasets=datasets)
        return search.run(stop_after=stop_after)
    finally:
        if search.distributed:
            dist.cleanup()
