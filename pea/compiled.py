"""The run loop a simulation needs, compiled for its forecaster when first used, timed apart.

The run loops (:func:`xnas.pea.kernels.run._run_one`, one seed, and
:func:`xnas.pea.kernels.lane_run._run_expert_lanes`, a group of seeds side by
side) take the forecaster id as a compile-time literal, so that numba compiles
one loop per forecaster with that forecaster's kernels in it and nothing of
the others: a loop that dispatched on the id at run time compiled all thirteen
forecasters at the first run of any one, for two minutes.  The environments
are chosen at run time: their kernels are small, and one loop serves them all.

:func:`run_seeds` compiles the loop, or loads it from numba's on-disk cache,
and times that apart from the simulation.  A compile that lasts shows a line on
stderr naming what compiles, with a spinner and the seconds so far on a
terminal.  The seeds are then spread over ``numba.get_num_threads()`` Python
threads (the loops release the GIL): a parallel numba loop would compile the
whole loop a second time, and every level of calls above the loop costs
another optimisation of all the code below it.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterator, Sequence

import numba
import numpy as np
from numba import types

from xnas.pea.kernels.env import ENV_CONVEX
from xnas.pea.kernels.families import FAMILIES
from xnas.pea.kernels.lane_run import _run_expert_lanes
from xnas.pea.kernels.layout import FP_ALPHA, FP_ETA, FP_L, FP_SHIFTS
from xnas.pea.kernels.run import _run_one

# A warm start loads a loop from the cache in a fraction of a second; past this, it is compiling.
ANNOUNCE_AFTER = 1.5
# The CPU time of a loop's first compile on the 2-core VM, rounded up (docs/performance.md).
COMPILE_ESTIMATE = "about 5-20 s"
# Expert-rounds from which a lone seed of a lane forecaster gets the loop compiled for one lane
# (twice the speed of a lone lane in the general loop, same bits): below, the general loop's
# few milliseconds more cost less than compiling a second loop (``validate --quick``'s replays).
LONE_LOOP_MIN = 1 << 20


def plays_in_lanes(fc_id: int, env_id: int) -> bool:
    """Whether a run plays its seeds side by side (the literature's forecasters, but on ``convex``)."""
    return fc_id in FAMILIES and env_id != ENV_CONVEX


def run_seeds(fc_name: str, fc_id: int, env_id: int, fp: np.ndarray, ep: np.ndarray, rewards: np.ndarray,
              log_u0: np.ndarray, T: int, seeds: np.ndarray, rounds: np.ndarray, dim: int, lanes: int,
              out: Sequence[np.ndarray]) -> tuple[float, float]:
    """Play every seed into the output arrays ``out`` (each with a leading axis over the seeds, in the
    order of the loops' arguments); returns (seconds compiling or loading, seconds simulating)."""
    S = seeds.shape[0]
    if plays_in_lanes(fc_id, env_id):
        shifts = int(fp[FP_SHIFTS])

        def args(lo: int, hi: int) -> tuple:
            return (hi - lo, float(fp[FP_ETA]), float(fp[FP_L]), float(fp[FP_ALPHA]), shifts, env_id, ep, rewards,
                    log_u0, T, seeds[lo:hi], rounds, *(o[lo:hi] for o in out))

        kernel, step = _run_expert_lanes, lanes
        # a long lone run's lane count is the literal 1: the one-lane branches fold away
        lone = lanes == 1 and T * log_u0.shape[0] >= LONE_LOOP_MIN
        lanes_type = types.literal(1) if lone else None
        what = "for lone seeds" if lone else "in lanes"
    else:
        trace = np.zeros((0, log_u0.shape[0]))

        def args(lo: int, hi: int) -> tuple:
            return (fp, env_id, ep, rewards, log_u0, T, int(seeds[lo]), rounds, dim, *(o[lo] for o in out), trace)

        kernel, step, lanes_type, what = _run_one, 1, None, "round by round"
    loop, compile_seconds = specialise(kernel, fc_id, args(0, min(step, S)),
                                       f"the run loop of forecaster '{fc_name}' {what}", lanes_type)
    groups = [(lo, min(lo + step, S)) for lo in range(0, S, step)]
    t0 = time.perf_counter()
    _play(loop, fc_id, args, groups)
    return compile_seconds, time.perf_counter() - t0


def _play(loop: Callable, fc_id: int, args: Callable[[int, int], tuple], groups: list[tuple[int, int]]) -> None:
    """Call ``loop`` on every group of seeds, the groups split over threads in contiguous runs.
    Each seed's result is the same whichever thread plays it."""
    threads = min(numba.get_num_threads(), len(groups))

    def part(k: int) -> None:
        for lo, hi in groups[len(groups) * k // threads:len(groups) * (k + 1) // threads]:
            loop(fc_id, *args(lo, hi))

    if threads <= 1:
        part(0)
        return
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="xnas-seeds") as pool:
        for done in [pool.submit(part, k) for k in range(threads)]:
            done.result()


def specialise(kernel, fc_id: int, args: tuple, what: str, first_type=None) -> tuple[Callable, float]:
    """``kernel`` compiled (or loaded) for literal forecaster ``fc_id`` and the types of ``args``
    (``first_type``, if given, types the first of them); returns it and the seconds that took."""
    arg_types = [numba.typeof(a) for a in args]
    if first_type is not None:
        arg_types[0] = first_type
    sig = (types.literal(int(fc_id)), *arg_types)
    t0 = time.perf_counter()
    with _announced(what):
        fn = kernel.compile(sig)
    return fn, time.perf_counter() - t0


@contextlib.contextmanager
def _announced(what: str) -> Iterator[None]:
    """Say on stderr what compiles, once it has taken longer than a cache load would."""
    done = threading.Event()

    def watch() -> None:
        if done.wait(ANNOUNCE_AFTER):
            return
        start = time.perf_counter() - ANNOUNCE_AFTER
        line = f"xnas: compiling {what} ({COMPILE_ESTIMATE} of CPU, once; later runs load it from the cache)"
        if sys.stderr.isatty():
            from rich.console import Console

            with Console(stderr=True).status(line) as status:
                while not done.wait(0.5):
                    status.update(f"{line}: {time.perf_counter() - start:.0f} s")
        else:
            print(line, file=sys.stderr, flush=True)
            done.wait()
        print(f"xnas: compiled in {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)

    watcher = threading.Thread(target=watch, name="xnas-compile-notice", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join()
