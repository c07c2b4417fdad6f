"""``xnas-nas study``: does a search find better cells than DARTS and random search?

One protocol for every method and space (``docs/study.md``): S search seeds
per method, every found cell trained R times by one shared recipe and tested on the
test split, every unit its own atomically written file, a summary with 95% intervals,
the paired xnas - darts difference, costs, and a check that the benchmark can tell
cells apart at all.

Modules: :mod:`.methods` (the registry), :mod:`.config` (settings, presets),
:mod:`.units` (unit files, shards), :mod:`.backend` (the only door to search and
training; random-ws is an architecture optimizer of the search, :mod:`xnas.nas.arch.random_ws`), :mod:`.runner`
(scheduling), :mod:`.stats` and :mod:`.summary` (numbers), :mod:`.table_summary` (the scores of a
space's table of trained cells, NAS-Bench-201), :mod:`.report` (table, figure).
"""

from xnas.nas.study.config import PRESETS, StudyConfig, StudyError, make_config
from xnas.nas.study.methods import METHODS, StudyMethod, get_method

__all__ = ["PRESETS", "StudyConfig", "StudyError", "make_config", "METHODS", "StudyMethod", "get_method"]
