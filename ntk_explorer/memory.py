"""Memory guard: estimate what a configuration needs before allocating it, refuse what exceeds the budget.

The budget defaults to half of the memory available on the device (``MemAvailable`` for the CPU, free memory for
CUDA), can be set with :func:`set_memory_budget` or the environment variable ``NTK_EXPLORER_MEMORY_BUDGET``
(bytes; suffixes K, M, G allowed). Estimates count the large tensors (parameters and their copies, activations,
kernel matrices, Jacobians), not Python overhead.
"""
from __future__ import annotations

import os

import torch

__all__ = ["MemoryBudgetError", "memory_budget", "set_memory_budget", "check_memory", "mlp_parameter_count",
           "estimate_mlp_bytes", "estimate_ntk_bytes", "estimate_training_bytes", "format_bytes"]

_override = None
_UNITS = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


class MemoryBudgetError(ValueError):
    """A configuration would need more memory than the budget allows; the message says what to lower."""


def set_memory_budget(n_bytes):
    """Set the budget in bytes (``None`` restores the default: half of the available memory)."""
    global _override
    if n_bytes is not None and (isinstance(n_bytes, bool) or not isinstance(n_bytes, (int, float)) or n_bytes <= 0):
        raise ValueError(f"n_bytes must be a positive number of bytes or None, got {n_bytes!r}")
    _override = None if n_bytes is None else int(n_bytes)


def _parse_bytes(text):
    text = text.strip().upper().removesuffix("B")
    scale = _UNITS.get(text[-1:], 1)
    value = float(text[:-1] if text[-1:] in _UNITS else text)
    if not value > 0:
        raise ValueError
    return int(value * scale)


def memory_budget(device="cpu"):
    """Bytes a single configuration may use on ``device``."""
    if _override is not None:
        return _override
    env = os.environ.get("NTK_EXPLORER_MEMORY_BUDGET")
    if env:
        try:
            return _parse_bytes(env)
        except ValueError:
            raise ValueError(f"NTK_EXPLORER_MEMORY_BUDGET={env!r} is not a size in bytes (e.g. 8G)") from None
    if torch.device(device).type == "cuda":
        return torch.cuda.mem_get_info(torch.device(device))[0] // 2
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024 // 2
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2


def format_bytes(n):
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


def check_memory(need, what, advice, device="cpu"):
    """Raise :class:`MemoryBudgetError` if ``need`` bytes exceed the budget; ``advice`` says what to lower."""
    budget = memory_budget(device)
    if need > budget:
        raise MemoryBudgetError(f"{what} would need about {format_bytes(need)}, more than the memory budget of "
                                f"{format_bytes(budget)}; {advice} (or raise the budget with "
                                f"ntk_explorer.memory.set_memory_budget)")
    return need


def mlp_parameter_count(in_dim, width, depth, out_dim=1):
    """Number of trained parameters (weights and biases) of ``MLP(in_dim, width, depth, out_dim)``."""
    dims = [in_dim] + [width] * depth + [out_dim]
    return sum(a * b + b for a, b in zip(dims[:-1], dims[1:]))


def estimate_mlp_bytes(in_dim, width, depth, out_dim=1, itemsize=8):
    """Parameters plus the float64 draw they are initialised from."""
    return mlp_parameter_count(in_dim, width, depth, out_dim) * (itemsize + 8)


def estimate_ntk_bytes(n1, n2, out_dim, *, width, depth, in_dim, method="structured", itemsize=8, chunk=1):
    """The (N1, N2, O, O) result plus the smallest working set of ``method`` (one chunk of inputs)."""
    result = n1 * n2 * out_dim * out_dim * itemsize
    if method == "structured":
        work = chunk * (1 + out_dim) * (in_dim + depth * width) * itemsize
    else:  # a Jacobian (or one set of vjp tangents) per input and output: O · P floats each
        work = chunk * out_dim * mlp_parameter_count(in_dim, width, depth, out_dim) * itemsize
    return result + work


def estimate_training_bytes(n_train, n_eval, *, width, depth, in_dim, out_dim=1, itemsize=8):
    """Full-batch GD of f with f^lin in lock-step: θ, θ_0, ∇θ, activations, and Θ_0 over train+eval points."""
    params = mlp_parameter_count(in_dim, width, depth, out_dim) * itemsize * 3
    n = n_train + n_eval
    activations = 3 * n * (in_dim + depth * width) * out_dim * itemsize
    kernels = 2 * n * n * out_dim * out_dim * itemsize
    return params + activations + kernels
