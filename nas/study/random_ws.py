"""Random search with weight sharing (Li and Talwalkar, "Random Search and Reproducibility
for Neural Architecture Search", 2019).

1. The supernet trains on the train half for the study's search budget (the same
   epochs, batch, subset and network-weight SGD as the other searches); each step
   samples ONE cell uniformly with the space's own sampler and runs the supernet with
   that cell's one-hot mixing weights (the operations and inputs it does not choose
   get weight zero).
2. ``K`` cells are sampled and each is scored on the whole validation half with the
   shared weights (batch statistics in the supernet's BN, whose running averages mix
   every sampled cell); the cell with the lowest validation error (then loss) is returned.

Only the sampled operations are computed: :func:`sampled_ops` swaps each mixed edge's
forward, for the duration of a call, for one that evaluates only the operations with
non-zero weight (the supernet module itself is not changed). The forward is then the
one-hot forward of the full supernet, minus the work on zero-weighted operations.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any, Iterator

import numpy as np

from xnas.nas.study import backend
from xnas.nas.study.config import StudyConfig, StudyError

__all__ = ["random_ws_search", "sampled_ops"]


def _edge_forward(edge):
    def forward(x, u):
        chosen = [i for i in edge.alive if float(u[i]) != 0.0]
        if not chosen:
            # an input the cell does not use: zeros of the edge's output shape
            zero = edge.ops["none"] if "none" in edge.ops else edge.ops[edge.primitives[edge.alive[0]]]
            return zero(x) * 0.0
        out = None
        for i in chosen:
            y = u[i] * edge.ops[edge.primitives[i]](x)
            out = y if out is None else out + y
        return out

    return forward


@contextlib.contextmanager
def sampled_ops(net) -> Iterator[None]:
    """Within the block, every mixed edge of ``net`` computes only its non-zero-weighted operations."""
    edges = backend.mixed_edges(net)
    for edge in edges:
        edge.forward = _edge_forward(edge)
    try:
        yield
    finally:
        for edge in edges:
            del edge.forward  # back to the class's forward


def _validation_score(net, loader, weights, device) -> tuple[float, float]:
    import torch
    import torch.nn.functional as F

    wrong = loss = n = 0.0
    with torch.no_grad():
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            logits = net(x, weights)
            loss += float(F.cross_entropy(logits, y, reduction="sum"))
            wrong += float((logits.argmax(1) != y).sum())
            n += y.numel()
    return wrong / max(n, 1.0), loss / max(n, 1.0)


def random_ws_search(space: Any, cfg: StudyConfig, seed: int) -> tuple[Any, dict[str, Any]]:
    """Train the supernet with one sampled cell per step, then return the best of ``cfg.ws_samples`` cells.

    Returns
    -------
    (genotype, info)
        ``info`` holds the steps, the ranked candidates' validation errors and the
        chosen cell's rank statistics.
    """
    import torch
    import torch.nn.functional as F

    torch.manual_seed(seed)
    rng = np.random.default_rng([seed, 7])
    device = backend.resolve_device(cfg.device)
    train_set, valid_set, info = backend.search_data(space, cfg, seed)
    net = backend.build_supernet(space, cfg, info).to(device)
    opt_cfg = backend.weight_settings()
    optimizer = torch.optim.SGD(net.parameters(), lr=opt_cfg["lr"], momentum=opt_cfg["momentum"],
                                weight_decay=opt_cfg["weight_decay"])
    train_loader, valid_loader = backend.loaders(train_set, valid_set, cfg.search_batch, seed)
    # the same number of weight steps per epoch as the alternating search takes
    steps = min(len(train_loader), len(valid_set) // cfg.search_batch)
    if steps < 1:
        raise StudyError(f"search batch {cfg.search_batch} exceeds the split halves "
                         f"({len(train_set)} / {len(valid_set)} images)")
    shape = net.arch_shape()
    net.train()
    with sampled_ops(net):
        for epoch in range(cfg.search_epochs):
            lr = backend.cosine_lr(epoch, cfg.search_epochs, opt_cfg["lr"], opt_cfg["lr_min"])
            for group in optimizer.param_groups:
                group["lr"] = lr
            backend.set_epoch(train_loader, epoch)
            for step, (x, y) in enumerate(train_loader):
                if step >= steps:
                    break
                weights = backend.genotype_weights(space, space.sample_genotype(rng), shape)
                loss = F.cross_entropy(net(x.to(device), {k: w.to(device) for k, w in weights.items()}), y.to(device))
                if not math.isfinite(float(loss.detach())):
                    raise StudyError(f"random-ws loss became {float(loss.detach())} at epoch {epoch + 1}, step {step + 1}")
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(net.parameters(), opt_cfg["grad_clip"])
                optimizer.step()
        candidates = [space.sample_genotype(rng) for _ in range(cfg.ws_samples)]
        scores = []
        for g in candidates:
            w = {k: v.to(device) for k, v in backend.genotype_weights(space, g, shape).items()}
            scores.append(_validation_score(net, valid_loader, w, device))
    best = min(range(len(candidates)), key=lambda i: scores[i])
    return candidates[best], {
        "weight_steps": steps * cfg.search_epochs,
        "candidate_valid_err": [s[0] for s in scores],
        "chosen_valid_err": scores[best][0],
    }
