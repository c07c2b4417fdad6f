"""Keep numba's on-disk cache honest across kernel modules.

numba keys a cached kernel on the contents of its own source file only, while
a compiled kernel carries the code of the kernels it calls from other modules
(inlined, mostly).  Editing ``lanes.py`` would leave the cached kernels of
``squint.py`` and ``run.py`` in use, and they would run the old
code.  :func:`install` therefore registers cache locators that stamp a kernel
module with the contents of its own file and of every module it calls
(``_CALLEES``, closed under imports: :func:`callees`), ahead of numba's own locators.

It must run before the first kernel is decorated, since numba reads the stamp
then: ``xnas/pea/__init__.py`` calls it before importing anything else (a test
holds that order).  The hook uses numba's list of locator classes
(``numba.core.caching.CacheImpl._locator_classes``, ``_CacheImpl`` in older releases); should a numba release
drop it, :func:`install` does nothing and the stamps are numba's own.
"""

from __future__ import annotations

import functools
import hashlib
import os

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "kernels")

# The modules of xnas.pea.kernels each module imports (kernels, ids, layouts and
# numba options all end up in the compiled code); a test derives the imports
# from the sources and fails when one is missing here.
_FAMILY = ("jit.py", "lanes.py", "layout.py", "vecmath.py")
_CALLEES = (
    ("env.py", ("jit.py", "rng.py")),
    ("vecmath.py", ("jit.py",)),
    ("squint_evidence.py", ("jit.py", "vecmath.py")),
    ("lanes.py", ("jit.py", "layout.py", "vecmath.py")),
    ("squint.py", _FAMILY + ("squint_evidence.py",)),
    ("adahedge.py", _FAMILY),
    ("boa.py", _FAMILY),
    ("fixed_share.py", _FAMILY),
    ("hedge_anytime.py", _FAMILY),
    ("mlpoly.py", _FAMILY),
    ("families.py", ("adahedge.py", "boa.py", "fixed_share.py", "hedge_anytime.py", "layout.py", "mlpoly.py",
                     "squint.py", "vecmath.py")),
    ("lane_run.py", ("env.py", "families.py", "jit.py", "lanes.py", "layout.py", "rng.py", "shifting.py",
                     "vecmath.py")),
    ("run.py", ("eg.py", "env.py", "families.py", "jit.py", "lanes.py", "layout.py", "rng.py", "shifting.py",
                "vecmath.py")),
)


def callees(name: str) -> tuple[str, ...]:
    """Every module whose source ends up in module ``name``'s compiled code (the closure of the table)."""
    table = dict(_CALLEES)
    seen: list[str] = []
    todo = list(table.get(name, ()))
    while todo:
        part = todo.pop(0)
        if part not in seen and part != name:
            seen.append(part)
            todo.extend(table.get(part, ()))
    return tuple(sorted(seen))


def source_stamp(name: str, folder: str = HERE) -> bytes:
    """SHA-256 over the contents of kernel module ``name`` and of the modules it calls."""
    digest = hashlib.sha256()
    for part in (name,) + callees(name):
        with open(os.path.join(folder, part), "rb") as f:
            digest.update(part.encode() + b"\0" + f.read() + b"\0")
    return digest.digest()


@functools.lru_cache(maxsize=None)
def _stamp_of(path: str, mtime: float, size: int) -> bytes:
    # keyed on the file's stat like numba's own, so an edit made while the process runs is seen
    return source_stamp(os.path.basename(path), os.path.dirname(path))


def _with_callees(base):
    """A subclass of numba locator ``base`` for this package's kernel modules only."""

    class Locator(base):
        @classmethod
        def from_function(cls, py_func, py_file):
            if os.path.dirname(os.path.abspath(py_file)) != HERE:
                return None
            return super().from_function(py_func, py_file)

        def get_source_stamp(self):
            st = os.stat(self._py_file)
            return _stamp_of(os.path.abspath(self._py_file), st.st_mtime, st.st_size)

    Locator.__name__ = Locator.__qualname__ = f"XnasCallee{base.__name__}"
    return Locator


def install() -> bool:
    """Put the callee-aware locators first in numba's list; returns whether they are there."""
    try:
        from numba.core import caching

        impl = getattr(caching, "CacheImpl", None) or getattr(caching, "_CacheImpl")
        classes = impl._locator_classes
        bases = (caching.UserProvidedCacheLocator, caching.InTreeCacheLocator, caching.UserWideCacheLocator)
    except (ImportError, AttributeError):
        return False
    if not any(c.__name__.startswith("XnasCallee") for c in classes):
        classes[:0] = [_with_callees(b) for b in bases]
    return True
