"""The expert forecasters' loops over the rounds between two events, in lanes.

Mix (:func:`xnas.pea.lanes._mix_lanes`), account, step
(:mod:`xnas.pea.kernels.expert_kernels`), round after round, for ``G`` lanes of
rewards ``R`` (shape ``(rounds, n G)``); :mod:`xnas.pea.kernels.lane_run` calls
:func:`_expert_segment` between the events of a run (sampled rounds, the end
of a block of rewards).
"""

from __future__ import annotations

from numba import njit

from xnas.pea.kernels.expert_kernels import (_FAST, _IR_INLINE, FC_ADAHEDGE, FC_BOA, FC_FIXED_SHARE,
                                     FC_HEDGE_ANYTIME, FC_MLPOLY, _adahedge_step,
                                     _fixed_share_step, _hedge_step, _rho_step)
from xnas.pea.kernels.lanes import LN_FC, LN_RBAR, LN_S, _lane_dot, _lane_sum, _mix_lanes
from xnas.pea.kernels.squint import _squint_log_weights, _squint_mix, _squint_start, _squint_update

# One segment loop per forecaster: a loop that inlines every forecaster's step
# runs short of registers and reloads its constants every round (2x slower).
# Each runs with a literal lane count of 1 for a lone run, so that the
# one-lane branches fold away before the loop is optimised: left to a runtime
# test, both branches stay in the loop and a lone run is twice as slow.
_SEG = {"cache": True, "fastmath": {"contract"}, "error_model": "numpy"}


@njit(**_FAST)
def _rounds_hedge(R, j0, j1, t, L, G, a, S, sc, wd, ln):
    inv = 1.0 / (2.0 * L)
    for j in range(j0, j1):
        _mix_lanes(a, S, R, j, G, wd, ln)
        _hedge_step(t + j - j0 + 1, inv, S, a, sc, wd)


@njit(**_SEG)
def _segment_hedge(R, j0, j1, t, L, G, a, S, sc, wd, ln):
    if G == 1:
        _rounds_hedge(R, j0, j1, t, L, 1, a, S, sc, wd, ln)
    else:
        _rounds_hedge(R, j0, j1, t, L, G, a, S, sc, wd, ln)


@njit(**_FAST)
def _rounds_fixed_share(R, j0, j1, eta, alpha, G, a, S, st, wd, ln):
    # the mixture is the linear one the step carries (see _fixed_share_step)
    x = st[1]
    for j in range(j0, j1):
        _lane_dot(x, R, j, G, ln[LN_RBAR])
        _lane_sum(x, G, ln[LN_S])
        for g in range(G):
            ln[LN_FC, g] += ln[LN_RBAR, g] / ln[LN_S, g]
        for k in range(a.shape[0]):
            S[k] += R[j, k]
        _fixed_share_step(eta, alpha, R, j, a, st, wd, ln, G)


@njit(**_SEG)
def _segment_fixed_share(R, j0, j1, eta, alpha, G, a, S, st, wd, ln):
    if G == 1:
        _rounds_fixed_share(R, j0, j1, eta, alpha, 1, a, S, st, wd, ln)
    else:
        _rounds_fixed_share(R, j0, j1, eta, alpha, G, a, S, st, wd, ln)


@njit(**_FAST)
def _rounds_adahedge(R, j0, j1, G, a, S, sc, wd, ln):
    for j in range(j0, j1):
        _mix_lanes(a, S, R, j, G, wd, ln)
        _adahedge_step(R, j, S, a, sc, wd, ln, G)


@njit(**_SEG)
def _segment_adahedge(R, j0, j1, G, a, S, sc, wd, ln):
    if G == 1:
        _rounds_adahedge(R, j0, j1, 1, a, S, sc, wd, ln)
    else:
        _rounds_adahedge(R, j0, j1, G, a, S, sc, wd, ln)


@njit(**_FAST)
def _rounds_squint(R, j0, j1, L, G, a, S, st, wd, ln):
    # factored weights within the segment (xnas.pea.kernels.squint), log-weights at its end
    inv = 1.0 / (2.0 * L)
    _squint_start(st, wd)
    for j in range(j0, j1):
        _squint_mix(S, R, j, G, wd, ln)
        _squint_update(inv, R, j, st, wd, ln, G)
    _squint_log_weights(a, wd)


@njit(**_SEG)
def _segment_squint(R, j0, j1, L, G, a, S, st, wd, ln):
    if G == 1:
        _rounds_squint(R, j0, j1, L, 1, a, S, st, wd, ln)
    else:
        _rounds_squint(R, j0, j1, L, G, a, S, st, wd, ln)


@njit(**_IR_INLINE)
def _rounds_rho(fc_id, R, j0, j1, L, G, a, S, st, wd, ln):
    inv = 1.0 / (2.0 * L)
    for j in range(j0, j1):
        _mix_lanes(a, S, R, j, G, wd, ln)
        _rho_step(fc_id, inv, R, j, a, st, wd, ln, G)


@njit(**_IR_INLINE)
def _segment_rho(fc, R, j0, j1, L, G, a, S, st, wd, ln):
    """BOA or ML-Poly; :func:`_expert_segment` passes ``fc`` as a literal,
    so that each of them gets loops of its own."""
    if G == 1:
        _rounds_rho(fc, R, j0, j1, L, 1, a, S, st, wd, ln)
    else:
        _rounds_rho(fc, R, j0, j1, L, G, a, S, st, wd, ln)


@njit(**_SEG)
def _expert_segment(fc_id, R, j0, j1, t, eta, L, alpha, G, a, S, st, sc, wd, ln):
    """Rounds ``j0 .. j1-1`` of the lanes' rewards ``R`` (shape ``(rounds, n G)``),
    with no event inside and ``t`` rounds played before: mix, account (the
    forecaster's reward goes to ``ln[LN_FC]``), step."""
    if fc_id == FC_HEDGE_ANYTIME:
        _segment_hedge(R, j0, j1, t, L, G, a, S, sc, wd, ln)
    elif fc_id == FC_FIXED_SHARE:
        _segment_fixed_share(R, j0, j1, eta, alpha, G, a, S, st, wd, ln)
    elif fc_id == FC_ADAHEDGE:
        _segment_adahedge(R, j0, j1, G, a, S, sc, wd, ln)
    elif fc_id == FC_BOA:
        _segment_rho(FC_BOA, R, j0, j1, L, G, a, S, st, wd, ln)
    elif fc_id == FC_MLPOLY:
        _segment_rho(FC_MLPOLY, R, j0, j1, L, G, a, S, st, wd, ln)
    else:
        _segment_squint(R, j0, j1, L, G, a, S, st, wd, ln)
