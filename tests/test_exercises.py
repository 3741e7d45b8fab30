"""The exercise checker reports pass, fail and not-attempted correctly (and never raises on student errors)."""
import numpy as np
import torch

from ntk_explorer.exercises import check_close


def test_pass_fail_and_not_attempted(capsys):
    ref = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert check_close("ntk", lambda: torch.tensor(ref) * (1 + 1e-12), ref) == "pass"
    assert "PASS ntk" in capsys.readouterr().out
    assert check_close("ntk", lambda: ref + 1e-3, ref) == "fail"
    assert "largest difference from the library 0.001" in capsys.readouterr().out
    assert check_close("ntk", lambda: ref[0], ref) == "fail"
    assert "shape (2,), expected (2, 2)" in capsys.readouterr().out

    def scaffold():
        raise NotImplementedError("your code here")
    assert check_close("ntk", scaffold, ref) == "not attempted"
    assert "not attempted yet" in capsys.readouterr().out
    assert check_close("ntk", lambda: 1 / 0, ref) == "fail"
    assert "ZeroDivisionError" in capsys.readouterr().out
    assert check_close("ntk", lambda: ref * np.nan, ref) == "fail"
