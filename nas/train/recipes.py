"""Training recipes (a registry of frozen dataclasses) and their schedules as pure functions.

``xnas``
    Paper section 4.2: 1500 epochs, batch 96, SGD with Nesterov momentum 0.9,
    weight decay 3e-4, 5 power-cosine cycles whose amplitude halves every cycle,
    cutout 16, drop-path ramped linearly to 0.2, auxiliary weight 0.4, label
    smoothing 0.1, torchvision's CIFAR-10 AutoAugment policy. The paper does
    not give the peak learning rate, the final drop-path probability or the
    gradient clip: we take DARTS's 0.025, 0.2 and 5.
``darts``
    The DARTS recipe (``reference.md``): 600 epochs, batch 96, SGD lr 0.025
    cosine-annealed to 0, momentum 0.9, weight decay 3e-4, cutout 16,
    drop-path 0.2 (ramped linearly, as DARTS does), auxiliary 0.4, clip 5.
``imagenet``
    Section 4.3: the mobile network (C = 46, 14 cells), 250 epochs, one
    power-cosine cycle, Nesterov SGD, label smoothing 0.1. Batch 128, lr 0.1,
    weight decay 3e-5, auxiliary 0.4 and clip 5 are DARTS's ImageNet values
    (the paper does not list them).
``darts-fashion``
    The DARTS recipe at CPU size for Fashion-MNIST (the study's darts-space
    training): C = 8, 5 cells, 3 epochs, batch 96, SGD lr 0.025 cosine to 0,
    momentum 0.9, weight decay 3e-4, clip 5. Cutout, drop-path and the
    auxiliary head are off: they regularise 600-epoch runs and only slow a
    3-epoch one (``measurements.md``'s 3-epoch probe with the ``xnas`` recipe
    stayed at 25-30 % error).
``digits``
    A CPU-sized recipe for scikit-learn's 8x8 digits (the quick start): C = 8,
    5 cells, 10 epochs, batch 64, one power-cosine cycle from lr 0.05, no
    cutout or AutoAugment (a 16-pixel cutout would erase an 8x8 image).

``nb201``
    The NAS-Bench-201 benchmark's training (``reference.md``): the skeleton
    with C = 16, N = 5 (``layers`` = 3N = 15 cells), 200 epochs, batch 256,
    SGD with Nesterov momentum 0.9, lr 0.1 cosine-annealed to 0, weight decay
    5e-4, random crop and flip; no cutout, drop-path, auxiliary head, label
    smoothing or gradient clipping.
``nb201-fashion``
    The same recipe at CPU size for Fashion-MNIST: C = 8, N = 2, 4 epochs,
    batch 128 (``measurements.md``: enough to tell cells apart there).
``nb201-digits``
    The digits quick start for the nb201 space: C = 8, N = 1, 10 epochs, batch 64, lr 0.05.

Every field can be overridden (:func:`override`, the CLI's ``--set key=value``).
Learning rates and drop-path probabilities change per epoch.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from xnas.untrusted import parse_int
from xnas.limits import LimitError
from xnas.nas.limits import check_hyperparameters

__all__ = [
    "Recipe",
    "RECIPES",
    "RecipeError",
    "get_recipe",
    "override",
    "parse_assignments",
    "cosine_lr",
    "power_cosine_lr",
    "cycle_bounds",
    "learning_rate",
    "drop_path_prob",
]


class RecipeError(ValueError):
    """An unknown recipe or an invalid override (one-line message)."""


SCHEDULES = ("cosine", "power_cosine", "constant")


@dataclass(frozen=True)
class Recipe:
    """A complete training configuration.

    Attributes
    ----------
    name, description : str
    epochs, batch_size : int
        ``batch_size`` is the global batch; under torchrun each of the
        ``world_size`` processes takes ``batch_size // world_size``.
    lr, min_lr : float
        Peak and final learning rate.
    schedule : str
        ``cosine``, ``power_cosine`` or ``constant``.
    cycles, power, amplitude_decay : int, float, float
        Power-cosine cycles (at most one per epoch is used), the power ``p``
        and the per-cycle amplitude factor.
    momentum, nesterov, weight_decay, grad_clip : float, bool, float, float
        SGD settings; ``grad_clip`` is the global gradient-norm bound (0: none).
    cutout, autoaugment : int, bool
        Cutout square size (0: none) and the CIFAR-10 AutoAugment policy.
    drop_path, drop_path_ramp : float, bool
        Final drop-path probability, ramped linearly from 0 over the epochs when ``drop_path_ramp``.
    auxiliary_weight, label_smoothing : float
        Auxiliary-head loss weight (0 disables the head) and label smoothing.
    channels, layers : int
        Network width and depth.
    imagenet : bool
        Build the ImageNet mobile network instead of the CIFAR one.
    space : str
        The search space whose network the recipe trains (``xnas.nas.spaces.registry``):
        ``darts`` or ``nb201``. For ``nb201`` ``layers`` counts the cells of
        all three stages (``3N``), and there is no auxiliary head or ImageNet network.
    """

    name: str
    description: str
    epochs: int
    batch_size: int
    lr: float
    min_lr: float
    schedule: str
    cycles: int
    power: float
    amplitude_decay: float
    momentum: float
    nesterov: bool
    weight_decay: float
    grad_clip: float
    cutout: int
    autoaugment: bool
    drop_path: float
    drop_path_ramp: bool
    auxiliary_weight: float
    label_smoothing: float
    channels: int
    layers: int
    imagenet: bool
    space: str = "darts"

    def validate(self) -> "Recipe":
        """Check ranges; returns ``self``. Raises :class:`RecipeError`."""
        checks = [
            (self.epochs >= 1, "epochs must be at least 1"),
            (self.batch_size >= 1, "batch_size must be at least 1"),
            (self.lr > 0 and math.isfinite(self.lr), "lr must be positive"),
            (0 <= self.min_lr <= self.lr, "min_lr must be in [0, lr]"),
            (self.schedule in SCHEDULES, f"schedule must be one of {', '.join(SCHEDULES)}"),
            (self.cycles >= 1, "cycles must be at least 1"),
            (self.power > 1.0, "power must be greater than 1"),
            (0 < self.amplitude_decay <= 1.0, "amplitude_decay must be in (0, 1]"),
            (0 <= self.momentum < 1, "momentum must be in [0, 1)"),
            (not (self.nesterov and self.momentum == 0), "nesterov needs momentum > 0"),
            (self.weight_decay >= 0, "weight_decay must be non-negative"),
            (self.grad_clip >= 0, "grad_clip must be non-negative"),
            (self.cutout >= 0, "cutout must be non-negative"),
            (0 <= self.drop_path < 1, "drop_path must be in [0, 1)"),
            (self.auxiliary_weight >= 0, "auxiliary_weight must be non-negative"),
            (0 <= self.label_smoothing < 1, "label_smoothing must be in [0, 1)"),
            (self.channels >= 2, "channels must be at least 2"),
            (self.layers >= 3, "layers must be at least 3"),
        ]
        from xnas.nas.spaces.registry import SPACES  # torch loads with the spaces, not with the recipes

        checks.append((self.space in SPACES, f"space must be one of {', '.join(SPACES)}"))
        if self.space in SPACES:
            checks += SPACES[self.space].recipe_checks(self)
        for ok, message in checks:
            if not ok:
                raise RecipeError(f"recipe {self.name}: {message}")
        try:  # finite is not enough: torch's optimizers hold these as float32
            check_hyperparameters(lr=self.lr, min_lr=self.min_lr, momentum=self.momentum, weight_decay=self.weight_decay,
                                  grad_clip=self.grad_clip, drop_path=self.drop_path,
                                  label_smoothing=self.label_smoothing, auxiliary_weight=self.auxiliary_weight)
        except LimitError as exc:
            raise RecipeError(f"recipe {self.name}: {exc}") from None
        return self

    def to_dict(self) -> dict[str, Any]:
        """All fields as a JSON-ready dict."""
        return asdict(self)


RECIPES: dict[str, Recipe] = {
    "xnas": Recipe(
        name="xnas",
        description="XNAS paper section 4.2 (CIFAR-10, 1500 epochs, 5 power-cosine cycles)",
        epochs=1500, batch_size=96, lr=0.025, min_lr=0.0,
        schedule="power_cosine", cycles=5, power=2.0, amplitude_decay=0.5,
        momentum=0.9, nesterov=True, weight_decay=3e-4, grad_clip=5.0,
        cutout=16, autoaugment=True, drop_path=0.2, drop_path_ramp=True,
        auxiliary_weight=0.4, label_smoothing=0.1, channels=36, layers=20, imagenet=False,
    ),
    "darts": Recipe(
        name="darts",
        description="DARTS evaluation recipe (600 epochs, cosine to 0)",
        epochs=600, batch_size=96, lr=0.025, min_lr=0.0,
        schedule="cosine", cycles=1, power=2.0, amplitude_decay=1.0,
        momentum=0.9, nesterov=False, weight_decay=3e-4, grad_clip=5.0,
        cutout=16, autoaugment=False, drop_path=0.2, drop_path_ramp=True,
        auxiliary_weight=0.4, label_smoothing=0.0, channels=36, layers=20, imagenet=False,
    ),
    "imagenet": Recipe(
        name="imagenet",
        description="XNAS paper section 4.3 (ImageNet mobile, 250 epochs, one power-cosine cycle)",
        epochs=250, batch_size=128, lr=0.1, min_lr=0.0,
        schedule="power_cosine", cycles=1, power=2.0, amplitude_decay=1.0,
        momentum=0.9, nesterov=True, weight_decay=3e-5, grad_clip=5.0,
        cutout=0, autoaugment=False, drop_path=0.0, drop_path_ramp=False,
        auxiliary_weight=0.4, label_smoothing=0.1, channels=46, layers=14, imagenet=True,
    ),
    "darts-fashion": Recipe(
        name="darts-fashion",
        description="DARTS training at CPU size for Fashion-MNIST (C=8, 5 cells, 3 epochs, batch 96, no regularisers)",
        epochs=3, batch_size=96, lr=0.025, min_lr=0.0,
        schedule="cosine", cycles=1, power=2.0, amplitude_decay=1.0,
        momentum=0.9, nesterov=False, weight_decay=3e-4, grad_clip=5.0,
        cutout=0, autoaugment=False, drop_path=0.0, drop_path_ramp=False,
        auxiliary_weight=0.0, label_smoothing=0.0, channels=8, layers=5, imagenet=False,
    ),
    "digits": Recipe(
        name="digits",
        description="CPU quick start for the 8x8 digits (small network, 10 epochs, no cutout/AutoAugment)",
        epochs=10, batch_size=64, lr=0.05, min_lr=0.0,
        schedule="power_cosine", cycles=1, power=2.0, amplitude_decay=1.0,
        momentum=0.9, nesterov=True, weight_decay=3e-4, grad_clip=5.0,
        cutout=0, autoaugment=False, drop_path=0.1, drop_path_ramp=True,
        auxiliary_weight=0.4, label_smoothing=0.1, channels=8, layers=5, imagenet=False,
    ),
    "nb201": Recipe(
        name="nb201",
        description="NAS-Bench-201 benchmark training (C=16, N=5, 200 epochs, batch 256, Nesterov, cosine)",
        epochs=200, batch_size=256, lr=0.1, min_lr=0.0,
        schedule="cosine", cycles=1, power=2.0, amplitude_decay=1.0,
        momentum=0.9, nesterov=True, weight_decay=5e-4, grad_clip=0.0,
        cutout=0, autoaugment=False, drop_path=0.0, drop_path_ramp=False,
        auxiliary_weight=0.0, label_smoothing=0.0, channels=16, layers=15, imagenet=False, space="nb201",
    ),
    "nb201-fashion": Recipe(
        name="nb201-fashion",
        description="NAS-Bench-201 training at CPU size for Fashion-MNIST (C=8, N=2, 4 epochs, batch 128)",
        epochs=4, batch_size=128, lr=0.1, min_lr=0.0,
        schedule="cosine", cycles=1, power=2.0, amplitude_decay=1.0,
        momentum=0.9, nesterov=True, weight_decay=5e-4, grad_clip=0.0,
        cutout=0, autoaugment=False, drop_path=0.0, drop_path_ramp=False,
        auxiliary_weight=0.0, label_smoothing=0.0, channels=8, layers=6, imagenet=False, space="nb201",
    ),
    "nb201-digits": Recipe(
        name="nb201-digits",
        description="NAS-Bench-201 quick start for the 8x8 digits (C=8, N=1, 10 epochs)",
        epochs=10, batch_size=64, lr=0.05, min_lr=0.0,
        schedule="cosine", cycles=1, power=2.0, amplitude_decay=1.0,
        momentum=0.9, nesterov=True, weight_decay=5e-4, grad_clip=0.0,
        cutout=0, autoaugment=False, drop_path=0.0, drop_path_ramp=False,
        auxiliary_weight=0.0, label_smoothing=0.0, channels=8, layers=3, imagenet=False, space="nb201",
    ),
}
"""Registered recipes by name."""


def get_recipe(name: str) -> Recipe:
    """Look a recipe up by name. Raises :class:`RecipeError` listing the choices."""
    try:
        return RECIPES[name]
    except KeyError:
        raise RecipeError(f"unknown recipe {name!r}; choose from {', '.join(RECIPES)}") from None


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _convert(recipe: Recipe, key: str, value: Any) -> Any:
    kinds = {f.name: f.type for f in fields(Recipe)}
    if key not in kinds or key == "name":
        settable = ", ".join(k for k in kinds if k != "name")
        raise RecipeError(f"unknown recipe field {key!r}; fields: {settable}")
    current = getattr(recipe, key)
    if not isinstance(value, str):
        if isinstance(current, bool) and isinstance(value, bool):
            return value
        if isinstance(current, int) and not isinstance(current, bool) and isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(current, float) and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(current, str):
            raise RecipeError(f"recipe field {key} needs text, got {value!r}")
        value = str(value)
    text = value.strip()
    try:
        if isinstance(current, bool):
            if text.lower() in _TRUE:
                return True
            if text.lower() in _FALSE:
                return False
            raise ValueError
        if isinstance(current, int):
            return parse_int(text, f"recipe field {key}")
        if isinstance(current, float):
            result = float(text)
            if not math.isfinite(result):
                raise ValueError
            return result
    except ValueError:
        kind = {"bool": "true or false", "int": "an integer", "float": "a finite number"}.get(
            type(current).__name__, f"a {type(current).__name__}")
        raise RecipeError(f"recipe field {key} needs {kind}, got {value!r}") from None
    return text


def override(recipe: Recipe, **changes: Any) -> Recipe:
    """A copy of ``recipe`` with fields changed (values may be strings, converted by field type).

    Raises
    ------
    RecipeError
        For unknown fields, unconvertible values, or an invalid result.
    """
    converted = {key: _convert(recipe, key, value) for key, value in changes.items()}
    return replace(recipe, **converted).validate()


def parse_assignments(items: list[str] | tuple[str, ...]) -> dict[str, str]:
    """Parse ``["epochs=2", "lr=0.05"]`` into a dict (later assignments win)."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key or not value.strip():
            raise RecipeError(f"--set expects key=value, got {item!r}")
        out[key] = value
    return out


# ---------------------------------------------------------------------------------
# schedules (pure functions of the epoch)
# ---------------------------------------------------------------------------------
def cosine_lr(epoch: int, epochs: int, max_lr: float, min_lr: float = 0.0) -> float:
    """Cosine annealing from ``max_lr`` at epoch 0 towards ``min_lr`` (reached at ``epoch == epochs``)."""
    return min_lr + (max_lr - min_lr) * (1.0 + math.cos(math.pi * epoch / epochs)) / 2.0


def cycle_bounds(epochs: int, cycles: int) -> list[tuple[int, int]]:
    """``[(start, length), ...]`` of the cycles; lengths differ by at most one epoch (longer first)."""
    if not 1 <= cycles <= epochs:
        raise ValueError(f"cycles must be in [1, {epochs}], got {cycles}")
    base, extra = divmod(epochs, cycles)
    bounds, start = [], 0
    for k in range(cycles):
        length = base + (1 if k < extra else 0)
        bounds.append((start, length))
        start += length
    return bounds


def power_cosine_lr(
    epoch: int,
    epochs: int,
    max_lr: float,
    min_lr: float = 0.0,
    cycles: int = 1,
    power: float = 2.0,
    amplitude_decay: float = 0.5,
) -> float:
    """Power-cosine annealing in cycles (sharpDARTS), the amplitude multiplied by ``amplitude_decay`` each cycle.

    Within a cycle of ``E`` epochs, at epoch ``e`` of the cycle:
    ``c = (1 + cos(pi e / E)) / 2``, ``v = power ** (c + 1)``; ``v`` is min-max
    normalised over the cycle's epochs ``e = 0 .. E - 1`` (so the cycle starts at
    its peak and ends at ``min_lr``), and
    ``lr = min_lr + v * (peak_k - min_lr)`` with ``peak_k = min_lr + (max_lr - min_lr) * amplitude_decay ** k``
    for cycle ``k`` (0-based).
    """
    if not 0 <= epoch < epochs:
        raise ValueError(f"epoch must be in [0, {epochs}), got {epoch}")
    if power <= 1.0:
        raise ValueError(f"power must be > 1, got {power}")
    # A short run (e.g. --epochs 2 with the 5-cycle recipe) keeps one cycle per epoch at most.
    for k, (start, length) in enumerate(cycle_bounds(epochs, min(cycles, epochs))):
        if start <= epoch < start + length:
            break
    e = epoch - start
    peak = min_lr + (max_lr - min_lr) * amplitude_decay**k
    if length == 1:
        return peak

    def v(i: int) -> float:
        c = (1.0 + math.cos(math.pi * i / length)) / 2.0
        return power ** (c + 1.0)

    v_max, v_min = v(0), v(length - 1)  # v decreases monotonically over the cycle
    normalised = (v(e) - v_min) / (v_max - v_min)
    return min_lr + normalised * (peak - min_lr)


def learning_rate(recipe: Recipe, epoch: int) -> float:
    """The learning rate of ``epoch`` (0-based) under ``recipe``'s schedule."""
    if recipe.schedule == "cosine":
        return cosine_lr(epoch, recipe.epochs, recipe.lr, recipe.min_lr)
    if recipe.schedule == "power_cosine":
        return power_cosine_lr(
            epoch, recipe.epochs, recipe.lr, recipe.min_lr, recipe.cycles, recipe.power, recipe.amplitude_decay
        )
    return recipe.lr


def drop_path_prob(recipe: Recipe, epoch: int) -> float:
    """Drop-path probability of ``epoch``: ``drop_path * epoch / epochs`` when ramped, else constant."""
    if recipe.drop_path_ramp:
        return recipe.drop_path * epoch / recipe.epochs
    return recipe.drop_path
