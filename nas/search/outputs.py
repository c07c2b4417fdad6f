"""What a search writes and says: the epoch's log entry and line, reward recording, the output folder.

The functions read the attributes of a :class:`xnas.nas.search.loop._Search` (``s``).
"""

from __future__ import annotations

import json
import os

import numpy as np

from xnas.nas.runtime import atomic_write, save_npy_atomic, write_text_atomic
from xnas.nas.search.config import mean_normalized_entropy
from xnas.nas.spaces.tables import get_table, has_table, table_scores

__all__ = ["epoch_entry", "epoch_text", "genotype_of", "probs_array", "record_rewards", "write_epoch",
           "write_outputs"]


def genotype_of(s, probs: dict):
    """The discrete cell(s) of the current mixing weights, by the space's rule."""
    # XNAS's wipe-time log-weights break the ties its last round leaves (every edge
    # one-hot, 'none'-led edges all zero); None for the rules without wipeout
    logw = s.arch.final_log_weights()
    return s.space.discretize(probs, s.cfg.primitives, s.cfg.nodes, log_weights=logw)


def probs_array(s) -> np.ndarray:
    """Mixing weights as one ``(cell types, edges, N)`` float32 array (darts: normal, reduce)."""
    p = s.arch.probabilities()
    return np.stack([p[k].cpu().numpy() for k in s.space.cell_types]).astype(np.float32)


def record_rewards(rewards_epoch: list, rewards: dict, alive_before: dict) -> None:
    """Append one step's rewards; experts wiped before the step were not evaluated: NaN marks them."""
    rewards_epoch.append(
        np.stack([np.where(alive_before[k].numpy(), rewards[k].cpu().numpy(), np.nan) for k in rewards])
    )


def epoch_entry(s, epoch: int, lr: float, sums, seconds: float) -> dict:
    """The ``log.jsonl`` line of an epoch (``sums``: train loss, correct, valid loss, correct)."""
    n = float(s.steps_per_epoch * s.cfg.batch_size)
    probs = s.arch.probabilities()
    alive = s.arch.alive()
    kinds = s.space.cell_types
    validated = s.arch.steps_on_validation  # random-ws reads no validation batch during the epochs
    entry = {
        "epoch": epoch + 1,
        "lr": lr,
        "train_loss": float(sums[0]) / n,
        "train_acc": float(sums[1]) / n,
        "valid_loss": float(sums[2]) / n if validated else None,
        "valid_acc": float(sums[3]) / n if validated else None,
        "alive": {k: int(alive[k].sum()) for k in kinds},
        "alive_fraction": {k: float(alive[k].float().mean()) for k in kinds},
        "entropy": mean_normalized_entropy(probs),
        "entropy_per_type": {k: mean_normalized_entropy({k: probs[k]}) for k in kinds},
        "network_params": int(sum(p.numel() for p in s.net.parameters())),
        "seconds": seconds,
    }
    if s.arch.cell_from_weights:  # random-ws has no cell until it ranks its candidates at the end
        genotype = genotype_of(s, probs)
        entry["genotype"] = genotype.to_dict()
        scores = table_scores(s.space.name, genotype)  # the benchmark's own result for the cell (nb201)
        if scores is not None:
            entry["table"] = scores
    if hasattr(s.arch, "log_gamma"):
        lg = s.arch.log_gamma()
        entry["log_gamma_max"] = {k: float(lg[k].max()) for k in kinds}
    return entry


def epoch_text(e: dict, experts: int, cell_types=("normal", "reduce")) -> str:
    """The one line an epoch prints; ``experts`` is edges x operations of one cell type."""
    alive = " ".join(f"{k} {e['alive'][k]}/{experts}" for k in cell_types)
    valid = ("valid not read" if e["valid_loss"] is None
             else f"valid loss {e['valid_loss']:.3f} acc {e['valid_acc']:.3f}")
    return (
        f"epoch {e['epoch']}: train loss {e['train_loss']:.3f} acc {e['train_acc']:.3f} | "
        f"{valid} | alive {alive} | "
        f"entropy {e['entropy']:.3f} | {e['seconds']:.1f}s"
    )


def write_config(s) -> None:
    """``config.json``: the settings and what they resolved to (etas, horizons, device)."""
    resolved = {"config": s.cfg.to_dict(), "resolved": s.resolved}
    write_text_atomic(os.path.join(s.out_dir, "config.json"), json.dumps(resolved, indent=2) + "\n")


def write_epoch(s, epoch: int, rewards_epoch) -> None:
    """After an epoch (before its checkpoint): its reward part and the log so far."""
    if rewards_epoch is not None:
        save_npy_atomic(
            os.path.join(s.out_dir, "rewards", "parts", f"epoch_{epoch + 1:04d}.npy"),
            np.stack(rewards_epoch).astype(np.float64),
        )


def write_log(s) -> None:
    """``log.jsonl``, rewritten whole (atomically) after each epoch."""
    write_text_atomic(os.path.join(s.out_dir, "log.jsonl"), "".join(json.dumps(e, sort_keys=True) + "\n" for e in s.log))


def write_outputs(s, genotype, selection=None) -> None:
    """The genotype (json and the space's text form), the weight history, rewards and figures;
    for random-ws, ``selection.json`` (every candidate's validation error)."""
    out = s.out_dir
    write_text_atomic(os.path.join(out, "genotype.json"), genotype.to_json(indent=2) + "\n")
    write_text_atomic(os.path.join(out, "genotype.txt"), s.space.format_genotype(genotype) + "\n")
    if selection is not None:
        write_text_atomic(os.path.join(out, "selection.json"), json.dumps(selection, indent=2) + "\n")
    atomic_write(
        os.path.join(out, "arch_history.npz"),
        lambda fh: np.savez(fh, steps=np.asarray(s.history_steps), weights=np.stack(s.history),
                            cell_types=np.asarray(s.space.cell_types), primitives=np.asarray(s.cfg.primitives)),
    )
    if s.cfg.record_rewards:
        _assemble_rewards(s)
    if s.cfg.plots:
        _write_figures(s, genotype)


def _write_figures(s, genotype) -> None:
    """``arch_weights.png`` (rules whose weights pick the cell), ``cells.png``, and ``table.png`` (nb201)."""
    from xnas.nas.search.plots import plot_arch_weights, plot_table_by_epoch

    out = s.out_dir
    if s.arch.cell_from_weights:
        plot_arch_weights(
            np.asarray(s.history_steps), np.stack(s.history), s.cfg.primitives, s.cfg.nodes,
            os.path.join(out, "arch_weights.png"), steps_per_epoch=s.steps_per_epoch,
            final_wipeout=s.steps_per_epoch * s.cfg.epochs if s.arch.wipes else None,
            cell_types=s.space.cell_types, edge_labels=s.space.edge_labels,
        )
    s.space.plot_cells(genotype, os.path.join(out, "cells.png"))
    if has_table(s.space.name) and any(e.get("table") for e in s.log):
        plot_table_by_epoch(s.log, get_table(s.space.name).all_cells(), os.path.join(out, "table.png"))


def _assemble_rewards(s) -> None:
    """Per-edge ``(T, N)`` arrays that ``xnas-sim regret --rewards`` can replay."""
    parts_dir = os.path.join(s.out_dir, "rewards", "parts")
    files = sorted(f for f in os.listdir(parts_dir) if f.endswith(".npy")) if os.path.isdir(parts_dir) else []
    if not files:
        return
    stream = np.concatenate([np.load(os.path.join(parts_dir, f)) for f in files])  # (T, cell types, E, N)
    rounds = s.resolved["rounds_per_step"]
    for ci, kind in enumerate(s.space.cell_types):
        per_round = stream[:, ci] / rounds[kind]  # mean reward per elementary round
        # a wiped expert is never evaluated again (NaN in the parts): from then
        # on it gets the worst reward the bound allows, so a replay keeps it out
        per_round = np.where(np.isnan(per_round), -s.cfg.L, per_round)
        for e in range(per_round.shape[1]):
            save_npy_atomic(
                os.path.join(s.out_dir, "rewards", f"{kind}_edge{e:02d}.npy"),
                np.ascontiguousarray(per_round[:, e, :]),
            )
