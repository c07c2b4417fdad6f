"""Registry of synthetic expert environments.

Each environment is a frozen :class:`Environment` with a name, a kernel id,
a one-line description and documented default parameters.  All rewards lie in
``[-L, L]`` (``replay`` excepted: it plays what it is given).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from xnas.pea.kernels import env as K
from xnas.pea.params import freeze_registry, lookup, resolve_params


@dataclass(frozen=True)
class Environment:
    """One synthetic environment.

    Attributes
    ----------
    name : str
        Registry key.
    kernel_id : int
        Id of :mod:`xnas.pea.kernels.env`.
    description : str
        One line for ``--help`` and tables.
    defaults : Mapping[str, float]
        Parameters and their defaults, in the order the kernel reads them
        (after ``L``).
    doc : Mapping[str, str]
        What each parameter means.
    """

    name: str
    kernel_id: int
    description: str
    defaults: Mapping[str, float] = field(default_factory=dict)
    doc: Mapping[str, str] = field(default_factory=dict)

    def resolve(self, params: Mapping[str, float] | None) -> dict[str, float]:
        """Defaults overridden by ``params``; unknown keys raise ``ValueError``."""
        return resolve_params("environment", self.name, self.defaults, params)


ENVIRONMENTS: Mapping[str, Environment] = freeze_registry(
    Environment(
        "adversarial",
        K.ENV_ADVERSARIAL,
        "i.i.d. rewards of +L or -L, each with probability 1/2 (the lower-bound construction)",
    ),
    Environment(
        "stochastic",
        K.ENV_STOCHASTIC,
        "i.i.d. Gaussian rewards clipped to [-L, L]; one expert's mean is higher by gap*L",
        {"gap": 0.1, "noise": 0.5, "best": -1.0},
        {
            "gap": "mean gap between the best expert and the others, in units of L",
            "noise": "standard deviation of the Gaussian noise, in units of L",
            "best": "index of the best expert; -1 draws it per seed",
        },
    ),
    Environment(
        "late-bloomer",
        K.ENV_LATE_BLOOMER,
        "the best expert in hindsight has the worst mean during a warm-up, then the best",
        {"warmup": 0.3, "low": -0.5, "high": 0.7, "noise": 0.3, "best": -1.0},
        {
            "warmup": "fraction of the rounds in the warm-up",
            "low": "the late bloomer's mean during the warm-up, in units of L",
            "high": "its mean afterwards, in units of L (the others' means spread over [-0.2 L, 0.2 L])",
            "noise": "standard deviation of the Gaussian noise, in units of L",
            "best": "index of the late bloomer; -1 draws it per seed",
        },
    ),
    Environment(
        "switching",
        K.ENV_SWITCHING,
        "the best expert changes k times, at equally spaced rounds",
        {"k": 3.0, "gap": 0.4, "noise": 0.3},
        {
            "k": "number of switches",
            "gap": "mean gap between the current leader and the others, in units of L",
            "noise": "standard deviation of the Gaussian noise, in units of L",
        },
    ),
    Environment(
        "convex",
        K.ENV_CONVEX,
        "experts predict vectors in the unit ball; loss (L/4)|p - y|^2; rewards R_i = -grad_p loss . f_i",
        {"dim": 4.0, "noise": 0.3},
        {
            "dim": "dimension of the predictions",
            "noise": "standard deviation of the noise on predictions and targets",
        },
    ),
    Environment(
        "replay",
        K.ENV_REPLAY,
        "replays a caller-given (T, N) reward array or .npy file",
    ),
)


def get_environment(name: str) -> Environment:
    """Look an environment up by name; ``ValueError`` lists the choices."""
    return lookup(ENVIRONMENTS, "environment", name)
