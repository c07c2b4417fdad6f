"""Which code made a result: the package version and, from a git checkout, the commit.

Results written by different code can differ in their last bits (or more); a study
whose units were written by several versions says so in its report.
"""

from __future__ import annotations

import functools
import os
import subprocess
from typing import Optional

from xnas import __version__

__all__ = ["code_version", "version_label"]


def _git(root: str, *args: str) -> Optional[subprocess.CompletedProcess]:
    try:
        return subprocess.run(["git", "-C", root, *args], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None


@functools.lru_cache(maxsize=None)
def code_version() -> dict:
    """``{"version": ..., "commit": ..., "modified": ...}`` of the running package.

    ``commit`` (and ``modified``: tracked files differ from it) only when the package
    runs from a git checkout of this project (an editable install); ``None`` for an
    installed wheel, or a checkout git cannot read. Computed once per process.
    """
    info = {"version": __version__, "commit": None, "modified": None}
    package = os.path.dirname(os.path.abspath(__file__))
    top = _git(package, "rev-parse", "--show-toplevel")
    # only our own checkout: a wheel installed inside some other repository must not report its commit
    if top is None or top.returncode != 0 or os.path.realpath(top.stdout.strip()) != os.path.realpath(
            os.path.dirname(package)):
        return info
    head = _git(package, "rev-parse", "HEAD")
    if head is None or head.returncode != 0:
        return info
    diff = _git(package, "diff", "--quiet", "HEAD", "--")
    info["commit"] = head.stdout.strip()
    info["modified"] = None if diff is None else diff.returncode != 0
    return info


def version_label(info: Optional[dict]) -> str:
    """A short text for a :func:`code_version` record, e.g. ``0.1.0 (8640eb9, modified)``; ``unknown`` for none."""
    if not isinstance(info, dict) or not isinstance(info.get("version"), str):
        return "unknown"
    commit = info.get("commit")
    if not isinstance(commit, str) or not commit:
        return info["version"]
    return f"{info['version']} ({commit[:7]}{', modified' if info.get('modified') else ''})"
