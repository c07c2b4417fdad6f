"""The search loop: alternate weight and architecture steps on a supernet of any registered space.

This is the trainer of the NASLib-style split: the search space lives in
:mod:`xnas.nas.spaces.registry` (``cfg.space``), the architecture update rules in
:mod:`xnas.nas.arch.optimizers`, and this module only schedules them. Its
set-up (data, supernet, checkpoints) is :mod:`xnas.nas.search.setup`, its
outputs :mod:`xnas.nas.search.outputs`, its settings
:mod:`xnas.nas.search.config`; devices, threads, progress and writers are
:mod:`xnas.nas.runtime`.

One step (first order, as in the paper, section 4.1) takes a batch of each half.
XNAS follows Algorithm 1: the weight step first (line 4), then the
architecture step (predict, reward, EG update, wipeout). ``darts`` and ``gd``
follow DARTS (Liu et al. 2019, Algorithm 1), which updates the architecture
first, then the weights (:data:`ARCH_FIRST`):

1. **weight step** on a batch of the train half: SGD (lr 0.025 cosine-annealed
   to 0.001 per epoch, momentum 0.9, weight decay 3e-4, gradient-norm clip 5)
   on the mean cross entropy, with the current mixing weights held fixed;
2. **architecture step** on a batch of the validation half: the architecture
   optimizer's mixing weights ``u`` go through the supernet, the loss is summed
   over the batch (scaled by the rule's ``loss_scale``), one backward pass gives
   ``dloss/du``, and the rule updates the weights.  For XNAS, experts wiped by
   the step are deleted from the supernet at once and their parameters leave
   the SGD optimizer (:func:`xnas.nas.spaces.darts.supernet.prune_optimizer`).

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

import contextlib
import itertools
import math
import os
import time
from typing import Optional

import torch
import torch.nn.functional as F

from xnas.nas import distributed as dist
from xnas.nas.arch.optimizers import ARCH_OPTIMIZERS
from xnas.nas.checkpoint import kept_message, save_checkpoint_or_stop
from xnas.nas.data.datasets import set_loader_epoch
from xnas.nas.runtime import (Progress, apply_threads, flat_all_reduce_, prepare_out_dir, removed_if_left_empty,
                              resolve_device, seed_everything, threads_notice, to_layout)
from xnas.nas.search.config import CHECKPOINT, SearchConfig, SearchError, SearchResult, mean_normalized_entropy
from xnas.nas.search.outputs import (epoch_entry, epoch_text, genotype_of, probs_array, record_rewards, write_config,
                                     write_epoch, write_log, write_outputs)
from xnas.nas.search.select import best_of_candidates
from xnas.nas.search.setup import build_loaders, build_supernet, load_search_state, search_state
from xnas.nas.spaces.registry import get_space
from xnas.nas.spaces.mixed_edge import chosen_only, prune_optimizer
from xnas.nas.train.recipes import cosine_lr

__all__ = [
    "ARCH_FIRST",
    "CHECKPOINT",
    "SearchConfig",
    "SearchError",
    "SearchResult",
    "mean_normalized_entropy",
    "run_search",
]

# Architecture optimizers that step the architecture before the weights, as DARTS does:
# the registered optimizers whose ``arch_first`` attribute says so.
ARCH_FIRST = frozenset(name for name, spec in ARCH_OPTIMIZERS.items() if spec.build.arch_first)


def _chunks(x: torch.Tensor, y: torch.Tensor, parts: int):
    # Strided chunks: chunk j holds examples j, j + parts, ... which is exactly the
    # share of rank j when a DistributedSampler splits the same global batch.
    if parts == 1:
        yield x, y
        return
    for j in range(parts):
        yield x[j::parts], y[j::parts]


class _Search:
    def __init__(self, cfg: SearchConfig, resume: bool) -> None:
        self.cfg = cfg
        self.space = get_space(cfg.space)
        self.resume = resume
        self.device = resolve_device(cfg.device)
        self.distributed = dist.init_from_env(device=str(self.device))
        self.world = dist.world_size()
        self.main = dist.is_main()
        self.cuda = self.device.type == "cuda"
        if cfg.batch_size % (self.world * cfg.micro_batches):
            raise ValueError(
                f"batch size {cfg.batch_size} must be divisible by ranks x micro-batches = {self.world * cfg.micro_batches}"
            )
        self.out_dir = cfg.out_dir
        self.ckpt_path = os.path.join(self.out_dir, CHECKPOINT)
        self.arch_first = False  # the architecture optimizer's own order, set by build()
        # The run's state, declared here and filled by build(): the data (setup.build_loaders),
        # the supernet, its optimizers and the theory's etas (setup.build_supernet), the log and
        # the architecture-weight history (here, or setup.load_search_state on resume).
        self.threads: int = 0
        self.info = None  # the dataset's DatasetInfo
        self.train_loader = self.valid_loader = None
        self.steps_per_epoch: int = 0
        self.net = None  # the supernet (torch.nn.Module)
        self.arch = None  # the architecture optimizer (arch.optimizers.ArchUpdater)
        self.net_opt: Optional[torch.optim.Optimizer] = None
        self.resolved: dict = {}
        self.start_epoch = self.kept_epochs = self.history_every = 0
        self.log: list[dict] = []
        self.history_steps: list[int] = [0]
        self.history: list = []

    def build(self, datasets=None) -> None:
        """Seed, then the data, the supernet and its optimizers; on resume, the checkpoint."""
        seed_everything(self.cfg.seed)
        if self.cuda:
            torch.backends.cudnn.benchmark = True
        self.threads = apply_threads(self.cfg.threads, self.device)
        train_set, valid_set = build_loaders(self, datasets)
        build_supernet(self, train_set, valid_set)
        self.arch_first = self.arch.arch_first
        self.start_epoch = 0
        self.log = []
        self.history_steps = [0]
        self.history = [probs_array(self)]
        self.history_every = max(1, self.steps_per_epoch * self.cfg.epochs // 200)
        if self.resume:
            load_search_state(self)
        self.kept_epochs = self.start_epoch

    # -- one step ----------------------------------------------------------
    def step(self, xt, yt, xv, yv, epoch: int = 0, step: int = 0):
        """A weight step on the train batch ``(xt, yt)`` and an architecture step on ``(xv, yv)``.

        XNAS steps the weights first (Algorithm 1, line 4); ``darts`` and ``gd``
        step the architecture first, as DARTS does. Returns the summed (loss,
        correct) of both halves, the rewards and the alive masks before the step.
        A rule without an architecture step (random-ws) takes the weight step only.
        """
        if not self.arch.steps_on_validation:
            return self.weight_step(xt, yt, epoch, step), torch.zeros(2, dtype=torch.float64), None, None
        if self.arch_first:
            stats_v, rewards, alive_before = self.arch_step(xv, yv, epoch, step)
            stats_t = self.weight_step(xt, yt, epoch, step)
        else:
            stats_t = self.weight_step(xt, yt, epoch, step)
            stats_v, rewards, alive_before = self.arch_step(xv, yv, epoch, step)
        return stats_t, stats_v, rewards, alive_before

    def weight_step(self, x, y, epoch: int, step: int) -> torch.Tensor:
        """SGD on the mean cross entropy of a train batch, the mixing weights held fixed.

        A one-hot rule (random-ws) gives a sampled cell's weights; only its operations run.
        """
        x, y = self.to_device(x, y)
        fixed = self.arch.weight_mixing()
        self.net_opt.zero_grad(set_to_none=True)
        with chosen_only(self.net) if self.arch.one_hot else contextlib.nullcontext():
            loss, correct = self._forward_sum(x, y, fixed, 1.0 / self.cfg.batch_size)
        stats = torch.stack([loss.double(), correct.double()])
        if self.world > 1:
            flat_all_reduce_([p.grad for p in self.net.parameters() if p.grad is not None] + [stats])
        self._check_finite(float(stats[0]), "train", epoch, step)
        torch.nn.utils.clip_grad_norm_(self.net.parameters(), self.cfg.grad_clip)
        self.net_opt.step()
        return stats

    def arch_step(self, x, y, epoch: int, step: int):
        """The architecture optimizer's step on a validation batch; XNAS then wipes experts out."""
        x, y = self.to_device(x, y)
        weights = self.arch.mixing()
        loss, correct = self._forward_sum(x, y, weights, self.arch.loss_scale(self.cfg.batch_size), arch=True)
        stats = torch.stack([loss.double(), correct.double()])
        if self.world > 1:
            dist.all_reduce_sum_(stats)
        self._check_finite(float(stats[0]), "validation", epoch, step)
        alive_before = self.arch.alive()
        rewards = self.arch.step(dist.all_reduce_sum_ if self.world > 1 else None)
        if self.arch.wipes:
            self.apply_wipeout()
        return stats, rewards, alive_before

    def apply_wipeout(self) -> int:
        """Delete the experts the architecture optimizer wiped; returns parameters dropped from SGD."""
        alive = self.arch.alive()
        changed = False
        for k in self.space.cell_types:
            changed |= self.net.wipe(k, alive[k])
        return prune_optimizer(self.net_opt, self.net) if changed else 0

    # -- one epoch ---------------------------------------------------------
    def train_epoch(self, epoch: int, progress=lambda: None):
        """One pass over the paired batches of the two halves; returns the log entry and rewards."""
        # DARTS' per-epoch cosine annealing from lr to lr_min, the recipes' one schedule
        lr = cosine_lr(epoch, self.cfg.epochs, self.cfg.lr, self.cfg.lr_min)
        for g in self.net_opt.param_groups:
            g["lr"] = lr
        set_loader_epoch(self.train_loader, epoch)
        set_loader_epoch(self.valid_loader, epoch)
        self.net.train()
        sums = torch.zeros(4, dtype=torch.float64)  # train loss, train correct, valid loss, valid correct
        rewards_epoch = [] if self.cfg.record_rewards else None
        t0 = time.perf_counter()
        # a rule without an architecture step (random-ws) never reads the validation half here
        valid = self.valid_loader if self.arch.steps_on_validation else itertools.repeat((None, None))
        for step, ((xt, yt), (xv, yv)) in enumerate(zip(self.train_loader, valid)):
            if step >= self.steps_per_epoch:
                break
            stats_t, stats_v, rewards, alive_before = self.step(xt, yt, xv, yv, epoch, step)
            if rewards_epoch is not None:
                record_rewards(rewards_epoch, rewards, alive_before)
            sums += torch.cat([stats_t.cpu(), stats_v.cpu()])
            global_step = epoch * self.steps_per_epoch + step + 1
            if global_step % self.history_every == 0:
                self.history_steps.append(global_step)
                self.history.append(probs_array(self))
            progress()
        return epoch_entry(self, epoch, lr, sums, time.perf_counter() - t0), rewards_epoch

    # -- the run -----------------------------------------------------------
    def run(self, stop_after: Optional[int] = None) -> SearchResult:
        """Epochs from the start (or the checkpoint) to the end or ``stop_after``; then the outputs."""
        cfg = self.cfg
        if self.main:
            write_config(self)
        end = cfg.epochs if stop_after is None else min(cfg.epochs, stop_after)
        experts = self.net.arch_shape()[0] * self.net.arch_shape()[1]
        hint = None if self.cuda else ("--epochs and --limit shorten it (--epochs 2 --limit 4000: minutes), "
                                       "or run it on a GPU with --device cuda")
        bar = Progress(self.main and cfg.progress, total=(end - self.start_epoch) * self.steps_per_epoch,
                       long_hint=hint)
        with bar:
            notice = threads_notice(cfg.threads, self.threads)
            if notice:
                bar.line(notice)
            for epoch in range(self.start_epoch, end):
                bar.describe(f"search epoch {epoch + 1}/{cfg.epochs}")
                entry, rewards_epoch = self.train_epoch(epoch, bar.advance)
                self.log.append(entry)
                if self.main:
                    write_epoch(self, epoch, rewards_epoch)
                    save_checkpoint_or_stop(
                        search_state(self, epoch + 1), self.ckpt_path, self.kept_epochs,
                        finite={"net": self.net.state_dict(), "probabilities": self.arch.probabilities()},
                    )
                    write_log(self)
                self.kept_epochs = epoch + 1
                bar.line(epoch_text(entry, experts, self.space.cell_types))
                dist.barrier()
            probs = self.arch.probabilities()
            candidates = self.arch.candidates()
            selection = None
            if candidates is None:
                genotype = genotype_of(self, probs)
            else:  # random-ws: the best sampled cell on the validation half
                bar.describe(f"scoring {len(candidates)} sampled cells on the validation half")
                genotype, selection = best_of_candidates(self, candidates)
                bar.line(f"best of {len(candidates)} sampled cells: validation error "
                         f"{100 * selection['chosen_valid_err']:.2f} % ({selection['seconds']:.1f}s)")
        if self.main:
            write_outputs(self, genotype, selection)
        return SearchResult(
            genotype=genotype,
            epochs_done=max(end if self.log else self.start_epoch, len(self.log)),
            log=list(self.log),
            out_dir=self.out_dir,
            probabilities={k: v.cpu() for k, v in probs.items()},
            alive={k: v.cpu() for k, v in self.arch.alive().items()},
            selection=selection,
        )

    # -- plumbing ----------------------------------------------------------
    def to_device(self, x: torch.Tensor, y: torch.Tensor):
        """A batch on the search's device, in its layout."""
        x = x.to(self.device, non_blocking=True)
        y = y.to(self.device, non_blocking=True)
        return to_layout(x, self.cfg.channels_last), y

    def logits(self, x: torch.Tensor, weights: dict) -> torch.Tensor:
        """The supernet's fp32 logits for ``x`` with mixing ``weights`` (bf16 autocast on CUDA)."""
        with torch.autocast("cuda", dtype=torch.bfloat16) if self.cuda else torch.autocast("cpu", enabled=False):
            return self.net(x, weights).float()

    def _forward_sum(self, x, y, weights, scale: float, arch: bool = False):
        """Summed CE over the (local) batch, times ``scale``, backward per chunk; returns (loss_sum, correct)."""
        loss_total = torch.zeros((), device=self.device)
        correct = torch.zeros((), device=self.device, dtype=torch.int64)
        for xc, yc in _chunks(x, y, self.cfg.micro_batches):
            logits = self.logits(xc, weights)
            loss = F.cross_entropy(logits, yc, reduction="sum")
            if arch:
                self.arch.backward(loss * scale)
            else:
                (loss * scale).backward()
            loss_total += loss.detach()
            correct += (logits.detach().argmax(1) == yc).sum()
        return loss_total, correct

    def _check_finite(self, value: float, what: str, epoch: int, step: int) -> None:
        if not math.isfinite(value):
            raise SearchError(
                f"{what} loss became {value} at epoch {epoch + 1}, step {step + 1}; search stopped, "
                f"{kept_message(self.ckpt_path, self.kept_epochs)}"
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
        a :class:`~xnas.nas.data.datasets.DatasetInfo`, instead of ``cfg.dataset``
        (benchmarks on synthetic data, custom data in code).

    Raises
    ------
    ValueError
        Invalid settings or an unwritable output folder (one line).
    DataError, CheckpointError
        Missing data, a corrupt or mismatched checkpoint.
    SearchError, RunError
        A NaN loss or a failed checkpoint write; the last good checkpoint stays in place.
    """
    cfg.validate(info=datasets[2] if datasets is not None else None)
    search = _Search(cfg, resume)
    try:
        with removed_if_left_empty(cfg.out_dir):
            if search.main:
                prepare_out_dir(cfg.out_dir)  # before any data is loaded
            search.build(datasets=datasets)
        return search.run(stop_after=stop_after)
    finally:
        if search.distributed:
            dist.cleanup()
