"""The NAS-Bench-201 search space (Dong and Yang, ICLR 2020): operations, genotypes, networks.

:mod:`~xnas.nas.spaces.nb201.genotype` (torch-free): the genotype and the benchmark's string;
:mod:`~xnas.nas.spaces.nb201.ops`: the five operations; :mod:`~xnas.nas.spaces.nb201.networks`:
the supernet, the discrete network, discretization and sizes; :mod:`~xnas.nas.spaces.nb201.table`
(torch-free): the benchmark's 200-epoch accuracies of all 15,625 cells, shipped in ``data/``
(MIT, Xuanyi Dong; see ``data/README.md``). The registry entry
is ``xnas.nas.spaces.registry.SPACES["nb201"]``.
"""
