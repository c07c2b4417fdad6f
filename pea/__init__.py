"""Prediction with expert advice: a numba simulator of XNAS and its rivals.

>>> from xnas.pea import simulate
>>> res = simulate("xnas", "adversarial", n_experts=8, T=10_000, seeds=4)
>>> res.summary()["best_survived"]
1.0
"""

# before any kernel module is imported: numba reads the source stamps then
from xnas.pea import cache_stamps

cache_stamps.install()

from xnas.pea.environments import ENVIRONMENTS, Environment, get_environment  # noqa: E402
from xnas.pea.forecasters import FORECASTERS, Forecaster, get_forecaster  # noqa: E402
from xnas.pea.rule import eta_star, xnas_update  # noqa: E402
from xnas.pea.simulate import SimulationResult, sample_rounds, simulate, trace_xnas  # noqa: E402
from xnas.pea.streams import load_rewards  # noqa: E402
from xnas.pea.theory import normalized_entropy, theorem1_bound  # noqa: E402

__all__ = [
    "ENVIRONMENTS",
    "Environment",
    "FORECASTERS",
    "Forecaster",
    "SimulationResult",
    "eta_star",
    "get_environment",
    "get_forecaster",
    "load_rewards",
    "normalized_entropy",
    "sample_rounds",
    "simulate",
    "theorem1_bound",
    "trace_xnas",
    "xnas_update",
]
