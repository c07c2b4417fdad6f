"""The literature's forecasters by id: one module each, and the calls that pick one at compile time.

A module of this package holds one forecaster's kernels, with the same four
names: ``init`` (its start, after :func:`xnas.pea.kernels.lanes._init_lanes`),
``step`` (one round, for the convex environment's round-by-round loop),
``segment`` (the rounds between two events, in ``G`` lanes; ``G`` is the
literal 1 in a lone run, which folds the one-lane branches away before the
loop is optimised: left to a run-time test, both branches stay in the loop and
a lone run is twice as slow) and, where its paper
gives one with explicit constants, ``bound`` and ``BOUND_TEXT`` (checked by
:mod:`xnas.pea.guarantees`).  :data:`FAMILIES` registers it under its id
(:mod:`xnas.pea.kernels.layout`).

The run loops call :func:`family_init`, :func:`family_round`,
:func:`family_segment` and :func:`family_mixture` with the forecaster id as a compile-time literal
(:mod:`xnas.pea.compiled` compiles one run loop per forecaster), and numba
types only that forecaster's kernels: a run compiles the forecaster it plays
and nothing of the others.  Ids of the forecasters outside this registry
(xnas, eg, the softmax-gradient ones, ftl, uniform: their updates are written
in :func:`xnas.pea.kernels.run._run_one`) get calls that do nothing.
"""

from __future__ import annotations

from numba import types
from numba.core.errors import TypingError
from numba.extending import overload

from xnas.pea.kernels import adahedge, boa, fixed_share, hedge_anytime, mlpoly, squint
from xnas.pea.kernels.layout import (FC_ADAHEDGE, FC_BOA, FC_FIXED_SHARE, FC_HEDGE_ANYTIME, FC_MLPOLY, FC_SQUINT, LN_RBAR,
                                     LN_S, WD_W)
from xnas.pea.kernels.vecmath import _exp_shifted, _softmax_v

# One line per forecaster that plays in lanes: its id and the module of its kernels.
FAMILIES = {
    FC_ADAHEDGE: adahedge,
    FC_SQUINT: squint,
    FC_BOA: boa,
    FC_MLPOLY: mlpoly,
    FC_FIXED_SHARE: fixed_share,
    FC_HEDGE_ANYTIME: hedge_anytime,
}


def _family(fc):
    """The module of literal forecaster id ``fc`` (``None`` outside the registry)."""
    if not isinstance(fc, types.IntegerLiteral):
        raise TypingError("the forecaster id must be a compile-time literal (see xnas.pea.compiled)")
    return FAMILIES.get(fc.literal_value)


def in_lanes(fc):
    """Whether forecaster ``fc`` plays in lanes (a compile-time constant in a kernel)."""
    return fc in FAMILIES


def family_mixture(fc, a, tmp, out):
    """The forecaster's normalised mixture ``softmax(a)`` into ``out``, by the vectorised
    exponential of the rounds it played (kernels only)."""


def family_init(fc, G, logw0, a, st, sc, wd):
    """The forecaster's own start of ``G`` lanes (kernels only)."""


def family_round(fc, eta, L, alpha, t, R, j, S, a, st, sc, wd, ln, rbar):
    """One round of a lone run (the convex environment's round-by-round loop), whose
    mixture was ``softmax(a)`` with reward ``rbar`` and whose rewards are ``R[j]``:
    the forecaster's log-weights after round ``t`` (kernels only)."""


def family_segment(fc, R, j0, j1, t, eta, L, alpha, G, a, S, st, sc, wd, ln):
    """Rounds ``j0 .. j1-1`` of the lanes' rewards ``R`` with no event inside,
    ``t`` rounds played before: mix, account (the forecaster's reward goes to
    ``ln[LN_FC]``), step (kernels only)."""


@overload(in_lanes, prefer_literal=True, inline="always")
def _in_lanes(fc):
    yes = _family(fc) is not None
    return lambda fc: yes


@overload(family_mixture, prefer_literal=True, inline="always")
def _family_mixture(fc, a, tmp, out):
    if _family(fc) is None:
        return lambda fc, a, tmp, out: None
    return lambda fc, a, tmp, out: _softmax_v(a, tmp, out)


@overload(family_init, prefer_literal=True, inline="always")
def _family_init(fc, G, logw0, a, st, sc, wd):
    module = _family(fc)
    if module is None:
        return lambda fc, G, logw0, a, st, sc, wd: None
    impl = module.init
    return lambda fc, G, logw0, a, st, sc, wd: impl(G, logw0, a, st, sc, wd)


@overload(family_round, prefer_literal=True, inline="always")
def _family_round(fc, eta, L, alpha, t, R, j, S, a, st, sc, wd, ln, rbar):
    module = _family(fc)
    if module is None:
        return lambda fc, eta, L, alpha, t, R, j, S, a, st, sc, wd, ln, rbar: None
    impl = module.step

    def one_round(fc, eta, L, alpha, t, R, j, S, a, st, sc, wd, ln, rbar):
        ln[LN_S, 0] = _exp_shifted(a, wd[WD_W])
        ln[LN_RBAR, 0] = rbar
        impl(eta, L, alpha, t, R, j, S, a, st, sc, wd, ln, 1)
    return one_round


@overload(family_segment, prefer_literal=True, inline="always")
def _family_segment(fc, R, j0, j1, t, eta, L, alpha, G, a, S, st, sc, wd, ln):
    module = _family(fc)
    if module is None:
        return lambda fc, R, j0, j1, t, eta, L, alpha, G, a, S, st, sc, wd, ln: None
    impl = module.segment
    return lambda fc, R, j0, j1, t, eta, L, alpha, G, a, S, st, sc, wd, ln: impl(R, j0, j1, t, eta, L, alpha, G, a,
                                                                                 S, st, sc, wd, ln)
