"""The command line (pmdtheory/cli/update.py and pmdtheory/cli/_common.py): survivors of
`make mutation` that showed untested behaviour.

Each test was checked to fail on the mutant named in its comment (tools/mutation.py, seed 0).
"""

import pytest

import pmdtheory
from pmdtheory.cli import main
from pmdtheory.cli._common import guarded


def test_update_with_constant_rewards_leaves_the_policy_unchanged(capsys):
    # mutant: `... for v in (exact, mean, lam, logz, args.tau / lam)` (cli/update.py): constant
    # rewards give lambda = 0, so tau / lambda is not finite and the valid update was refused
    assert main(["update", "--pi", "0.25,0.75", "--r", "1,1", "--tau", "0.1"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out.splitlines() == [
        "action          r         pi_t          exact       PMD-mean",
        "     0          1         0.25           0.25           0.25",
        "     1          1         0.75           0.75           0.75",
        "mean reward       1",
        "log-partition     1   (tau log E exp(r/tau))",
        "lambda            0",
        "beta_t = tau*lam  0   (implicit chi^2 strength)",
    ]


@pytest.mark.parametrize(
    "argv, missing",
    [
        # mutant: `p.add_argument("--r", type=_floats, required=False, ...)` (cli/update.py)
        (["update", "--pi", "0.5,0.5", "--tau", "0.1"], "--r"),
        # mutant: `p.add_argument("--tau", type=float, required=False, ...)` (cli/update.py)
        (["update", "--pi", "0.5,0.5", "--r", "1,0"], "--tau"),
        # full run (session 8): `p.add_argument("--pi", ..., required=False, ...)`
        (["update", "--r", "1,0", "--tau", "0.1"], "--pi"),
    ],
)
def test_update_without_a_required_option_names_it(argv, missing, capsys):
    # the parser refuses before any work: SystemExit(2) and argparse's one line; with the
    # option optional the command ran on None and failed later with another message
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"pmdtheory: error: the following arguments are required: {missing}\n"


def _out_of_memory(*args, **kwargs):
    raise MemoryError


def test_update_out_of_memory_exits_2_with_one_line(monkeypatch, capsys):
    # mutant: `return 3` in the MemoryError handler of guarded (cli/_common.py)
    monkeypatch.setattr(pmdtheory, "exact_update", _out_of_memory)  # update's work runs out
    assert main(["update", "--pi", "0.5,0.5", "--r", "1,0", "--tau", "0.1"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "pmdtheory: error: out of memory\n"


def test_guarded_memory_error_is_exit_2_with_the_commands_hint(capsys):
    # mutant: `return 3` in the MemoryError handler of guarded (cli/_common.py)
    hint = "out of memory (use fewer --contexts)"
    assert guarded("pmdtheory simulate", _out_of_memory, 1, oom=hint) == 2
    assert capsys.readouterr().err == f"pmdtheory simulate: error: {hint}\n"


def _a_bug():
    raise RuntimeError("boom")


def test_guarded_bug_is_one_line_or_the_traceback_with_pmdtheory_debug(monkeypatch, capsys):
    # (coverage, session 5: the PMDTHEORY_DEBUG branch was reached by no test)
    monkeypatch.delenv("PMDTHEORY_DEBUG", raising=False)
    assert guarded("pmdtheory x", _a_bug) == 1
    assert capsys.readouterr().err == (
        "pmdtheory x: internal error (RuntimeError: boom); please report it, "
        "with PMDTHEORY_DEBUG=1 for the traceback\n"
    )
    monkeypatch.setenv("PMDTHEORY_DEBUG", "1")
    with pytest.raises(RuntimeError, match="^boom$"):
        guarded("pmdtheory x", _a_bug)
