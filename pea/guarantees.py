"""Closed-form regret guarantees of the literature's forecasters, checked on random streams.

``xnas-sim validate`` checks XNAS against Theorem 1; this module does the same
for the forecasters whose papers give a bound with explicit constants, on
rewards in ``[-L, L]`` (loss range ``s = 2 L``):

* ``adahedge`` (de Rooij et al. 2014, Theorem 6 with the variance at most
  ``s^2 / 4`` a round): ``Regret_T <= s sqrt(T ln N) + s (4/3 ln N + 2)``;
* ``hedge-anytime`` (Cesa-Bianchi and Lugosi 2006, Theorem 2.3):
  ``Regret_T <= s (2 sqrt(T ln N / 2) + sqrt(ln N / 8))``;
* ``fixed-share`` (Herbster and Warmuth 1998; Cesa-Bianchi and Lugosi 2006,
  Theorem 5.2), against every sequence with at most ``m`` switches:
  ``[ln N + m ln(N / alpha) + (T - m - 1) ln(1 / (1 - alpha))] / eta + eta T L^2 / 2``.

The regret is measured by :func:`xnas.pea.simulate` (the shifting regret by
its exact dynamic programme); a run above its bound is a violation.
"""

from __future__ import annotations

import math
from typing import Callable, Mapping

import numpy as np

from xnas.pea.forecasters import FORECASTERS
from xnas.pea.kernels.families import FAMILIES
from xnas.pea.rule import eta_star
from xnas.pea.simulate import simulate
from xnas.pea.streams import random_rewards

__all__ = ["BOUNDS", "check_guarantees"]

# Float tolerance of the comparison, relative to the size of the compared values.
RTOL = 1e-9

SWITCHES = (0, 3, 12)  # the switches m of the shifting bounds' comparators


def _bounds() -> tuple[dict, dict]:
    """The bounds the forecasters' kernel modules give (``bound``, ``BOUND_TEXT``), by
    forecaster name: regret bounds first, then shifting ones (``BOUND_SHIFTING``), by id."""
    names = {f.kernel_id: f.name for f in FORECASTERS.values()}
    given = sorted((getattr(m, "BOUND_SHIFTING", False), fc, m) for fc, m in FAMILIES.items() if hasattr(m, "bound"))
    bounds = {names[fc]: m.bound for _, fc, m in given}
    texts = {m.bound: (f"shifting, m in {{{', '.join(map(str, SWITCHES))}}}: " if shifting else "") + m.BOUND_TEXT
             for shifting, _, m in given}
    return bounds, texts


BOUNDS, _FORMULAS = _bounds()
SHIFTING = frozenset(name for name, fn in BOUNDS.items() if _FORMULAS[fn].startswith("shifting"))

STREAMS = ("adversarial", "stochastic", "late-bloomer", "switching", "replay-uniform", "replay-walk")


def _runs(name: str, stream: str, n: int, T: int, seeds: int, seed: int, m: int | None):
    """The results of ``name`` on ``stream`` (one per seed for replays), with the kwargs of its bound."""
    params, bound_kw = None, {}
    if name in SHIFTING:  # Fixed-share, with its share tuned to m switches
        alpha = max(m, 1) / (T - 1)
        params = {"alpha": alpha}
        bound_kw = {"eta": eta_star(n, T, 1.0), "alpha": alpha, "m": m}
    kw = dict(eta="auto", forecaster_params=params, n_samples=4, shifts=m)
    if stream.startswith("replay"):
        out = []
        for k in range(seeds):
            R = random_rewards(stream.split("-", 1)[1], T, n, 1.0, np.random.default_rng([seed + k, n, T, 7]))
            out.append(simulate(name, "replay", rewards=R, seed=seed + k, **kw))
        return out, bound_kw
    return [simulate(name, stream, n_experts=n, T=T, seeds=seeds, seed=seed, **kw)], bound_kw


def check_guarantees(quick: bool = False, seed: int = 0, bounds: Mapping[str, Callable[..., float]] | None = None
                     ) -> dict:
    """Check every closed-form bound of :data:`BOUNDS` on random streams.

    Parameters
    ----------
    quick : bool
        Horizons 10^3 and 10^4 and 2 seeds, instead of up to 10^5 and 4 seeds.
    seed : int
        First seed.
    bounds : mapping, optional
        Bounds to check instead of :data:`BOUNDS` (tests break one on purpose).

    Returns
    -------
    dict
        ``runs``, ``violations`` and one row per forecaster (``runs``,
        ``violations``, ``worst_ratio`` of regret to bound, and ``bound``: its
        formula, with ``s = 2 L``, or ``"custom"`` for a bound given by hand).
    """
    bounds = BOUNDS if bounds is None else bounds
    Ts = (1_000, 10_000) if quick else (1_000, 10_000, 100_000)
    seeds = 2 if quick else 4
    rows = []
    for name, bound_fn in bounds.items():
        row = {"forecaster": name, "bound": _FORMULAS.get(bound_fn, "custom"), "runs": 0, "violations": 0,
               "worst_ratio": -math.inf}
        for stream in STREAMS:
            for n in (2, 8, 64):
                for T in Ts:
                    for m in (SWITCHES if name in SHIFTING else (None,)):
                        results, bound_kw = _runs(name, stream, n, T, seeds, seed, m)
                        bound = bound_fn(T, n, 1.0, **bound_kw)
                        for res in results:
                            regret = res.final_regret if m is None else res.shifting_regret
                            for r in regret:
                                row["runs"] += 1
                                row["violations"] += bool(r > bound + RTOL * max(1.0, abs(bound), abs(r)))
                                ratio = float(r / bound) if bound > 0 else math.inf
                                row["worst_ratio"] = max(row["worst_ratio"], ratio)
        rows.append(row)
    return {"runs": sum(r["runs"] for r in rows), "violations": sum(r["violations"] for r in rows),
            "forecasters": rows}
