"""Input checks shared by the public functions: clear ValueError/TypeError messages naming the argument."""
from __future__ import annotations

import contextlib
import math

import numpy as np
import torch


def model_dtype_device(model):
    """(dtype, device) of a module's first floating parameter."""
    for p in model.parameters():
        if p.is_floating_point():
            return p.dtype, p.device
    raise ValueError("model has no floating-point parameters: there is nothing to differentiate")


def as_inputs(x, name, *, dtype, device, in_dim=None):
    """Check ``x`` is an (N, in_dim) finite tensor of ``dtype`` on ``device``.

    A numpy array (or nested list) is converted to ``dtype`` on ``device``; a torch tensor must already match,
    because silently casting a float32 tensor into a float64 computation hides precision bugs.
    """
    if x is None:
        raise ValueError(f"{name} is required")
    if not isinstance(x, torch.Tensor):
        try:
            arr = np.asarray(x, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name} must be a torch tensor or a numeric array, got {type(x).__name__}") from exc
        x = torch.as_tensor(arr, dtype=dtype, device=device)
    else:
        if not x.is_floating_point():
            raise ValueError(f"{name} has dtype {x.dtype}; pass a floating tensor of dtype {dtype} "
                             f"(e.g. {name}.to({dtype}))")
        if x.dtype != dtype:
            raise ValueError(f"{name} has dtype {x.dtype} but the model uses {dtype}; convert with {name}.to({dtype}) "
                             f"or build the model with dtype={x.dtype}")
        if x.device != torch.device(device):
            raise ValueError(f"{name} is on device {x.device} but the model is on {device}; move it with "
                             f"{name}.to('{device}')")
    if x.ndim != 2:
        raise ValueError(f"{name} must be 2-D with shape (N, in_dim), got shape {tuple(x.shape)}")
    if in_dim is not None and x.shape[1] != in_dim:
        raise ValueError(f"{name} has {x.shape[1]} features per row but the model expects in_dim={in_dim}")
    if x.shape[0] == 0:
        raise ValueError(f"{name} is empty: it needs at least one row")
    # a finite sum means every entry is finite (NaN and ±inf propagate); only an overflowing sum needs the full test
    if not math.isfinite(x.sum().item()) and not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or inf values; remove or replace them")
    return x


def as_float64_inputs(x, name, device=None):
    """``x`` as a finite (N, d) float64 tensor, N ≥ 1 (any floating tensor is cast, on its device; an array is
    converted onto ``device``).  ``device``: where a tensor must already be (the first input's device)."""
    if isinstance(x, torch.Tensor):
        if not x.is_floating_point():
            raise ValueError(f"{name} must be a floating tensor, got dtype {x.dtype}")
        if device is not None and x.device != device:
            raise ValueError(f"{name} is on {x.device} but x1 is on {device}; put both on one device")
        x = x.detach().to(torch.float64)
    else:
        try:
            x = torch.as_tensor(np.asarray(x, dtype=np.float64), device=device)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name} must be a tensor or numeric array, got {type(x).__name__}") from exc
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"{name} must have shape (N, d) with N >= 1, got {tuple(x.shape)}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or inf values; remove or replace them")
    return x


@contextlib.contextmanager
def full_precision_matmul():
    """Disable TF32 (CUDA matmul and cuDNN) for the duration, restoring the previous settings after."""
    matmul, cudnn = torch.backends.cuda.matmul, torch.backends.cudnn
    saved = (matmul.allow_tf32, cudnn.allow_tf32)
    matmul.allow_tf32 = False
    cudnn.allow_tf32 = False
    try:
        yield
    finally:
        matmul.allow_tf32, cudnn.allow_tf32 = saved


# --------------------------------------------------------------------------------- scalar arguments
def check_count(name: str, n, minimum: int = 1) -> int:
    """``n`` as an int, or ValueError when it is not an integer ≥ ``minimum``."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < minimum:
        raise ValueError(f"{name} must be an integer ≥ {minimum}, got {n!r}")
    return int(n)


def check_finite_number(value, name, *, minimum=None, strict=False):
    """A finite real number (bool excluded) ≥ ``minimum`` (> it when ``strict``), returned as a float.

    TypeError for a value that is not a real number, ValueError for NaN, ±inf or one out of range."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}"[:200])
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}")
    if minimum is not None and (value <= minimum if strict else value < minimum):
        raise ValueError(f"{name} must be {'>' if strict else '≥'} {minimum:g}, got {value:g}")
    return value


def check_seed(seed, name="seed"):
    """A random seed: an integer ≥ 0 (bool excluded), as numpy's and torch's generators accept."""
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"{name} must be an integer ≥ 0, got {type(seed).__name__} {seed!r}"[:200])
    if seed < 0:
        raise ValueError(f"{name} must be an integer ≥ 0, got {seed}")
    return int(seed)


def check_bool(value, name):
    """A flag: True or False (a numpy bool is accepted)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}"[:200])
    return bool(value)


def check_device(device, name="device"):
    """``device`` as a torch.device; ValueError naming the argument for a string torch does not understand."""
    if isinstance(device, torch.device):
        return device
    if not isinstance(device, (str, int)) or isinstance(device, bool):
        raise TypeError(f"{name} must be a torch.device or a string such as 'cpu' or 'cuda', "
                        f"got {type(device).__name__}")
    try:
        return torch.device(device)
    except (RuntimeError, ValueError) as error:
        raise ValueError(f"{name}={device!r} is not a torch device (use e.g. 'cpu' or 'cuda'): {error}"[:300]) \
            from None


def check_float_dtype(dtype, name="dtype"):
    """A floating-point torch dtype."""
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ValueError(f"{name} must be a floating torch dtype (torch.float64 or torch.float32), got {dtype!r}")
    return dtype
