"""The search: settings and results (:mod:`.config`), the supernet, data and optimizers of a run
(:mod:`.setup`), the loop (:mod:`.loop`), what a run writes (:mod:`.outputs`) and its figures
(:mod:`.plots`). The public names below load their module on first use."""

from xnas.lazy import lazy_exports

_WHERE = {name: "loop" for name in ("ARCH_FIRST", "run_search")}
_WHERE.update({name: "config" for name in ("CHECKPOINT", "RESUME_KEYS", "SearchConfig", "SearchError", "SearchResult",
                                             "mean_normalized_entropy")})
__all__ = sorted(_WHERE)
__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
