"""How the simulator's kernels are compiled: numba's options, defined once.

Every kernel is cached on disk (``cache=True``; :mod:`xnas.pea.cache_stamps`
keys the cache on the sources of a module's callees too).

* :data:`PLAIN`: the environments and the run loops' helpers, IEEE arithmetic as written;
* :data:`LOOP`: the run loops, as :data:`PLAIN`, releasing the GIL (their callers run seeds in threads);
* :data:`FAST`: the steps and segment loops of the literature's forecasters:
  ``a * b + c`` may be fused (``contract``) and errors follow NumPy (no
  division check);
* :data:`INLINE`: the leaves called from those loops, inlined by LLVM: numba's
  own inlining types every copy anew and tripled the compile time;
* :data:`IR_INLINE`: numba's inlining, where LLVM would leave a loop scalar
  without it (BOA's step: half the speed).
"""

from __future__ import annotations

PLAIN = {"cache": True}
LOOP = {"cache": True, "nogil": True}
FAST = {"cache": True, "fastmath": {"contract"}, "error_model": "numpy"}
INLINE = {**FAST, "forceinline": True}
IR_INLINE = {**FAST, "inline": "always"}
