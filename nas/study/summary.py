"""The study's summary, rebuilt from whatever unit files exist.

Cost is defined per cell as its search seconds plus the seconds of all its trainings
(wall time of the units); ``cost_vs_random`` divides a method's mean cost per cell by
the ``random`` row's (whose search costs nothing, so its cost is its training cost).
"""

from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np

from xnas.nas.study.config import StudyConfig
from xnas.nas.study.methods import get_method
from xnas.nas.study.stats import ALPHA, levene, one_way, paired_difference, t_interval, welch_difference
from xnas.nas.study.table_summary import HOLM_RULE, adjust_holm, cell_table_fields, table_summary
from xnas.nas.study.units import Unit, plan_units, read_unit, unit_check, unit_problem

__all__ = ["build_summary", "DISCRIMINATION_RULE", "COST_DEFINITION"]

DISCRIMINATION_RULE = (
    f"discriminates iff the one-way ANOVA F-test (scipy.stats.f_oneway) over the random cells' test errors, "
    f"one group per cell, its training seeds as the repeats, gives p < {ALPHA} "
    "(over all cells when the study has fewer than 2 random cells with 2 or more trainings)"
)
COST_DEFINITION = "cost of a cell = its search seconds + the seconds of all its trainings; cost_vs_random = mean cost / random's"


def _cell_record(out: str, check: Any, method: str, cell: int, trainings: int, table: Any = None) -> Optional[dict]:
    search = read_unit(out, Unit(method, cell), check)
    if search is None:
        return None
    space = check.space
    runs = [r for r in (read_unit(out, Unit(method, cell, t), check) for t in range(trainings)) if r is not None]
    genotype = space.parse_genotype(search["genotype"])
    ops = space.cell_ops(genotype)
    normal = ops.get("normal", next(iter(ops.values())))
    free = sum(op in space.parameter_free for op in normal)
    return {
        "cell": cell,
        "seed": search.get("seed"),
        "genotype": search["genotype"],
        "search_seconds": float(search.get("seconds", 0.0)),
        "errors": [float(r["test_err"]) for r in runs],
        "train_seeds": [int(r["seed"]) for r in runs],
        "train_seconds": float(sum(r.get("seconds", 0.0) for r in runs)),
        "params_M": float(np.mean([r["params_M"] for r in runs])) if runs else None,
        "mean_err": float(np.mean([r["test_err"] for r in runs])) if runs else None,
        "skip_connect_normal": sum(op == "skip_connect" for op in normal),
        "parameter_free_normal": free,
        "all_parameter_free": free == len(normal),
        **cell_table_fields(table, space, search),
    }


def _mean(values) -> Optional[float]:
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def _method_row(name: str, cells: list[dict]) -> dict:
    trained = [c for c in cells if c["errors"]]
    means = [c["mean_err"] for c in trained]
    if len(trained) == 1:  # one cell (a published one): the interval is over its trainings
        mean, low, high = t_interval(trained[0]["errors"])
        over = "trainings"
    else:
        mean, low, high = t_interval(means)
        over = "cells"
    costs = [c["search_seconds"] + c["train_seconds"] for c in trained]
    return {
        "kind": get_method(name).kind,
        "mean_err": mean if trained else None,
        "ci95": [low, high],
        "ci_over": over,
        "best": min(means) if means else None,
        "worst": max(means) if means else None,
        "n_cells": len(trained),
        "n_trainings": sum(len(c["errors"]) for c in trained),
        "search_seconds": _mean(c["search_seconds"] for c in cells),
        "train_seconds": _mean(c["train_seconds"] for c in trained),
        "cost_seconds": _mean(costs),
        "params_M": _mean(c["params_M"] for c in trained),
        "skip_connect_normal": _mean(c["skip_connect_normal"] for c in cells),
        "parameter_free_normal": _mean(c["parameter_free_normal"] for c in cells),
        "all_parameter_free_cells": sum(c["all_parameter_free"] for c in cells),
        "final_entropy": _mean(c["entropy"] for c in cells),
        "cells": cells,
    }


def _discrimination(methods: dict[str, dict]) -> tuple[dict, bool]:
    random_groups = [c["errors"] for m in methods.values() if m["kind"] == "random" for c in m["cells"] if c["errors"]]
    all_groups = [c["errors"] for m in methods.values() for c in m["cells"] if c["errors"]]
    rnd, every = one_way(random_groups), one_way(all_groups)
    searched = _searched_cells(methods, random_groups)
    usable = rnd["p"] is not None
    basis, test = ("random cells", rnd) if usable else ("all cells", every)
    decided = test["p"] is not None
    over = "the random cells" if usable else "all cells"
    discriminates = bool(decided and test["p"] < ALPHA)
    if not all_groups and any(c.get("table") for m in methods.values() for c in m["cells"]):
        words = ("A search-only study: every cell is scored by the benchmark's table of trained cells, which has "
                 "no training noise; the discrimination test of trained cells does not apply.")
    elif not decided:
        words = ("The study cannot say whether the benchmark tells cells apart: it needs at least 2 cells "
                 "trained with 2 or more seeds.")
    elif discriminates:
        words = (f"The benchmark tells cells apart: over {over}, the spread between cells "
                 f"(SD of their mean errors {test['between_sd']:.2f} points) clearly exceeds the training noise of one cell "
                 f"(SD {test['within_sd']:.2f}), F-test p = {test['p']:.3g}.")
    else:
        words = (f"The benchmark cannot tell cells apart: over {over}, the spread between cells "
                 f"(SD of their mean errors {test['between_sd']:.2f} points) is not significant against the "
                 f"training noise of one cell (SD {test['within_sd']:.2f}), F-test p = {test['p']:.3g}; "
                 "differences between methods in this study are not resolved.")
    return {
        "rule": DISCRIMINATION_RULE,
        "basis": basis,
        "training_noise_sd": test["within_sd"],
        "random_cells": rnd,
        "all_cells": every,
        "searched_cells": searched,
        "verdict": words,
    }, discriminates


def _residuals(groups) -> list[float]:
    return [float(x - np.mean(g)) for g in groups if len(g) > 1 for x in g]


def _searched_cells(methods: dict[str, dict], random_groups) -> dict:
    """The same F-test over the cells the search methods return, their training noise, and Levene against random's."""
    groups = [c["errors"] for m in methods.values() if m["kind"] == "search" for c in m["cells"] if c["errors"]]
    test = one_way(groups)
    return {
        "methods": [name for name, m in methods.items() if m["kind"] == "search"],
        "groups": test["groups"],
        "F": test["F"],
        "p": test["p"],
        "within_sd": test["within_sd"],
        "between_sd": test["between_sd"],
        "levene_p_vs_random": levene(_residuals(groups), _residuals(random_groups)),
        "levene_definition": ("scipy.stats.levene (median-centred) on each training's deviation from its cell's mean "
                              "error: the searched cells' against the random cells'"),
    }


def _clean(obj: Any) -> Any:
    """Non-finite floats become ``None`` (the summary is strict JSON)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.generic):
        return _clean(obj.item())
    return obj


def build_summary(cfg: StudyConfig, out: str) -> dict:
    """The summary of the units found in ``out`` (a partial study gives a partial summary)."""
    from xnas.provenance import version_label

    from xnas.nas.study.config import StudyError
    from xnas.nas.study import backend

    check = unit_check(cfg, out)
    space = check.space
    try:
        table = backend.get_table(space.name) if backend.has_table(space.name) else None
    except backend.TableError as exc:
        raise StudyError(str(exc)) from None
    planned = plan_units(cfg)
    checked = [(u, unit_problem(out, u, check)) for u in planned]
    done = sum(record is not None for _, (record, _) in checked)
    invalid = [{"unit": u.id, "problem": why} for u, (_, why) in checked if why is not None]
    # units written before they recorded their code have no "code"; their study says nothing about it
    versions = sorted({version_label(r["code"]) for _, (r, _) in checked if r is not None and "code" in r})
    methods = {}
    for name in cfg.methods:
        n = get_method(name).n_cells(cfg.seeds, cfg.random_cells)
        cells = [c for c in (_cell_record(out, check, name, i, cfg.trainings, table) for i in range(n)) if c is not None]
        methods[name] = _method_row(name, cells)
    random_cost = methods.get("random", {}).get("cost_seconds")
    random_means = [c["mean_err"] for c in methods.get("random", {}).get("cells", []) if c["errors"]]
    for name, row in methods.items():
        ok = random_cost and row["cost_seconds"] is not None
        row["cost_vs_random"] = row["cost_seconds"] / random_cost if ok else None
        means = [c["mean_err"] for c in row["cells"] if c["errors"]]
        row["minus_random"] = None if name == "random" else welch_difference(means, random_means)
    pairs = {}
    for name in ("xnas", "darts"):
        cells = methods.get(name, {}).get("cells", [])
        pairs[name] = {c["cell"]: c["mean_err"] for c in cells if c["errors"]}
    discrimination, discriminates = _discrimination(methods)
    xnas_minus_darts = paired_difference(pairs["xnas"], pairs["darts"])
    scores = table_summary(table, methods) if table is not None else None
    adjust_holm(methods, xnas_minus_darts, scores)
    return _clean({
        "dataset": cfg.dataset,
        "space": cfg.space,
        "config": cfg.to_dict(),
        "units_planned": len(planned),
        "units_done": done,
        "complete": done == len(planned),
        "units_invalid": invalid,
        "methods": methods,
        "xnas_minus_darts": xnas_minus_darts,
        "holm_rule": HOLM_RULE,
        "table": scores,
        "cost_definition": COST_DEFINITION,
        "discriminates": discriminates,
        "discrimination": discrimination,
        **({"code_versions": versions} if versions else {}),
    })
