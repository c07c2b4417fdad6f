"""The check every hostile-input test makes of a CLI result: one clear line and exit code 2."""


def assert_one_line_exit_2(res, *words: str) -> None:
    """``res`` (a click ``Result``) exited 2 with exactly one line, holding every word, and no traceback."""
    assert res.exit_code == 2, (res.exit_code, res.output)
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    assert res.output.count("\n") == 1 and "Traceback" not in res.output, res.output
    for word in words:
        assert word in res.output, res.output
