"""A study's settings (:class:`StudyConfig`), its presets, and the ``study.json`` identity check.

One config fixes the whole protocol: the methods, the search budget shared by every
searching method (epochs, image subset, batch, supernet size), the training recipe
shared by every cell, and the counts ``seeds`` (S), ``trainings`` (R), ``random_cells``
and ``ws_samples`` (K). Every field except the run-time ones (:data:`RUNTIME_FIELDS`)
belongs to the study's identity: ``--resume`` refuses a folder whose ``study.json``
differs in any of them.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Optional

from xnas.nas.study import backend
from xnas.nas.study.errors import StudyError
from xnas.nas.study.methods import get_method, methods_for_space

__all__ = ["StudyConfig", "PRESETS", "RUNTIME_FIELDS", "StudyError", "make_config", "check_same_study"]

STUDY_FILE = "study.json"
STUDY_FORMAT = "xnas-study-2"
"""``study.json``'s format: its units carry a config digest and the code version."""
LEGACY_FORMATS = ("xnas-study-1",)
"""Older formats still read; their units may lack the digest (``study.json`` vouches for them)."""
RUNTIME_FIELDS = ("data_dir", "device")
"""Fields that may change between the parts of one study (machines differ)."""


MAX_UNITS = 100_000
"""At most this many units (files) in one study."""
MAX_SEED_COUNT = 9_999
"""Unit names keep 2-digit cell and seed numbers up to 99 and stay sortable up to this count."""


@dataclass(frozen=True)
class StudyConfig:
    """Every setting of a study (saved as ``study.json``).

    Attributes
    ----------
    dataset, space : str
    methods : tuple of str
        Registry names (:mod:`xnas.nas.study.methods`).
    seeds : int
        S: search seeds (cells) per searching method.
    trainings : int
        R: training seeds per cell; 0 makes a search-only study, every cell scored by
        the space's table of trained cells (NAS-Bench-201 only).
    random_cells : int
        Cells of the ``random`` row.
    ws_samples : int
        K: cells ``random-ws`` ranks with the shared weights.
    search_epochs, search_batch, search_limit, search_channels, search_layers, search_nodes, split
        The search budget, identical for every searching method (``search_limit``:
        training images before the train/validation split; ``None``: all;
        ``search_nodes`` ``None``: the space's own cell size).
    recipe : str
        The training recipe (:mod:`xnas.nas.train.recipes`) every cell is trained with,
        overridden by ``train_epochs``, ``train_batch``, ``train_channels`` and
        ``train_layers`` where these are set (``None``, the default for each:
        the recipe's own value).
    train_limit : int, optional
        Training (and test) images of each training (``None``: all).
    data_dir, device : run-time settings, not part of the identity.
    """

    dataset: str
    space: str = "darts"
    methods: tuple[str, ...] = ()
    seeds: int = 3
    trainings: int = 2
    random_cells: int = 4
    ws_samples: int = 16
    search_epochs: int = 6
    search_batch: int = 64
    search_limit: Optional[int] = None
    search_channels: Optional[int] = None
    search_layers: Optional[int] = None
    search_nodes: Optional[int] = None
    split: float = 0.5
    recipe: Optional[str] = None
    train_epochs: Optional[int] = None
    train_batch: Optional[int] = None
    train_channels: Optional[int] = None
    train_layers: Optional[int] = None
    train_limit: Optional[int] = None
    data_dir: Optional[str] = None
    device: str = "cpu"

    def validate(self) -> "StudyConfig":
        """Check every field; raises :class:`StudyError` with one line."""
        for name in ("dataset", "space", "recipe"):
            if not isinstance(getattr(self, name), (str, type(None))):
                raise StudyError(f"{name} must be text, got {getattr(self, name)!r}")
        if not isinstance(self.methods, tuple) or not all(isinstance(m, str) for m in self.methods):
            raise StudyError(f"methods must be a list of names, got {self.methods!r}")
        try:
            space = backend.get_space(self.space)
            for name in self.methods:
                if not get_method(name).available(space.name):
                    raise StudyError(f"method {name!r} has no row in the {space.name} space")
        except ValueError as exc:
            raise StudyError(str(exc)) from None
        try:
            recipe_space = backend.get_recipe(self.recipe).space
        except ValueError as exc:
            raise StudyError(str(exc)) from None
        if recipe_space != space.name:
            raise StudyError(f"recipe {self.recipe!r} trains {recipe_space} cells, not {space.name} cells")
        if not self.methods:
            raise StudyError("a study needs at least one method")
        if len(set(self.methods)) != len(self.methods):
            raise StudyError(f"methods listed twice: {', '.join(self.methods)}")
        if self.recipe is None or self.search_channels is None or self.search_layers is None:
            raise StudyError("the study config lacks its recipe or supernet size (make_config fills them)")
        for name in ("seeds", "trainings", "random_cells", "ws_samples", "search_epochs", "search_batch",
                     "search_channels", "search_layers"):
            value = getattr(self, name)
            low = 0 if name == "trainings" else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise StudyError(f"{name} must be a {'non-negative' if low == 0 else 'positive'} integer, got {value!r}")
        self._check_search_only(space.name)
        for name in ("search_nodes", "train_epochs", "train_batch", "train_channels", "train_layers"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise StudyError(f"{name} must be a positive integer, got {value!r}")
        for name, floor in (("search_limit", 4), ("train_limit", 2)):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < floor):
                raise StudyError(f"{name} must be at least {floor} images, got {value!r}")
        if isinstance(self.split, bool) or not isinstance(self.split, float) or not 0.0 < self.split < 1.0:
            raise StudyError(f"split must lie strictly between 0 and 1, got {self.split!r}")
        if not isinstance(self.data_dir, (str, type(None))) or not isinstance(self.device, str):
            raise StudyError("data_dir and device must be text")
        self._check_counts()
        return self

    def _check_search_only(self, space: str) -> None:
        # trainings = 0 scores every cell by the benchmark's own table only, which needs one
        if self.trainings == 0 and not backend.has_table(space):
            raise StudyError(f"--trainings 0 (a search-only study, scored by a table of trained cells) needs a space "
                             f"with a table (nb201); the {space} space has none")

    def _check_counts(self) -> None:
        # plan_units lists every unit and each is a file: bound them before anything is planned
        n = sum((1 + self.trainings) * get_method(m).n_cells(self.seeds, self.random_cells) for m in self.methods)
        if n > MAX_UNITS:
            raise StudyError(f"the study plans {n} units, over the {MAX_UNITS} one folder may hold; "
                             "lower --seeds, --trainings or --random-cells")
        if self.seeds > MAX_SEED_COUNT or self.random_cells > MAX_SEED_COUNT or self.trainings > MAX_SEED_COUNT:
            raise StudyError(f"--seeds, --trainings and --random-cells must be at most {MAX_SEED_COUNT}")
        if self.ws_samples > backend.MAX_WS_SAMPLES:
            raise StudyError(f"ws_samples must be at most {backend.MAX_WS_SAMPLES}, got {self.ws_samples}")

    def identity(self) -> dict[str, Any]:
        """The fields that define the study (everything but :data:`RUNTIME_FIELDS`)."""
        return {k: v for k, v in self.to_dict().items() if k not in RUNTIME_FIELDS}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        d = asdict(self)
        d["methods"] = list(self.methods)
        return d

    @classmethod
    def from_dict(cls, data: dict) -> "StudyConfig":
        """Inverse of :meth:`to_dict`; raises :class:`StudyError` on unknown or missing fields."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise StudyError(f"study config has unknown fields: {', '.join(unknown)}")
        methods = data.get("methods", ())
        if not isinstance(methods, (list, tuple)):
            raise StudyError(f"study config's methods must be a list, got {methods!r}")
        try:
            return cls(**{**data, "methods": tuple(methods)})
        except TypeError as exc:
            raise StudyError(f"study config is incomplete ({exc})") from None


PRESETS: dict[str, dict[str, Any]] = {
    # A tiny end-to-end study (minutes on 2 CPU cores on digits): every method runs,
    # nothing is resolved. It checks the machinery, not the methods.
    "quick": dict(
        seeds=2, trainings=2, random_cells=3, ws_samples=4, search_epochs=1, search_batch=32, search_limit=256,
        search_channels=4, train_epochs=2, train_batch=32, train_channels=4, train_limit=512,
    ),
    # The paper's CIFAR-10 protocol (sections 4.1-4.2): the search of C = 16, 8 cells,
    # 50 epochs, batch 96 on the 50/50 split; every cell trained by the XNAS recipe
    # (C = 36, 20 cells, 1500 epochs). For GPUs; never run on CPU.
    "cifar10-paper": dict(
        seeds=4, trainings=2, random_cells=8, ws_samples=100, search_epochs=50, search_batch=96,
        search_limit=None, search_channels=16, search_layers=8, recipe="xnas", train_epochs=None,
        train_batch=None, train_channels=None, train_layers=None, train_limit=None, device="auto",
    ),
}
"""Named sizings of a study; explicit options override them."""


def make_config(dataset: str, space: str = "darts", methods: Optional[tuple[str, ...]] = None,
                preset: Optional[str] = None, **overrides: Any) -> StudyConfig:
    """A validated config: the defaults, then the preset, then ``overrides`` that are not ``None``.

    ``methods`` left ``None`` takes every method that has a row in ``space``.
    """
    if preset is not None and preset not in PRESETS:
        raise StudyError(f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
    cfg = StudyConfig(dataset=dataset, space=space)
    if preset is not None:
        cfg = replace(cfg, **PRESETS[preset])
    cfg = replace(cfg, **{k: v for k, v in overrides.items() if v is not None})
    cfg = _space_defaults(cfg)
    if methods is None:
        methods = methods_for_space(space) if _known_space(space) else ()
    return replace(cfg, methods=tuple(methods)).validate()


def _space_defaults(cfg: StudyConfig) -> StudyConfig:
    """Fill what the user and the preset left open from the space's own search and training presets."""
    if not _known_space(cfg.space):
        return cfg  # validate() names the unknown space
    space = backend.get_space(cfg.space)
    search = space.search_presets(cfg.dataset)
    filled = {
        "recipe": space.train_recipe(cfg.dataset) if cfg.recipe is None else cfg.recipe,
        "search_channels": search["channels"] if cfg.search_channels is None else cfg.search_channels,
        "search_layers": search["layers"] if cfg.search_layers is None else cfg.search_layers,
    }
    return replace(cfg, **filled)


def _known_space(space: str) -> bool:
    return space in backend.space_names()


def check_same_study(cfg: StudyConfig, out: str) -> bool:
    """Whether ``out`` already holds a study; raises :class:`StudyError` if it is another one."""
    path = os.path.join(out, STUDY_FILE)
    if not os.path.lexists(path):
        return False
    try:
        saved_cfg = _read_config(path)[0]
    except StudyError as exc:
        raise StudyError(f"{path} is not a valid study file ({exc})") from None
    except (OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
        raise StudyError(f"{path} is not a readable study file ({exc})") from None
    mine, theirs = cfg.identity(), saved_cfg.identity()
    diffs = [k for k in mine if mine[k] != theirs.get(k)]
    if diffs:
        k = diffs[0]
        raise StudyError(f"{out} holds a study made with {k}={theirs.get(k)!r}, not {mine[k]!r}; "
                         "choose another --out")
    return True


def load_study_config(out: str) -> StudyConfig:
    """The config saved in ``out/study.json`` (for ``--report``)."""
    path = os.path.join(out, STUDY_FILE)
    if not os.path.lexists(path):
        raise StudyError(f"{out} holds no study ({STUDY_FILE} is missing)")
    try:
        return _read_config(path)[0].validate()
    except StudyError as exc:
        raise StudyError(f"{path} is not a valid study file ({exc})") from None
    except (OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
        raise StudyError(f"{path} is not a readable study file ({exc})") from None


def study_format(out: str) -> str:
    """The format of ``out/study.json`` (read with :func:`load_study_config` or :func:`check_same_study` first)."""
    return _read_config(os.path.join(out, STUDY_FILE))[1]


def _read_config(path: str) -> tuple[StudyConfig, str]:
    from xnas.untrusted import InputError, read_json_file

    try:
        saved = read_json_file(path, what="study file")
    except InputError as exc:
        raise StudyError(str(exc).replace(f"study file {path} ", "it ").replace(f" {path}", "")) from None
    if not isinstance(saved, dict) or not isinstance(saved.get("config"), dict):
        raise StudyError("it holds no config object")
    fmt = saved.get("format")
    if fmt != STUDY_FORMAT and fmt not in LEGACY_FORMATS:
        raise StudyError(f"its format {str(fmt)[:40]!r} is not one this version reads ({STUDY_FORMAT}); "
                         "it was written by another version of xnas")
    return StudyConfig.from_dict(saved["config"]), fmt
