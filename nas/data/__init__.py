"""Datasets: what each is (:mod:`.info`), where its files come from (:mod:`.sources`, :mod:`.images`),
loaders and augmentation (:mod:`.loaders`), and loading and splitting (:mod:`.datasets`).
The public names below load their module on first use."""

from xnas.lazy import lazy_exports

_WHERE = {name: "datasets" for name in ("DataError", "DatasetInfo", "DATASETS", "dataset_info", "default_data_dir",
                                         "load_dataset", "default_transform", "Cutout", "EpochSampler", "FashionMNISTGz",
                                         "search_splits", "make_loader", "set_loader_epoch", "DigitsDataset")}
__all__ = sorted(_WHERE)
__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
