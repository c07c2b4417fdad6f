"""Every forecaster id, and the layouts of the arrays the kernels share, by name.

The kernels take arrays and scalars only; these constants name what sits where.
The registry :mod:`xnas.pea.forecasters` maps a forecaster's name to its id,
and :mod:`xnas.pea.kernels.families` maps the id of a literature forecaster to
the module of its kernels.  Adding a forecaster adds an id here.
"""

from __future__ import annotations

# ---- forecaster ids
FC_XNAS = 0
FC_EG = 1
FC_GD = 2
FC_ADAM = 3
FC_SGD = 4
FC_FTL = 5
FC_UNIFORM = 6
# the literature's forecasters: they play seeds side by side in lanes (xnas.pea.kernels.lanes)
FC_ADAHEDGE = 7
FC_SQUINT = 8
FC_BOA = 9
FC_MLPOLY = 10
FC_FIXED_SHARE = 11
FC_HEDGE_ANYTIME = 12

# ---- the forecaster's parameter vector ``fp`` (xnas.pea.simulate packs it)
FP_ETA = 0
FP_L = 1
FP_ZETA = 2
FP_CLIP = 3
FP_BETA1 = 4
FP_BETA2 = 5
FP_EPS = 6
FP_WD = 7
FP_MOMENTUM = 8
FP_ALPHA = 9
FP_SHIFTS = 10  # switches of the shifting-regret comparator; -1: not computed
FP_SIZE = 11
# registry parameter -> (slot, value when the forecaster has no such parameter)
FP_PARAMS = {
    "clip": (FP_CLIP, 1.0),
    "beta1": (FP_BETA1, 0.9),
    "beta2": (FP_BETA2, 0.999),
    "eps": (FP_EPS, 1e-8),
    "weight_decay": (FP_WD, 0.0),
    "momentum": (FP_MOMENTUM, 0.0),
    "alpha": (FP_ALPHA, 0.0),
}

# ---- per-run scalar outputs ``scal``, of both run loops
OUT_FC_REWARD = 0  # sum_t u_{t-1} . R_t (raw rewards)
OUT_FC_LOSS = 1  # forecaster's cumulative true loss (convex) or linear loss
OUT_LOG_GAMMA = 2  # ln gamma_T
OUT_ALIVE = 3  # alive experts at the end
OUT_SHIFT = 4  # best reward of a sequence with at most FP_SHIFTS switches
OUT_SIZE = 5

# ---- lanes: per-expert arrays hold n G entries, k = i G + g is expert i of lane g
# Per-expert state ``st`` (ST_ROWS rows); each literature forecaster names its rows:
ST_ROWS = 4
ST_SUM = 0  # BOA: sum of rho - eta rho^2; ML-Poly, Squint: the regret R = sum rho
ST_VAR = 1  # BOA, ML-Poly, Squint: V = sum rho^2
ST_BOA_ETA = 2  # BOA: the expert's learning rate
ST_BOA_LNLN = 3  # BOA: ln(-ln pi), pi the prior
ST_FS_PRIOR = 0  # Fixed-share: the prior, linear
ST_FS_MIX = 1  # Fixed-share: the mixture, linear and unnormalised
# Per-lane state ``sc`` (SC_SIZE rows of G):
SC_GAP = 0  # AdaHedge: the cumulative mixability gap Delta
SC_ETA = 1  # AdaHedge: its learning rate ln N / Delta (inf: FTL)
SC_LN_N = 2  # ln N
SC_SIZE = 3
# Per-expert workspace ``wd`` (WD_ROWS rows of n G); Squint uses WD_W, WD_B and
# WD_X for more (xnas.pea.kernels.squint)
WD_W = 0  # the round's unnormalised mixture exp(a - max a)
WD_B = 1  # a lane value spread over the lane's experts
WD_PRIOR = 2  # the log prior, spread over the lanes
WD_X = 3  # scratch
WD_F1 = 4  # Squint's factored weights
WD_F2 = 5
WD_PI = 6  # the prior, spread over the lanes
WD_PACK_R = 7  # Squint's leaders' regrets and their squares, packed
WD_PACK_V = 8
WD_ROWS = 9
# Per-lane workspace ``ln`` (LN_ROWS rows of G):
LN_M = 0  # the round's largest log-weight, then scratch
LN_S = 1  # sum of the unnormalised mixture
LN_RBAR = 2  # the mixture's reward this round
LN_FC = 3  # the forecaster's cumulative reward
LN_X = 4  # scratch
LN_ROWS = 5
