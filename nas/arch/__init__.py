"""Architecture optimizers: the XNAS optimizer (:mod:`.xnas_optimizer`, the torch engine of
:mod:`xnas.pea.rule`), the registry behind ``--arch-optimizer`` (:mod:`.optimizers`) and the
theory's learning rates (:mod:`.lr`)."""
