"""Image folders (``imagefolder:PATH``): layout, description, and a check of every image.

An image PIL cannot decode, or one large enough to be a decompression bomb,
used to stop a run mid-epoch.  Every image is now opened and verified when the
folder is indexed, so a bad file is named, in one line, before any work starts.
"""

from __future__ import annotations

import os
import warnings
from typing import Callable, Optional

from xnas.nas.data.info import DataError, DatasetInfo

__all__ = ["IMAGE_EXTENSIONS", "imagefolder_root", "imagefolder_info", "load_imagefolder", "check_images"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".tif", ".tiff", ".webp")


def imagefolder_root(spec: str, data_dir: Optional[str]) -> str:
    """The folder named by ``imagefolder:PATH`` (a relative PATH is also tried under ``data_dir``)."""
    path = spec.split(":", 1)[1]
    if not path:
        raise DataError("imagefolder needs a path: imagefolder:PATH with PATH/train/<class>/ images")
    if not os.path.isdir(path) and data_dir and not os.path.isabs(path):
        candidate = os.path.join(data_dir, path)
        if os.path.isdir(candidate):
            return candidate
    return path


def _split_dir(root: str, train: bool) -> str:
    if train:
        return os.path.join(root, "train")
    for name in ("test", "val"):
        if os.path.isdir(os.path.join(root, name)):
            return os.path.join(root, name)
    return os.path.join(root, "test")


def _layout(root: str) -> str:
    return f"{root}/train/<class>/*.png and {root}/test/<class>/ (or {root}/val/<class>/)"


def _class_dirs(split_dir: str) -> list[str]:
    return sorted(
        d for d in os.listdir(split_dir) if os.path.isdir(os.path.join(split_dir, d)) and not d.startswith(".")
    )


def _open_checked(path: str):
    """Open an image, turning PIL's warnings about huge images into errors."""
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        return Image.open(path)


def _image_problem(path: str) -> Optional[str]:
    """Why ``path`` is not a usable image (``None`` when it is)."""
    from PIL import Image

    try:
        with _open_checked(path) as img:
            img.verify()  # reads the whole file, checks its structure (and PNG checksums)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        return f"too many pixels, a possible decompression bomb ({str(exc).split('.')[0]})"
    except (OSError, SyntaxError, ValueError) as exc:  # PIL's errors for unreadable files
        return type(exc).__name__ + (f": {str(exc).splitlines()[0]}" if str(exc) else "")
    return None


def check_images(paths: list[str], where: str) -> None:
    """Open and verify every image; raise one :class:`DataError` naming the bad ones.

    Parameters
    ----------
    paths : list of str
        The image files.
    where : str
        The folder, for the message.
    """
    bad = [(p, why) for p in paths if (why := _image_problem(p)) is not None]
    if bad:
        first, why = bad[0]
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        raise DataError(f"image folder {where}: {len(bad)} unusable image(s); {first}: {why}{more}; remove or fix them")


def imagefolder_info(spec: str, data_dir: Optional[str]) -> DatasetInfo:
    """Describe ``imagefolder:PATH`` from ``PATH/train`` (the first image gives the size)."""
    root = imagefolder_root(spec, data_dir)
    train_dir = os.path.join(root, "train")
    layout = _layout(root)
    if not os.path.isdir(train_dir):
        raise DataError(f"image folder not found: expected {layout}")
    classes = _class_dirs(train_dir)
    if len(classes) < 2:
        raise DataError(f"image folder {train_dir} needs at least 2 class folders; expected {layout}")
    first = None
    n_images = 0
    for cls in classes:
        for fname in sorted(os.listdir(os.path.join(train_dir, cls))):
            if fname.lower().endswith(IMAGE_EXTENSIONS):
                n_images += 1
                first = first or os.path.join(train_dir, cls, fname)
    if first is None:
        raise DataError(f"image folder {train_dir} holds no images; expected {layout}")
    why = _image_problem(first)
    if why is not None:
        raise DataError(f"image folder {train_dir}: unusable image {first}: {why}; remove or fix it")
    with _open_checked(first) as img:
        size = min(img.size)
        channels = 1 if img.mode in ("L", "I", "F", "1") else 3
    image_size = size if size <= 64 else 224
    if channels == 1:
        mean, std = (0.5,), (0.25,)
    else:  # the ImageNet statistics, the usual default for natural images
        mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    return DatasetInfo(
        spec, channels, len(classes), image_size, mean, std,
        test_split=os.path.basename(_split_dir(root, False)),
        layout=layout, train_size=n_images,
    )


def load_imagefolder(spec: str, data_dir: Optional[str], train: bool, transform: Optional[Callable],
                     info: DatasetInfo):
    """torchvision's ``ImageFolder`` on one split, with every image checked first."""
    import torchvision.datasets as tvd

    root = imagefolder_root(spec, data_dir)
    split_dir = _split_dir(root, train)
    if not os.path.isdir(split_dir):
        raise DataError(f"image folder split not found: expected {info.layout}")
    dataset = tvd.ImageFolder(split_dir, transform=transform, loader=_load_rgb)
    if not train and len(dataset.classes) != info.num_classes:
        raise DataError(f"{split_dir} has {len(dataset.classes)} classes but {root}/train has {info.num_classes}")
    check_images([path for path, _ in dataset.samples], split_dir)
    return dataset


def _load_rgb(path: str):
    """torchvision's loader (RGB), but a file that went bad after the check fails in one line."""
    try:
        with _open_checked(path) as img:
            return img.convert("RGB")
    except Exception as exc:  # PIL raises many types; the message names the file
        raise DataError(f"cannot read image {path}: {type(exc).__name__}: {exc}") from None
