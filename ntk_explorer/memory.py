"""Memory guard: estimate what a configuration needs before allocating it, refuse what exceeds the budget.

The budget defaults to half of the memory available on the device (``MemAvailable`` for the CPU, free memory for
CUDA; a reading is reused for one second by requests far below it, see :func:`check_memory`), can be set with
:func:`set_memory_budget` or the environment variable ``NTK_EXPLORER_MEMORY_BUDGET`` (bytes; suffixes K, M, G
allowed). Estimates count the large tensors (parameters and their copies, activations,
kernel matrices, Jacobians), not Python overhead.
"""
from __future__ import annotations

import math
import os
import re
import time

import torch

__all__ = ["MemoryBudgetError", "memory_budget", "set_memory_budget", "parse_bytes", "check_memory",
           "mlp_parameter_count", "estimate_mlp_bytes", "estimate_ntk_bytes", "estimate_training_bytes", "check_training_memory",
           "estimate_ensemble_bytes", "check_ensemble_memory", "format_bytes"]

_override = None
_UNITS = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


class MemoryBudgetError(ValueError):
    """A configuration would need more memory than the budget allows; the message says what to lower."""


def set_memory_budget(n_bytes):
    """Set the budget in bytes (``None`` restores the default: half of the available memory)."""
    global _override
    if n_bytes is not None and (isinstance(n_bytes, bool) or not isinstance(n_bytes, (int, float))
                                or not 0 < n_bytes < float("inf")):
        raise ValueError(f"n_bytes must be a positive number of bytes or None, got {n_bytes!r}")
    _override = None if n_bytes is None else int(n_bytes)


def parse_bytes(text):
    """Bytes in a size such as ``2G``, ``512M``, ``1.5GB`` or ``4096`` (K, M, G, T are powers of 1024); ValueError
    for anything else, zero included (the format of NTK_EXPLORER_MEMORY_BUDGET and ``--memory-budget``)."""
    found = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([KMGT]B?|B)?\s*", str(text), flags=re.IGNORECASE)
    if not found or not float(found.group(1)) > 0:
        raise ValueError(f"expected a positive size like 512M or 2G, got {text!r}")
    unit = (found.group(2) or "").upper().removesuffix("B")
    return int(float(found.group(1)) * _UNITS.get(unit, 1))


def memory_budget(device="cpu"):
    """Bytes a single configuration may use on ``device`` (read afresh at every call)."""
    configured = _configured_budget()
    return configured if configured is not None else _half_available(device)


def _configured_budget():
    """The budget set with :func:`set_memory_budget` or NTK_EXPLORER_MEMORY_BUDGET, else None."""
    if _override is not None:
        return _override
    env = os.environ.get("NTK_EXPLORER_MEMORY_BUDGET")
    if env:
        try:
            return parse_bytes(env)
        except ValueError:
            raise ValueError(f"NTK_EXPLORER_MEMORY_BUDGET={env!r} is not a size in bytes (e.g. 8G)") from None
    return None


def _half_available(device):
    """Half of the memory available now on ``device`` (MemAvailable of /proc/meminfo, CUDA free memory)."""
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


#: A default budget read less than READING_TTL seconds ago is reused for a request at most 1/FAR_BELOW of it
#: (reading /proc/meminfo costs about as much as a small NTK); anything closer to the budget reads it again.
READING_TTL = 1.0
FAR_BELOW = 8
_readings = {}  # str(device) → (time.monotonic() of the reading, budget)


def _budget_for(need, device):
    """The budget to compare ``need`` with: the configured one, or half the available memory, re-read unless a
    reading of the last READING_TTL seconds is at least FAR_BELOW × ``need``."""
    configured = _configured_budget()
    if configured is not None:
        return configured
    key, now = str(device), time.monotonic()
    taken, budget = _readings.get(key, (-math.inf, 0))
    if now - taken < READING_TTL and need * FAR_BELOW <= budget:
        return budget
    budget = _half_available(device)
    _readings[key] = (now, budget)
    return budget


def format_bytes(n):
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


def check_memory(need, what, advice, device="cpu"):
    """Raise :class:`MemoryBudgetError` if ``need`` bytes exceed the budget; ``advice`` says what to lower.
    A refusal, or a request above 1/FAR_BELOW of the budget, always compares with a fresh reading."""
    budget = _budget_for(need, device)
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


def _training_parts(n_train, n_eval, *, width, depth, in_dim, out_dim, itemsize, linearization, n_params):
    """Bytes of the large tensors of ``train_stream``, by kind (see :func:`estimate_training_bytes`)."""
    params = mlp_parameter_count(in_dim, width, depth, out_dim) if n_params is None else n_params
    copies, per_unit = (5, 2) if linearization == "function" else (10, 4)
    n = n_train + n_eval
    return {
        "parameters": params * copies * itemsize,
        "activations": per_unit * (1 + out_dim) * n * (in_dim + depth * width) * itemsize,
        "kernels": 5 * (n + n_train) * n_train * out_dim * out_dim * itemsize,
    }


_TRAINING_ADVICE = {
    "parameters": "lower width or depth",
    "activations": "lower width or depth, or use fewer points (n_train, n_eval)",
    "kernels": "use fewer training or evaluation points (n_train, n_eval)",
}


def estimate_training_bytes(n_train, n_eval, *, width, depth, in_dim, out_dim=1, itemsize=8,
                            linearization="function", n_params=None):
    """Full-batch GD of f with f^lin in lock-step (``ntk_explorer.train_stream``).

    Parameters: θ, θ_0, the double buffer θ_{t−1}, ∇θ and the update's temporary (5 copies; 10 with
    linearization="parameter", which adds θ_0, δ, its gradient, its update and the zero tangents of f^lin's jvp).
    Activations: the forward pass with its graph and the NTK features, 2 (1 + O) floats per unit and point over
    train + eval points (4 (1 + O) for "parameter": the jvp's tangents and the activations the vjp keeps).
    Kernels: Θ_0 over (train + eval) × train points and the train × train kernel of the drift, 5 times (the
    result, its flattened copy and the per-layer products of the structured NTK). The measured peak resident
    memory of CPU runs (widths 64–4096, 300–6200 points, both linearizations) stayed below the estimate.
    ``n_params`` replaces the MLP's parameter count for another model (then width and depth may be 0)."""
    return sum(_training_parts(n_train, n_eval, width=width, depth=depth, in_dim=in_dim, out_dim=out_dim,
                               itemsize=itemsize, linearization=linearization, n_params=n_params).values())


def check_training_memory(n_train, n_eval, *, width, depth, in_dim, out_dim=1, itemsize=8, linearization="function",
                          n_params=None, device="cpu"):
    """Raise :class:`MemoryBudgetError` before training a configuration whose estimate exceeds the budget; the
    advice names the setting behind the largest part (width/depth, or the numbers of points)."""
    parts = _training_parts(n_train, n_eval, width=width, depth=depth, in_dim=in_dim, out_dim=out_dim,
                            itemsize=itemsize, linearization=linearization, n_params=n_params)
    model = f"a model with {n_params} parameters" if n_params is not None else f"width={width}, depth={depth}"
    return check_memory(sum(parts.values()), f"training ({model}, {n_train} training and {n_eval} evaluation "
                        "points)", _TRAINING_ADVICE[max(parts, key=parts.get)], device)


def estimate_ensemble_bytes(n_models, n_train, n_eval, *, width, depth, in_dim, out_dim=1, itemsize=8):
    """``ntk_explorer.ensemble``: n_models networks trained as one vectorised model. Parameters: 8 copies of each
    network (the networks and their initial draw, the stacked copy, the gradients, the updated stack and the
    weights vmap batches for the train and eval forward passes); activations: forward and backward over train
    points and the recorded forward over eval points, 4 floats per unit, point and network. The measured peak
    resident memory of CPU runs stayed below the estimate."""
    params = n_models * mlp_parameter_count(in_dim, width, depth, out_dim) * 8 * itemsize
    activations = 4 * n_models * (n_train + n_eval) * (in_dim + depth * width + out_dim) * itemsize
    return params + activations


def check_ensemble_memory(n_models, n_train, n_eval, *, width, depth, in_dim, out_dim=1, itemsize=8, device="cpu"):
    """Raise :class:`MemoryBudgetError` before building an ensemble that would exceed the budget."""
    need = estimate_ensemble_bytes(n_models, n_train, n_eval, width=width, depth=depth, in_dim=in_dim,
                                   out_dim=out_dim, itemsize=itemsize)
    return check_memory(need, f"an ensemble of {n_models} networks (width={width}, depth={depth}, {n_train} "
                        f"training and {n_eval} evaluation points)",
                        "use fewer seeds (networks), a smaller width or depth, or fewer points", device)
