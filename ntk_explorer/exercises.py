"""Checks for the write-it-yourself exercises of the lessons: the student's code against the library's answer.

A lesson has a scaffold cell (``def my_thing(...): raise NotImplementedError``) and a check cell calling
:func:`check_close`, which prints one clear line — ``PASS``, ``FAIL`` with the largest error, or "not attempted
yet" when the scaffold still raises NotImplementedError — and returns the verdict, so the lesson runs untouched
under nbval while the solutions notebook asserts ``== "pass"``.
"""
from __future__ import annotations

import numpy as np
import torch

__all__ = ["check_close"]


def _array(value) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float64)


def check_close(name: str, attempt, reference, *, rtol: float = 1e-8, atol: float = 1e-10) -> str:
    """Calls ``attempt()`` (the student's code, a zero-argument callable) and compares its result with
    ``reference`` (an array, tensor or number) elementwise: |mine − ref| ≤ atol + rtol·|ref|.  Prints one line
    and returns "pass", "fail" or "not attempted" (``attempt`` raised NotImplementedError).  Any other exception
    of the student's code is a "fail" with the exception shown (not raised: the lesson keeps running)."""
    try:
        mine = attempt()
    except NotImplementedError:
        print(f"{name}: not attempted yet — complete the cell above and run this check again.")
        return "not attempted"
    except Exception as error:  # the student's code failed: say how, keep the lesson running
        print(f"FAIL {name}: your code raised {type(error).__name__}: {error}")
        return "fail"
    mine, ref = _array(mine), _array(reference)
    if mine.shape != ref.shape:
        print(f"FAIL {name}: shape {mine.shape}, expected {ref.shape}")
        return "fail"
    error = np.abs(mine - ref)
    worst = float(error.max()) if error.size else 0.0
    if not np.all(np.isfinite(mine)) or not np.all(error <= atol + rtol * np.abs(ref)):
        print(f"FAIL {name}: largest difference from the library {worst:.3g} (allowed {atol:g} + {rtol:g}·|ref|)")
        return "fail"
    print(f"PASS {name}: matches the library (largest difference {worst:.3g})")
    return "pass"
