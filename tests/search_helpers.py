"""The tiny digits search that the search tests share (seconds on one CPU thread)."""

from __future__ import annotations

from xnas.nas.search.loop import SearchConfig


def tiny(out_dir, **kw) -> SearchConfig:
    """A 2-epoch search of 96 digits images on a 3-cell, 2-node supernet; ``kw`` overrides fields."""
    base = dict(
        dataset="digits", out_dir=str(out_dir), epochs=2, batch_size=16, limit=96, channels=2, layers=3, nodes=2,
        progress=False, plots=False, zeta=0.05, eta_normal=2e-2, eta_reduce=2e-2,
    )
    base.update(kw)
    return SearchConfig(**base)
