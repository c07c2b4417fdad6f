"""Search spaces, one folder each (:mod:`.darts`, :mod:`.nb201`), on a shared floor: the operations
(:mod:`.ops`), the mixed edge's product (:mod:`.mixture`), genotype text (:mod:`.genotype_text`),
the spaces' tables of trained cells (:mod:`.tables`) and the registry (:mod:`.registry`).
The registry's names below load it on first use."""

from xnas.lazy import lazy_exports

_WHERE = {name: "registry" for name in ("SearchSpace", "SPACES", "get_space", "sample_darts_genotype")}
__all__ = sorted(_WHERE)
__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
