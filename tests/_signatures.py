"""A signature check shared by the tests: which parameters a caller may pass by position."""

import inspect


def assert_keyword_only(fn, positional: list[str]) -> None:
    """``fn`` takes exactly ``positional`` (by position or keyword), then keyword-only
    options: a ``/`` in place of the ``*`` would let a caller swap two options unnoticed."""
    params = list(inspect.signature(fn).parameters.values())
    n = len(positional)
    assert [p.name for p in params[:n]] == positional
    assert all(p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD for p in params[:n])
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params[n:])
