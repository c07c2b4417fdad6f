"""A run whose first steps project more than an hour says so in one line, with the options that shorten it."""

import pytest

from xnas import runtime_io
from xnas.runtime_io import Progress


class _Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


@pytest.mark.parametrize("seconds_per_step,warned", [(2.0, True), (0.01, False)])
def test_projection_is_said_once(monkeypatch, capsys, seconds_per_step, warned):
    clock = _Clock()
    monkeypatch.setattr(runtime_io.time, "perf_counter", clock)
    with Progress(True, total=15600, live=False, long_hint="--epochs shortens it") as bar:
        for _ in range(20):
            clock.t += seconds_per_step
            bar.advance()
    err = capsys.readouterr().err
    if warned:
        assert err.count("\n") == 1 and "about 8.7 h" in err and "--epochs shortens it" in err
    else:
        assert err == ""


def test_no_hint_no_line(monkeypatch, capsys):
    clock = _Clock()
    monkeypatch.setattr(runtime_io.time, "perf_counter", clock)
    with Progress(True, total=15600, live=False) as bar:
        for _ in range(10):
            clock.t += 100.0
            bar.advance()
    assert capsys.readouterr().err == ""


def test_search_and_training_pass_a_hint_on_cpu():
    import inspect

    pytest.importorskip("torch")
    from xnas.nas.search import loop as search
    from xnas.nas.train import loop as train

    for module in (search, train):
        assert "long_hint=hint" in inspect.getsource(module) and "--device cuda" in inspect.getsource(module)
