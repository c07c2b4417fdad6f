"""A run compiles its own forecaster's kernels and nothing of the others (issue 22).

The run loops take the forecaster id as a compile-time literal (:mod:`xnas.pea.compiled`);
a loop dispatching on it at run time compiled all thirteen forecasters at the first run of any
one.  Checked from an empty numba cache in a subprocess, by the compile events numba emits.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

_PROBE = """
import json
from numba.core import event

compiled = set()


class Seen(event.Listener):
    def on_start(self, ev):
        compiled.add(ev.data["dispatcher"].py_func.__module__)

    def on_end(self, ev):
        pass


event.register("numba:compile", Seen())
from xnas.pea import simulate

r = simulate("ftl", "stochastic", n_experts=4, T=50, seeds=2)
print(json.dumps({"modules": sorted(compiled), "compile_seconds": r.compile_seconds, "seconds": r.seconds,
                  "summary": sorted(r.summary())}))
"""


@pytest.mark.slow
def test_a_run_compiles_its_forecaster_only(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path), NUMBA_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, env=env, check=True)
    got = json.loads(out.stdout)
    modules = {m.rsplit(".", 1)[-1] for m in got["modules"] if m.startswith("xnas.pea.kernels.")}
    assert "run" in modules  # the one-seed loop, for ftl
    others = {"adahedge", "squint", "boa", "mlpoly", "fixed_share", "hedge_anytime", "squint_evidence",
              "lane_run", "vecmath"}
    assert not modules & others, f"compiled for ftl: {sorted(modules & others)}"
    # compilation is reported apart from the simulation, and said on stderr with what compiles
    assert got["compile_seconds"] > 0 and {"seconds", "compile_seconds"} <= set(got["summary"])
    assert "compiling the run loop of forecaster 'ftl'" in out.stderr


def test_the_regret_table_shows_compile_time_only_when_large(capsys):
    from xnas.cli.sim import _print_regret_table

    s = dict(forecaster="xnas", env="adversarial", experts=8, T=100, seeds=2, eta=0.1, regret=1.0, regret_std=0.1,
             bound=2.0, regret_over_bound_max=0.5, gamma_T=1.0, survivors=8, best_survived=1.0, seconds=0.01)
    _print_regret_table({**s, "compile_seconds": 0.1})
    assert "compiling" not in capsys.readouterr().out
    _print_regret_table({**s, "compile_seconds": 12.3})
    out = capsys.readouterr().out  # the table is a result: stdout (the streams rule)
    assert "seconds compiling (once)" in out and "12.3" in out
