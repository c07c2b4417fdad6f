"""Registry of forecasters: XNAS, the optimizers it is compared with, and the
expert-advice algorithms of the online-learning literature.

Every forecaster keeps a vector of logits ``a`` (log-weights) and predicts
with ``u = softmax(a)`` (``ftl`` and ``uniform`` excepted).  ``xnas`` is the
rule of :mod:`xnas.pea.rule`; the softmax-gradient forecasters descend
``d loss / d a_i = -u_i (R_i - u . R)`` (paper, equation 6), the gradient a
NAS optimizer sees on its architecture logits.  The literature's forecasters
(``adahedge`` to ``hedge-anytime``, one kernel module each, :mod:`xnas.pea.kernels.families`)
carry their update and guarantee in their ``doc`` field; in it
``rho_k = (R_k - u . R) / (2 L)`` is expert ``k``'s instantaneous regret in
the unit-range loss units the papers use.

This module is long because it is a registry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping

from xnas.pea.kernels import layout as K
from xnas.pea.params import freeze_registry, lookup, resolve_params
from xnas.pea.rule import eta_star


@dataclass(frozen=True)
class Forecaster:
    """One forecaster.

    Attributes
    ----------
    name : str
        Registry key.
    kernel_id : int
        Id of :mod:`xnas.pea.kernels.layout`.
    description : str
        One line for ``--help`` and tables.
    defaults : Mapping[str, float]
        Extra hyperparameters and their defaults.
    auto_eta : str
        How ``eta='auto'`` resolves: ``"theory"`` gives
        ``eta* = sqrt(2 ln N / (T L^2))``, ``"darts"`` DARTS's architecture
        learning rate 3e-4, ``"none"`` means the forecaster has no step size.
    doc : str
        The update and its guarantee, with the paper (literature forecasters).
    """

    name: str
    kernel_id: int
    description: str
    defaults: Mapping[str, float] = field(default_factory=dict)
    auto_eta: str = "theory"
    doc: str = ""

    def resolve_eta(self, eta: float | str, n_experts: int, T: int, L: float) -> float:
        """The learning rate for ``eta`` (a positive number or ``'auto'``)."""
        if isinstance(eta, str):
            if eta != "auto":
                raise ValueError(f"eta must be a positive number or 'auto', got {eta!r}")
            if self.auto_eta == "darts":
                return 3e-4
            return eta_star(n_experts, T, L)
        eta = float(eta)
        if not (eta > 0 and math.isfinite(eta)):
            raise ValueError(f"eta must be positive and finite, got {eta}")
        return eta

    def resolve(self, params: Mapping[str, float] | None) -> dict[str, float]:
        """Defaults overridden by ``params``; unknown keys raise ``ValueError``."""
        return resolve_params("forecaster", self.name, self.defaults, params)


FORECASTERS: Mapping[str, Forecaster] = freeze_registry(
    Forecaster(
        "xnas",
        K.FC_XNAS,
        "XNAS (Algorithm 1): clipping, exponentiated-gradient step, wipeout with relaxation zeta",
        {"clip": 1.0},
    ),
    Forecaster(
        "eg",
        K.FC_EG,
        "exponentiated gradient (Hedge) with clipping, without wipeout",
        {"clip": 1.0},
    ),
    Forecaster(
        "gd-softmax",
        K.FC_GD,
        "gradient descent on softmax logits, as DARTS (effective reward u_i (R_i - R_bar))",
        {"weight_decay": 0.0},
    ),
    Forecaster(
        "adam-softmax",
        K.FC_ADAM,
        "Adam on softmax logits with DARTS's betas (0.5, 0.999); eta 'auto' is DARTS's 3e-4",
        {"beta1": 0.5, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0},
        auto_eta="darts",
    ),
    Forecaster(
        "sgd-softmax",
        K.FC_SGD,
        "SGD with momentum and weight decay on softmax logits",
        {"momentum": 0.9, "weight_decay": 0.0},
    ),
    Forecaster(
        "ftl",
        K.FC_FTL,
        "follow the leader: all weight on the experts with the largest cumulative reward",
        auto_eta="none",
    ),
    Forecaster(
        "uniform",
        K.FC_UNIFORM,
        "the uniform mixture, never updated",
        auto_eta="none",
    ),
    Forecaster(
        "adahedge",
        K.FC_ADAHEDGE,
        "AdaHedge: Hedge with eta_t = ln N / (cumulative mixability gap); no horizon, no learning rate",
        auto_eta="none",
        doc=(
            "de Rooij, van Erven, Gruenwald and Koolen (2014), 'Follow the leader if you can, hedge if you "
            "must', JMLR 15.  Losses l = -R.  Weights u_t ~ pi exp(eta_t S_{t-1}) with eta_t = ln N / "
            "Delta_{t-1} (FTL over the leaders while Delta = 0).  Mixability gap delta_t = h_t - m_t >= 0, "
            "h_t = -u_t . R_t, m_t = -(1/eta_t) ln sum_k u_tk exp(eta_t R_tk); Delta_t = Delta_{t-1} + delta_t.  "
            "Guarantee (their Theorem 6, with the variance bounded by s^2/4): Regret_T <= s sqrt(T ln N) + "
            "s (4/3 ln N + 2), s = 2L the loss range."
        ),
    ),
    Forecaster(
        "squint",
        K.FC_SQUINT,
        "Squint with the uniform prior on eta in [0, 1/2] (closed-form evidence)",
        auto_eta="none",
        doc=(
            "Koolen and van Erven (2015), 'Second-order quantile methods for experts and combinatorial games', "
            "COLT.  With R_k = sum rho_k and V_k = sum rho_k^2: u_{t+1,k} ~ pi_k E_eta[eta exp(eta R_k - "
            "eta^2 V_k)], eta uniform on [0, 1/2]; the expectation is their closed form with erf, evaluated "
            "in log space.  Guarantee (their Theorem 4): R_k = O(sqrt(V_k (ln ln V_k + ln 1/pi_k)) + ln 1/pi_k) "
            "for every expert k simultaneously (no closed-form constant is checked)."
        ),
    ),
    Forecaster(
        "boa",
        K.FC_BOA,
        "Bernstein online aggregation with adaptive per-expert learning rates (second-order term)",
        auto_eta="none",
        doc=(
            "Wintenberger (2017), 'Optimal learning with Bernstein online aggregation', Machine Learning 106.  "
            "Linearised excess loss l_k = -rho_k.  u_{t+1,k} ~ pi_k eta_tk exp(-eta_tk sum_{s<=t} (l_sk + "
            "eta_{s-1,k} l_sk^2)), eta_tk = min(1/2, sqrt(ln(1/pi_k) / sum_{s<=t} l_sk^2)) (range E = 1 in "
            "these units).  Guarantee (their Theorem 3.3): second-order regret R_k = O(sqrt(ln(1/pi_k) "
            "sum l_k^2) + ln(1/pi_k)) up to log log factors (not checked)."
        ),
    ),
    Forecaster(
        "mlpoly",
        K.FC_MLPOLY,
        "ML-Poly: polynomial potential (p = 2) with per-expert learning rates",
        auto_eta="none",
        doc=(
            "Gaillard, Stoltz and van Erven (2014), 'A second-order bound with excess losses', COLT.  "
            "u_{t+1,k} ~ pi_k eta_tk (R_tk)_+ with R_tk = sum_{s<=t} rho_sk and eta_tk = 1 / (1 + sum_{s<=t} "
            "rho_sk^2); the prior while no regret is positive.  Guarantee (their Theorem 3 / Corollary 4): "
            "R_k <= sqrt(N (1 + sum_t rho_tk^2)) up to lower-order terms (not checked)."
        ),
    ),
    Forecaster(
        "fixed-share",
        K.FC_FIXED_SHARE,
        "Fixed-share: Hedge with step eta, then a share alpha of the weight returned to the prior",
        {"alpha": 1e-4},
        doc=(
            "Herbster and Warmuth (1998), 'Tracking the best expert', Machine Learning 32 (in the form of "
            "Cesa-Bianchi and Lugosi 2006, section 5.2).  v ~ u_t exp(eta R_t); u_{t+1} = alpha pi + (1 - "
            "alpha) v.  Guarantee against every sequence with m switches (Hoeffding on rewards of range 2L): "
            "Regret_T^(m) <= [ln N + m ln(N / alpha) + (T - m - 1) ln(1 / (1 - alpha))] / eta + eta T L^2 / 2."
        ),
    ),
    Forecaster(
        "hedge-anytime",
        K.FC_HEDGE_ANYTIME,
        "Hedge with the anytime learning rate eta_t = sqrt(8 ln N / t) (unit-range losses)",
        auto_eta="none",
        doc=(
            "Cesa-Bianchi and Lugosi (2006), Prediction, Learning, and Games, Theorem 2.3 (after Auer, "
            "Cesa-Bianchi and Gentile 2002).  u_t ~ pi exp(eta_t S_{t-1}) with eta_t = sqrt(8 ln N / t) / (2L) "
            "on rewards.  Guarantee: Regret_T <= 2L (sqrt(2 T ln N) + sqrt(ln N / 8))."
        ),
    ),
)


def get_forecaster(name: str) -> Forecaster:
    """Look a forecaster up by name; ``ValueError`` lists the choices."""
    return lookup(FORECASTERS, "forecaster", name)
