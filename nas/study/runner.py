"""Running a study: which units are left, in how many processes, and writing the summary.

``run_study`` plans the units, keeps this shard's share, skips the units already done
(their files exist and parse) and runs the rest, inline with ``jobs=1`` or in ``jobs``
spawned processes (one torch thread each). A cell's trainings are queued as soon as
its search unit is done, so the processes stay busy. Afterwards the summary and the
figure are rebuilt from every unit in the folder.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, Callable

from xnas.nas.study.config import STUDY_FILE, STUDY_FORMAT, StudyConfig, StudyError, check_same_study
from xnas.nas.study.methods import get_method
from xnas.nas.study.units import Unit, plan_units, read_unit, shard_units, unit_check, unit_path, write_unit

__all__ = ["run_study", "run_unit", "pending_units", "write_report", "UnitFailed", "StudyInterrupted"]

WORK_DIR = "work"


class StudyInterrupted(KeyboardInterrupt):
    """Ctrl-C during a study; the message says how many units are kept (finished units stay done)."""


class UnitFailed(RuntimeError):
    """A unit started but could not finish (a NaN loss, say); one line naming the unit."""


def _set_threads() -> None:
    import torch

    from xnas.nas.study import backend

    backend.apply_threads(1, torch.device("cpu"))


def run_unit(unit: Unit, cfg: StudyConfig, out: str) -> dict:
    """Run one unit and write its file; returns the record.

    The unit's scratch folder (``OUT/work/UNIT``) is removed once its record is written.
    """
    import shutil

    import numpy as np

    from xnas.nas.study import backend

    space = backend.get_space(cfg.space)
    method = get_method(unit.method)
    workdir = os.path.join(out, WORK_DIR, unit.id)
    if unit.kind == "search":
        record: dict[str, Any] = {"method": unit.method, "kind": method.kind, "seed": unit.cell}
        start = time.perf_counter()
        if method.kind in ("search", "random-ws"):
            genotype, seconds, trace = backend.search_cell(space, cfg, method.arch_optimizer, unit.cell, workdir)
            record.update(trace)
        elif method.kind == "random":
            genotype = space.sample_genotype(np.random.default_rng([unit.cell, 11]))
            seconds = time.perf_counter() - start
        else:
            genotype = space.parse_genotype(method.genotype)
            seconds = 0.0
        record.update(genotype=space.format_genotype(genotype), seconds=seconds)
        scores = backend.table_scores(space.name, genotype)  # the benchmark's own result for the cell, if it has one
        if scores is not None:
            record["table"] = scores
    else:
        search = read_unit(out, unit.search_unit(), unit_check(cfg, out))
        if search is None:
            raise StudyError(f"unit {unit.id} needs {unit.search_unit().id}, which is not done")
        genotype = space.parse_genotype(search["genotype"])
        result = backend.train_cell(space, genotype, cfg, unit.train_seed, workdir)
        record = {"method": unit.method, "cell": unit.cell, "seed": unit.train_seed, **result}
    write_unit(out, unit, record, cfg)
    shutil.rmtree(workdir, ignore_errors=True)
    return record


def _run_checked(unit: Unit, cfg: StudyConfig, out: str) -> None:
    """``run_unit`` with its errors reduced to one line: bad data is a :class:`StudyError`, the rest fails the unit."""
    from xnas.nas.study import backend

    try:
        run_unit(unit, cfg, out)
    except StudyError:
        raise
    except backend.DataError as exc:
        raise StudyError(str(exc).strip().splitlines()[0]) from None
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UnitFailed(f"unit {unit.id} failed: {first}") from None


def _worker(unit: Unit, cfg_dict: dict, out: str) -> str:
    _run_checked(unit, StudyConfig.from_dict(cfg_dict), out)
    return unit.id


def pending_units(cfg: StudyConfig, out: str, shard: tuple[int, int] = (0, 1)) -> list[Unit]:
    """This shard's units that are not done yet, cell by cell across the methods.

    Every method's first cells come before any method's later ones (a search before its
    trainings), so a study stopped part-way still compares the methods on equal terms
    and ``--report`` has something to say about each. A cell searched again is trained again.
    """
    check = unit_check(cfg, out)
    planned = shard_units(plan_units(cfg), *shard)
    todo = [u for u in planned if read_unit(out, u, check) is None]
    redo = {u.group for u in todo if u.kind == "search"}
    rank = {name: i for i, name in enumerate(cfg.methods)}
    pending = [u for u in planned if u in todo or u.group in redo]
    return sorted(pending, key=lambda u: (u.cell, rank[u.method], -1 if u.train_seed is None else u.train_seed))


def _prepare(cfg: StudyConfig, out: str, resume: bool) -> None:
    try:
        os.makedirs(out, exist_ok=True)
        probe = os.path.join(out, ".write-test")
        with open(probe, "w", encoding="utf-8") as fh:
            fh.write("")
        os.unlink(probe)
    except OSError as exc:
        raise StudyError(f"cannot write to --out {out!r} ({exc.strerror or exc})") from None
    exists = check_same_study(cfg, out)
    if exists and not resume:
        raise StudyError(f"{out} already holds this study; pass --resume to continue it or choose another --out")
    if not exists:
        from xnas.nas.study.backend import write_text_atomic

        text = json.dumps({"config": cfg.to_dict(), "format": STUDY_FORMAT}, indent=2, sort_keys=True)
        write_text_atomic(os.path.join(out, STUDY_FILE), text + "\n")


def _check_unit_paths(todo: list[Unit], out: str) -> None:
    # a folder (or FIFO) where a unit's file goes is not a unit that failed: the
    # write could never succeed, so it is bad input, refused before any unit runs
    for unit in todo:
        path = unit_path(out, unit)
        if os.path.lexists(path) and not os.path.isfile(path):
            raise StudyError(f"{path} is not a regular file, so unit {unit.id} cannot be written; remove it")


def _run_pool(todo: list[Unit], cfg: StudyConfig, out: str, jobs: int, advance: Callable[[str], None]) -> None:
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    waiting: dict[Unit, list[Unit]] = {}
    ready = []
    for u in todo:
        if u.kind == "train" and u.search_unit() in todo:
            waiting.setdefault(u.search_unit(), []).append(u)
        else:
            ready.append(u)
    cfg_dict = cfg.to_dict()
    with ProcessPoolExecutor(jobs, mp_context=mp.get_context("spawn"), initializer=_set_threads) as pool:
        running = {pool.submit(_worker, u, cfg_dict, out): u for u in ready}
        try:
            while running:
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for fut in done:
                    unit = running.pop(fut)
                    try:
                        fut.result()
                    except BaseException:
                        for other in running:
                            other.cancel()
                        raise
                    advance(unit.id)
                    for follower in waiting.pop(unit, []):
                        running[pool.submit(_worker, follower, cfg_dict, out)] = follower
        except KeyboardInterrupt:
            _stop_pool(pool, running)
            raise


def _stop_pool(pool: Any, running: dict) -> None:
    # SIGINT to this process alone (kill -INT, a scheduler) left the workers running every
    # queued unit before the pool could close; stop them now: a unit file is written
    # atomically, so a stopped unit leaves nothing that counts as done
    for fut in running:
        fut.cancel()
    for proc in list((getattr(pool, "_processes", None) or {}).values()):
        proc.terminate()
    pool.shutdown(wait=True, cancel_futures=True)


def run_study(cfg: StudyConfig, out: str, resume: bool = False, jobs: int = 1, shard: tuple[int, int] = (0, 1),
              progress: bool = True) -> dict:
    """Run this shard's unfinished units, then write ``summary.json`` and ``study.png``.

    Parameters
    ----------
    cfg : StudyConfig
    out : str
        The study folder (shared by every shard).
    resume : bool
        Continue a study already in ``out`` (same config; a fresh folder is fine too).
    jobs : int
        Local processes (``spawn``, one torch thread each); 1 runs inline.
    shard : (I, N)
        Run only shard ``I`` of ``N`` (0-based).

    Raises
    ------
    StudyError
        Bad settings, an unwritable or foreign folder (before any unit runs).
    UnitFailed
        A unit could not finish; finished units stay done.
    """
    cfg.validate()
    if not (isinstance(jobs, int) and jobs >= 1):
        raise StudyError(f"--jobs must be a positive integer, got {jobs!r}")
    from xnas.nas.study.backend import get_space, preflight

    kinds = [get_method(m) for m in cfg.methods]
    preflight(get_space(cfg.space), cfg, tuple(m.arch_optimizer for m in kinds if m.arch_optimizer))
    _prepare(cfg, out, resume)
    todo = pending_units(cfg, out, shard)
    _check_unit_paths(todo, out)
    from xnas.nas.study.report import progress_bar

    try:
        with progress_bar(progress, len(todo), f"study {cfg.dataset}/{cfg.space}") as advance:
            if jobs == 1 or len(todo) <= 1:
                _set_threads()
                for unit in todo:
                    _run_checked(unit, cfg, out)
                    advance(unit.id)
            else:
                _run_pool(todo, cfg, out, jobs, advance)
    except KeyboardInterrupt:
        planned = shard_units(plan_units(cfg), *shard)
        left = len(pending_units(cfg, out, shard))
        raise StudyInterrupted(f"{len(planned) - left}/{len(planned)} units kept in {out}; "
                               "rerun with --resume to continue") from None
    _prune_empty(os.path.join(out, WORK_DIR))
    return write_report(cfg, out)


def _prune_empty(folder: str) -> None:
    # finished units leave empty scratch folders; a folder still holding files
    # belongs to a unit another shard is running and stays
    for root, _, _ in sorted(os.walk(folder), key=lambda w: -len(w[0])):
        try:
            os.rmdir(root)
        except OSError:
            pass


def write_report(cfg: StudyConfig, out: str, figure: bool = True) -> dict:
    """Rebuild ``summary.json`` (and ``study.png``) from the units in ``out``; returns the summary."""
    from xnas.nas.study.backend import write_text_atomic
    from xnas.nas.study.summary import build_summary

    summary = build_summary(cfg, out)
    try:
        write_text_atomic(os.path.join(out, "summary.json"),
                          json.dumps(summary, indent=2, sort_keys=True, allow_nan=False) + "\n")
        if figure:
            from xnas.nas.study.report import plot_study

            plot_study(summary, os.path.join(out, "study.png"))
    except OSError as exc:
        raise StudyError(f"cannot write the report in {out!r} ({exc.strerror or exc}: {exc.filename2 or exc.filename})") from None
    return summary
