"""The search-space registry: every entry's genotypes round-trip and sample validly."""

import numpy as np
import pytest

pytest.importorskip("torch")

from xnas.nas.spaces import SPACES, get_space


@pytest.mark.parametrize("name", sorted(SPACES))
def test_sampled_genotypes_round_trip(name):
    space = get_space(name)
    rng = np.random.default_rng(0)
    for _ in range(50):
        g = space.sample_genotype(rng)
        text = space.format_genotype(g)
        assert space.format_genotype(space.parse_genotype(text)) == text
        for ops in space.cell_ops(g).values():
            assert set(ops) <= set(space.primitives)


def test_unknown_space_is_one_line():
    with pytest.raises(ValueError, match="choose from"):
        get_space("nope")
