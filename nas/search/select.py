"""Choosing the cell of a search whose rule ranks sampled cells (random-ws): each candidate is scored
on the whole validation half with the shared weights, and the lowest error, then loss, wins.

The supernet stays in training mode, as Li and Talwalkar score the cells: batch norm uses each
batch's statistics, since the running averages mix every cell sampled during the search. Only
the candidate's operations are computed (:func:`xnas.nas.spaces.mixed_edge.chosen_only`). Every
rank of a distributed search scores the whole half itself, so all ranks choose the same cell.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from xnas.nas.data.datasets import make_loader
from xnas.nas.runtime import to_layout
from xnas.nas.spaces.mixed_edge import chosen_only

__all__ = ["best_of_candidates"]


def _validation_score(s, loader, weights: dict) -> tuple[float, float]:
    """(error, mean cross entropy) of the supernet with mixing ``weights`` over ``loader``."""
    wrong = loss = n = 0.0
    for x, y in loader:
        x = to_layout(x.to(s.device), s.cfg.channels_last)
        y = y.to(s.device)
        with torch.autocast("cuda", dtype=torch.bfloat16) if s.cuda else torch.autocast("cpu", enabled=False):
            logits = s.net(x, weights).float()
        loss += float(F.cross_entropy(logits, y, reduction="sum"))
        wrong += float((logits.argmax(1) != y).sum())
        n += y.numel()
    return wrong / max(n, 1.0), loss / max(n, 1.0)


def best_of_candidates(s, candidates: list) -> tuple[Any, dict]:
    """The best of ``candidates`` (``(genotype, one-hot weights)`` pairs) on ``s``'s validation half.

    Returns ``(genotype, selection)``; ``selection`` holds the weight steps taken, every
    candidate's validation error (in the order drawn) and the chosen one's.
    """
    loader = make_loader(s.valid_loader.dataset, s.cfg.batch_size, shuffle=False, num_workers=s.cfg.workers)
    s.net.train()
    scores = []
    with torch.no_grad(), chosen_only(s.net):
        for _, weights in candidates:
            w = {k: torch.as_tensor(v, dtype=torch.float32).to(s.device) for k, v in weights.items()}
            scores.append(_validation_score(s, loader, w))
    best = min(range(len(candidates)), key=lambda i: scores[i])
    return candidates[best][0], {
        "weight_steps": s.steps_per_epoch * s.cfg.epochs,
        "candidate_valid_err": [err for err, _ in scores],
        "chosen_valid_err": scores[best][0],
    }
