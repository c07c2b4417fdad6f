"""Choosing the cell of a search whose rule ranks sampled cells (random-ws): each candidate is scored
on the whole validation half with the shared weights, and the lowest error, then loss, wins.

- The supernet stays in training mode, as Li and Talwalkar score the cells: batch norm uses each
  batch's statistics (the running averages mix every cell sampled during the search), over
  batches the size of the search's per-rank chunks.
- Every candidate sees the same images: the validation half carries the search's augmentation
  (as in the architecture steps of the other rules), so the torch generator is set to one seed
  before each candidate, and the crops and flips are the same for all.
- Only the candidate's operations are computed (:func:`xnas.nas.spaces.mixed_edge.chosen_only`).
- Every rank of a distributed search scores the whole half; rank 0's choice is broadcast, so
  all ranks return the same cell even where their arithmetic differs in the last bit.
"""

from __future__ import annotations

import time
from typing import Any

import torch
import torch.nn.functional as F

from xnas.nas import distributed as dist
from xnas.nas.data.datasets import make_loader
from xnas.nas.spaces.mixed_edge import chosen_only

__all__ = ["best_of_candidates"]

SCORING_SEED = 2019  # one seed for the augmentation of every candidate's pass


def _validation_score(s, loader, weights: dict) -> tuple[float, float]:
    """(error, mean cross entropy) of the supernet with mixing ``weights`` over ``loader``."""
    wrong = loss = n = 0.0
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SCORING_SEED)
        for x, y in loader:
            x, y = s.to_device(x, y)
            logits = s.logits(x, weights)
            loss += float(F.cross_entropy(logits, y, reduction="sum"))
            wrong += float((logits.argmax(1) != y).sum())
            n += y.numel()
    return wrong / max(n, 1.0), loss / max(n, 1.0)


def best_of_candidates(s, candidates: list) -> tuple[Any, dict]:
    """The best of ``candidates`` (``(genotype, one-hot weights)`` pairs) on ``s``'s validation half.

    Returns ``(genotype, selection)``; ``selection`` holds the weight steps taken, every
    candidate (the space's text, in the order drawn) with its validation error and loss, the
    chosen one's index and error, and the seconds the scoring took.
    """
    start = time.perf_counter()
    chunk = max(1, s.cfg.batch_size // (s.world * s.cfg.micro_batches))
    loader = make_loader(s.valid_loader.dataset, chunk, shuffle=False, num_workers=s.cfg.workers)
    s.net.train()
    scores = []
    with torch.no_grad(), chosen_only(s.net):
        for _, weights in candidates:
            scores.append(_validation_score(s, loader, {k: torch.as_tensor(v, dtype=torch.float32)
                                                        for k, v in weights.items()}))
    best = torch.tensor(min(range(len(candidates)), key=lambda i: scores[i]), device=s.device)
    if s.world > 1:
        dist.broadcast_(best)
    best = int(best)
    return candidates[best][0], {
        "weight_steps": s.steps_per_epoch * s.kept_epochs,
        "candidates": [s.space.format_genotype(g) for g, _ in candidates],
        "candidate_valid_err": [err for err, _ in scores],
        "candidate_valid_loss": [loss for _, loss in scores],
        "chosen": best,
        "chosen_valid_err": scores[best][0],
        "seconds": time.perf_counter() - start,
    }
