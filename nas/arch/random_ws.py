"""``random-ws``: random search with weight sharing (Li and Talwalkar, "Random Search and
Reproducibility for Neural Architecture Search", 2019) as an architecture optimizer of the
one search loop.

1. Each weight step trains the supernet on ONE cell, sampled uniformly with the space's own
   sampler: the loop runs the supernet with the cell's one-hot mixing weights (the
   operations and inputs it does not choose get weight zero, and are not computed, see
   :func:`xnas.nas.spaces.mixed_edge.chosen_only`). The weight steps are the search's own
   (same epochs, batches, subset and network-weight SGD as xnas, darts and gd).
2. There is no architecture step: nothing is learned from the validation half during the
   epochs (:attr:`RandomWSUpdater.steps_on_validation` is False).
3. At the end, ``samples`` (K) more cells are drawn and each is scored on the whole
   validation half with the shared weights (batch statistics); the loop returns the one with
   the lowest validation error, then loss (:mod:`xnas.nas.search.select`).

Its architecture weights stay uniform (entropy 1): they hold no preference, and the
cells it derives come from :meth:`RandomWSUpdater.candidates`, not from the weights.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from xnas.nas.arch.base import AllReduce, ArchSettings, ArchUpdater
from xnas.nas.checkpoint import generator_state, restore_generator_state

__all__ = ["RandomWSUpdater"]


class RandomWSUpdater(ArchUpdater):
    """Uniform one-hot cells for the weight steps, then the best of ``settings.samples`` cells."""

    name = "random-ws"
    steps_on_validation = False
    one_hot = True
    cell_from_weights = False

    def __init__(self, settings: ArchSettings, device: torch.device | str = "cpu") -> None:
        super().__init__(settings, device)
        if settings.sample_cell is None:
            raise ValueError("random-ws needs the search space's cell sampler (ArchSettings.sample_cell)")
        self.sample_cell = settings.sample_cell
        self.rng = np.random.default_rng([settings.seed, 7])
        for k in self.kinds:  # uniform, for the logs: random-ws holds no preference
            self.params[k] = torch.zeros(settings.shape, dtype=torch.float64, device=self.device)

    def weight_mixing(self) -> dict[str, torch.Tensor]:
        """A fresh uniformly sampled cell as one-hot weights ``{cell type: (edges, N)}``.

        They stay on the host: the chosen-only edges read them there, and on a GPU a
        device copy would cost a synchronisation per edge.
        """
        _, weights = self.sample_cell(self.rng)
        return {k: torch.as_tensor(weights[k], dtype=torch.float32) for k in self.kinds}

    def candidates(self) -> list[tuple[Any, dict[str, torch.Tensor]]]:
        """``settings.samples`` cells drawn after the training, each with its one-hot weights."""
        return [self.sample_cell(self.rng) for _ in range(self.settings.samples)]

    def step(self, all_reduce: AllReduce | None = None) -> dict[str, torch.Tensor]:
        raise RuntimeError("random-ws takes no architecture step")

    def state_dict(self) -> dict:
        return {"name": self.name, "rng": generator_state(self.rng)}

    def load_state_dict(self, state: dict) -> None:
        if state.get("name") != self.name:
            raise ValueError(f"checkpoint holds a {state.get('name')!r} architecture optimizer, not {self.name!r}")
        if not isinstance(state.get("rng"), dict):
            raise ValueError("the checkpoint holds no random-ws sampler state")
        restore_generator_state(self.rng, state["rng"])
