"""The statistics of a study: t-intervals, paired and one-sample differences, ICC(1), the F-test,
Levene's test, rank correlations and Holm's adjustment.

Pure functions of numbers (NumPy and ``scipy.stats``); no torch.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np
from scipy import stats

__all__ = ["t_interval", "paired_difference", "welch_difference", "one_sample_difference", "one_way", "levene",
           "rank_correlation", "holm", "ALPHA"]

ALPHA = 0.05
"""Level of the discrimination F-test and of the 95% intervals."""


def t_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, Optional[float], Optional[float]]:
    """Mean and the two-sided Student-t confidence interval of ``values``.

    Returns ``(mean, low, high)``; the bounds are ``None`` with fewer than 2 values
    (no spread to estimate) and equal the mean when every value is the same.
    """
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return float("nan"), None, None
    mean = float(x.mean())
    if x.size < 2:
        return mean, None, None
    sem = float(stats.sem(x))
    if sem == 0.0:
        return mean, mean, mean
    low, high = stats.t.interval(confidence, x.size - 1, loc=mean, scale=sem)
    return mean, float(low), float(high)


def paired_difference(a: dict[int, float], b: dict[int, float]) -> dict:
    """``a - b`` over the keys (seeds) both have: mean, 95% t-interval and the number of pairs."""
    keys = sorted(set(a) & set(b))
    diffs = [a[k] - b[k] for k in keys]
    mean, low, high = t_interval(diffs)
    return {"mean": None if not diffs else mean, "ci95": [low, high], "n_pairs": len(diffs), "p": _t_p(diffs, 0.0)}


def _t_p(values: Sequence[float], mu: float) -> Optional[float]:
    """Two-sided p of the one-sample t-test of ``mean(values) == mu`` (``None``: under 2 values, or no spread at ``mu``).

    Values without spread away from ``mu`` (a method that returns the same cell for every seed)
    give p = 0, as ``scipy.stats.ttest_1samp`` does (t = inf) and as :func:`one_way` reports F = inf;
    ``None`` would leave the test out of the Holm family and call the difference unresolved.
    """
    x = np.asarray(values, dtype=np.float64)
    if x.size < 2:
        return None
    if x.var() == 0.0:
        return None if x[0] == mu else 0.0
    return float(stats.ttest_1samp(x, mu).pvalue)


def one_sample_difference(values: Sequence[float], mu: float) -> Optional[dict]:
    """``mean(values) - mu`` against an exactly known mean ``mu``: the 95% t-interval and the t-test's p.

    Used for a method's cells against the mean over every cell of a space with a table
    (the exact expectation of a uniformly random cell). ``None`` with no values.
    """
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return None
    mean, low, high = t_interval(x - mu)
    return {"mean": mean, "ci95": [low, high], "p": _t_p(x, mu), "n": int(x.size)}


def welch_difference(a: Sequence[float], b: Sequence[float]) -> Optional[dict]:
    """``mean(a) - mean(b)`` for two independent samples, with Welch's 95% interval and p-value.

    Used for a method's cells against the random cells (different seeds, so no pairing).
    ``None`` when either sample has fewer than 2 values; the interval and p are ``None``
    when both samples have no spread.
    """
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.size < 2 or y.size < 2:
        return None
    out = {"mean": float(x.mean() - y.mean()), "ci95": [None, None], "p": None, "n": [int(x.size), int(y.size)]}
    if x.var() == 0.0 and y.var() == 0.0:
        return out
    res = stats.ttest_ind(x, y, equal_var=False)
    ci = res.confidence_interval(0.95)
    out["ci95"], out["p"] = [float(ci.low), float(ci.high)], float(res.pvalue)
    return out


def one_way(groups: Sequence[Sequence[float]]) -> dict:
    """One-way random-effects analysis of groups (cells) of repeated measurements (training seeds).

    Returns
    -------
    dict
        ``within_sd`` (pooled within-group SD: the training noise of one cell),
        ``between_sd`` (SD of the group means), ``icc1`` (ICC(1): the share of the
        variance of one training that lies between cells, from the ANOVA mean squares
        with the unbalanced-design group size ``k0``), ``F`` and ``p`` of
        ``scipy.stats.f_oneway``, and ``groups``/``n``. Values that cannot be
        estimated (fewer than 2 groups, or no group with 2 measurements) are ``None``.
    """
    gs = [np.asarray(g, dtype=np.float64) for g in groups if len(g) > 0]
    a = len(gs)
    n_total = int(sum(g.size for g in gs))
    out = {"groups": a, "n": n_total, "within_sd": None, "between_sd": None, "icc1": None, "F": None, "p": None}
    if a == 0:
        return out
    df_within = n_total - a
    if df_within > 0:
        ss_within = float(sum(((g - g.mean()) ** 2).sum() for g in gs))
        out["within_sd"] = math.sqrt(ss_within / df_within)
    means = np.array([g.mean() for g in gs])
    if a >= 2:
        out["between_sd"] = float(means.std(ddof=1))
    if a < 2 or df_within < 1:
        return out
    grand = float(np.concatenate(gs).mean())
    ms_between = float(sum(g.size * (g.mean() - grand) ** 2 for g in gs)) / (a - 1)
    ms_within = out["within_sd"] ** 2
    k0 = (n_total - sum(g.size ** 2 for g in gs) / n_total) / (a - 1)
    denominator = ms_between + (k0 - 1.0) * ms_within
    out["icc1"] = (ms_between - ms_within) / denominator if denominator > 0 else None
    if ms_within > 0:
        res = stats.f_oneway(*gs)
        out["F"], out["p"] = float(res.statistic), float(res.pvalue)
    elif ms_between > 0:
        # no training noise at all and different cells: perfectly separated
        out["F"], out["p"] = math.inf, 0.0
    return out


def levene(a: Sequence[float], b: Sequence[float]) -> Optional[float]:
    """p of Levene's test (``scipy.stats.levene``, median-centred) that ``a`` and ``b`` have equal spread."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.size < 2 or y.size < 2 or (x.var() == 0.0 and y.var() == 0.0):
        return None
    return float(stats.levene(x, y).pvalue)


def rank_correlation(x: Sequence[float], y: Sequence[float]) -> dict:
    """Kendall's tau-b and Spearman's rho of ``x`` and ``y`` with their two-sided p-values (scipy.stats)."""
    a, b = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    out = {"kendall_tau": None, "kendall_p": None, "spearman": None, "spearman_p": None, "n_cells": int(a.size)}
    if a.size < 3 or a.var() == 0.0 or b.var() == 0.0:
        return out
    tau, spear = stats.kendalltau(a, b), stats.spearmanr(a, b)
    out.update(kendall_tau=float(tau.statistic), kendall_p=float(tau.pvalue),
               spearman=float(spear.statistic), spearman_p=float(spear.pvalue))
    return out


def holm(pvalues: Sequence[Optional[float]]) -> list[Optional[float]]:
    """Holm's step-down adjustment of a family of p-values (``None`` entries are not tests and stay ``None``).

    The i-th smallest of m p-values becomes ``max_{j <= i} min(1, (m - j + 1) p_(j))``;
    rejecting where the adjusted p is below alpha controls the family-wise error rate.
    """
    tested = [(p, i) for i, p in enumerate(pvalues) if p is not None]
    m = len(tested)
    out: list[Optional[float]] = [None] * len(pvalues)
    running = 0.0
    for rank, (p, i) in enumerate(sorted(tested)):
        running = max(running, min(1.0, (m - rank) * p))
        out[i] = running
    return out
