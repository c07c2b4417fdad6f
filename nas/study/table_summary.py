"""The study's scores from a space's table of trained cells (NAS-Bench-201): ``summary.json``'s ``table``.

Every cell a study finds is looked up in the benchmark's own 200-epoch results, which cost
nothing and carry no training noise. The scores are computed from the cells' genotypes at
report time, so a study folder made before the units recorded them reports the same.

- ``methods.<name>.<column>``: ``mean``, ``ci95`` (Student t over the method's cells) and ``n``;
- ``minus_random.<name>.<column>``: the method's mean minus the exact mean over every cell of
  the space (the expectation of a uniformly random cell), with the one-sample t-interval, ``p``,
  ``p_holm`` and ``resolved``;
- ``xnas_minus_darts.<column>``: paired over search seeds, ``mean``, ``ci95``, ``n_pairs``, ``p``,
  ``p_holm``, ``resolved``;
- ``all_cells.<column>``: ``mean``, ``median``, ``q90``, ``max`` over every cell (exact);
- ``by_epoch.<name>``: the mean CIFAR-10 test accuracy of the cell derived after each search epoch;
- ``transfer``: Kendall's tau and Spearman's rho between the trained cells' mean test error
  on the study's dataset and their CIFAR-10 test accuracy;
- ``published``: other methods' published searches in this space, labelled as such.
"""

from __future__ import annotations

import math
from typing import Any, Optional

from xnas.nas.study.stats import ALPHA, holm, one_sample_difference, paired_difference, rank_correlation, t_interval

__all__ = ["cell_table_fields", "table_summary", "adjust_holm", "HOLM_RULE"]

HOLM_RULE = (
    "p_holm: Holm's step-down adjustment over one family per score (the trained test error; each table column): "
    "every method's minus_random and xnas_minus_darts. 'resolved' means p_holm < 0.05."
)
KEY_COLUMN = "cifar10_test"


def _entropy(value: Any) -> Optional[float]:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and 0 <= value <= 1
    return float(value) if ok else None


def cell_table_fields(table: Any, space: Any, search: dict) -> dict[str, Any]:
    """What a cell's summary entry gains from its search unit: ``table`` scores, final ``entropy``, ``table_by_epoch``.

    The scores are looked up from the genotype (never read from the unit); the entropy and
    the per-epoch cells are taken from the unit where it recorded valid ones (else ``None``).
    """
    out: dict[str, Any] = {"entropy": _entropy(search.get("entropy")), "table": None, "table_by_epoch": None}
    if table is None:
        return out
    out["table"] = table.scores(space.parse_genotype(search["genotype"]))
    epochs = search.get("epochs")
    if isinstance(epochs, list) and epochs and len(epochs) <= 100_000:
        try:
            out["table_by_epoch"] = [table.scores(space.parse_genotype(e["genotype"]))[KEY_COLUMN] for e in epochs]
        except (ValueError, TypeError, KeyError, RecursionError):
            out["table_by_epoch"] = None  # a damaged trajectory is left out, the cell still counts
    return out


def _stats(values: list[float]) -> dict:
    mean, low, high = t_interval(values)
    return {"mean": mean if values else None, "ci95": [low, high], "n": len(values)}


def _by_epoch(cells: list[dict]) -> Optional[list[float]]:
    tracks = [c["table_by_epoch"] for c in cells if c.get("table_by_epoch")]
    if not tracks:
        return None
    length = min(len(t) for t in tracks)
    return [sum(t[e] for t in tracks) / len(tracks) for e in range(length)]


def table_summary(table: Any, methods: dict[str, dict]) -> dict[str, Any]:
    """``summary.json``'s ``table`` object from the method rows (each cell holding its ``table`` scores)."""
    columns = table.columns  # the space's table names its own columns and published rows
    population = table.all_cells()
    rows, minus_random, by_epoch = {}, {}, {}
    for name, row in methods.items():
        cells = [c for c in row["cells"] if c.get("table")]
        rows[name] = {col: _stats([c["table"][col] for c in cells]) for col in columns}
        minus_random[name] = None if row["kind"] == "random" else {
            col: one_sample_difference([c["table"][col] for c in cells], population[col]["mean"]) for col in columns}
        by_epoch[name] = _by_epoch(cells)
    pairs = {name: {c["cell"]: c["table"] for c in methods.get(name, {}).get("cells", []) if c.get("table")}
             for name in ("xnas", "darts")}
    xnas_minus_darts = {col: paired_difference({k: v[col] for k, v in pairs["xnas"].items()},
                                               {k: v[col] for k, v in pairs["darts"].items()}) for col in columns}
    trained = [c for row in methods.values() for c in row["cells"] if c.get("table") and c["mean_err"] is not None]
    return {
        "source": "NAS-Bench-201: accuracy (%) after 200 epochs, mean over the benchmark's seeds",
        "columns": list(columns),
        "methods": rows,
        "minus_random": minus_random,
        "minus_random_definition": "method mean minus the exact mean over all 15,625 cells (one-sample t over its cells)",
        "xnas_minus_darts": xnas_minus_darts,
        "all_cells": population,
        "by_epoch": by_epoch,
        "transfer": rank_correlation([c["mean_err"] for c in trained], [c["table"][KEY_COLUMN] for c in trained]),
        "transfer_definition": ("over every trained cell: its mean test error on the study's dataset against its "
                                "CIFAR-10 test accuracy in the table (a good transfer gives a negative correlation)"),
        "published": [dict(r) for r in table.published],
        "published_label": table.published_label,
    }


def adjust_holm(summary_methods: dict[str, dict], xnas_minus_darts: dict, table: Optional[dict]) -> None:
    """Add ``p_holm`` and ``resolved`` to every test of the summary, one Holm family per score (in place)."""
    families = [[row.get("minus_random") for row in summary_methods.values()] + [xnas_minus_darts]]
    if table is not None:
        for col in table["columns"]:
            families.append([t[col] if t else None for t in table["minus_random"].values()]
                            + [table["xnas_minus_darts"][col]])
    for family in families:
        tests = [t for t in family if t is not None]
        for t, p in zip(tests, holm([t.get("p") for t in tests])):
            t["p_holm"] = p
            t["resolved"] = p is not None and p < ALPHA
