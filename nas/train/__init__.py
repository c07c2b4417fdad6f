"""Training a found cell: settings (:mod:`.config`), the recipes (:mod:`.recipes`), data, network and
optimizer of a run (:mod:`.setup`), the loop (:mod:`.loop`) and evaluation (:mod:`.evaluation`).
The public names below load their module on first use."""

from xnas.lazy import lazy_exports

_WHERE = {name: "loop" for name in ("CHECKPOINT_FORMAT", "resolve_device", "train", "evaluate", "evaluate_checkpoint",
                                     "load_training_checkpoint")}
_WHERE.update({name: "config" for name in ("TrainConfig", "TrainingError", "TrainSetupError")})
__all__ = sorted(_WHERE)
__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
