"""Training dynamics: a network f and its linearization f^lin trained side by side by full-batch GD.

Conventions (Lee et al. 2019; Sutherland's NTK slides, "Recap of overall theory"): loss
L(θ) = (1/N) Σ_i ℓ(f(x_i), y_i) with ℓ = ½‖f − y‖² for MSE; gradient descent θ ← θ − lr·∇L.  The linearized
model f^lin(x; θ) = f(x; θ_0) + ∇_θ f(x; θ_0)(θ − θ_0) (Y. Chen, "Linearized Networks", eq. (10)) then moves in
function space exactly as

    f^lin ← f^lin − (lr/N) Θ_0(·, X) ∇_f ℓ(f^lin(X), Y),      (MSE: ∇_f ℓ = f^lin(X) − Y, Chen eq. (14))

with Θ_0 the empirical NTK at initialisation.  Theorem 2.1 of Lee et al. 2019 (proof in their appendix, followed
in Chen §6) bounds sup_t ‖f_t − f^lin_t‖, the relative parameter movement and sup_t ‖Θ_t − Θ_0‖_F by
O(1/√width) for NTK-parameterized nets and lr < 2N/λ_max; :func:`train_stream` measures all of them as training runs.

Targets y_train may have shape (N,) (one output) or (N, O); every f array in a :class:`Snapshot` has the
same layout, (N,) or (N, O) (for cross-entropy with class indices: (N, O) logits).  The given model is never
modified: a copy is trained.  ``lr`` is the learning rate actually used (from a base rate:
``model.scaled_lr(base_lr)``, see ``ntk_explorer.models``).
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass, fields, replace
from typing import Callable, Iterator, Optional, Union

import numpy as np
import torch

from .engine import Engine, check_positive_int, check_positive_number

__all__ = ["Snapshot", "Trajectory", "TrainingStream", "train_stream", "train", "DIVERGENCE_FACTOR", "StopSignal",
           "check_stop", "stop_requested", "ItemStream"]

DIVERGENCE_FACTOR = 1e6


@dataclass(frozen=True, eq=False)
class Snapshot:
    """State after ``step`` GD steps.  ``loss``/``loss_lin``: L of f and f^lin on the training set;
    ``f_train``/``flin_train`` (N,) or (N, O); ``f_eval``/``flin_eval`` the same on x_eval (None without
    x_eval); ``discrepancy``: RMS of f − f^lin over eval points (training points if none);
    ``param_distance``: ‖θ_t − θ_0‖/‖θ_0‖; ``kernel_drift``: ‖Θ_t − Θ_0‖_F/‖Θ_0‖_F on the training set
    (NaN when not computed at this step); ``ntk_eigenvalues``: the eigenvalues of Θ_t on the training set in
    descending order, computed with the kernel drift from the same kernel (None at other steps);
    ``diverged``/``message``: set on the last snapshot of a run that diverged (it then holds the last state whose
    losses were finite and below 1e6 × the initial loss)."""
    step: int
    loss: float
    loss_lin: float
    f_train: np.ndarray
    flin_train: np.ndarray
    f_eval: Optional[np.ndarray]
    flin_eval: Optional[np.ndarray]
    discrepancy: float
    param_distance: float
    kernel_drift: float
    ntk_eigenvalues: Optional[np.ndarray] = None
    diverged: bool = False
    message: str = ""

    def is_finite(self) -> bool:
        arrays = [a for a in (self.f_train, self.flin_train, self.f_eval, self.flin_eval) if a is not None]
        scalars = (self.loss, self.loss_lin, self.discrepancy, self.param_distance)
        return (all(math.isfinite(v) for v in scalars) and not math.isinf(self.kernel_drift)
                and all(bool(np.isfinite(a).all()) for a in arrays))


@dataclass(frozen=True, eq=False)
class Trajectory:
    """The fields of :class:`Snapshot` stacked over the recorded snapshots (first axis = snapshot):
    ``step`` (S,) int, losses and metrics (S,), f arrays (S, N[, O]) / (S, M[, O]) or None,
    ``ntk_eigenvalues`` (S, N·O) with NaN rows where the kernel was not computed (None when it never was),
    ``diverged`` (S,) bool and ``message`` (S,) str.  ``trajectory[i]`` is the i-th Snapshot; ``trajectory.final``
    the last one."""
    step: np.ndarray
    loss: np.ndarray
    loss_lin: np.ndarray
    f_train: np.ndarray
    flin_train: np.ndarray
    f_eval: Optional[np.ndarray]
    flin_eval: Optional[np.ndarray]
    discrepancy: np.ndarray
    param_distance: np.ndarray
    kernel_drift: np.ndarray
    ntk_eigenvalues: Optional[np.ndarray]
    diverged: np.ndarray
    message: np.ndarray

    @classmethod
    def from_snapshots(cls, snapshots) -> "Trajectory":
        snapshots = list(snapshots)
        if not snapshots:
            raise ValueError("no snapshots to stack")

        def stack(name):
            values = [getattr(s, name) for s in snapshots]
            if name == "ntk_eigenvalues":  # computed every kernel_every steps only: NaN rows elsewhere
                size = next((len(v) for v in values if v is not None), None)
                return None if size is None else np.stack([np.full(size, np.nan) if v is None else v
                                                           for v in values])
            return None if values[0] is None else np.stack(values) if isinstance(values[0], np.ndarray) \
                else np.asarray(values)
        return cls(**{f.name: stack(f.name) for f in fields(cls)})

    def __len__(self) -> int:
        return len(self.step)

    def __getitem__(self, index: int) -> Snapshot:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        item = {k: (None if v is None else v[index]) for k, v in values.items()}
        scalars = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in item.items()}
        eigenvalues = scalars["ntk_eigenvalues"]
        if eigenvalues is not None and np.isnan(eigenvalues).all():
            scalars["ntk_eigenvalues"] = None
        return Snapshot(**scalars)

    @property
    def final(self) -> Snapshot:
        return self[len(self) - 1]


StopSignal = Union[threading.Event, Callable[[], bool], None]


class ItemStream:
    """An iterator over ``items`` (a generator) that can be closed early: the base of the package's streams
    (:class:`TrainingStream`, the width sweep's and the phase diagram's)."""

    def __init__(self, items: Iterator):
        self._items = items

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._items)

    def close(self) -> None:
        self._items.close()


class TrainingStream(ItemStream):
    """The iterator :func:`train_stream` returns: yields :class:`Snapshot` s; ``network`` is the copy of the
    model being trained (public, so Θ_t or anything else can be computed from it).  While a snapshot is being
    handled the network may already hold the parameters of the following step (snapshots are yielded one step
    late); once the stream is exhausted it holds the parameters of the last snapshot.  ``initial_ntk`` is Θ_0
    on the training set ((N·O) × (N·O), float, the model's device)."""

    def __init__(self, engine: Engine, steps: int, record_every: int, kernel_every: Optional[int],
                 stop: StopSignal):
        self._engine = engine
        super().__init__(_run(engine, steps, record_every, kernel_every, stop))

    @property
    def network(self) -> torch.nn.Module:
        return self._engine.net

    @property
    def initial_ntk(self) -> torch.Tensor:
        return self._engine.k0_train


def check_stop(stop: StopSignal) -> StopSignal:
    """``stop`` unchanged if it is None, a threading.Event (anything with ``is_set``) or a callable, else TypeError."""
    if stop is not None and not (hasattr(stop, "is_set") or callable(stop)):
        raise TypeError(f"stop must be a threading.Event or a callable, got {type(stop).__name__}")
    return stop


def stop_requested(stop: StopSignal) -> bool:
    """Whether ``stop`` (None, a threading.Event or a callable returning a bool) asks to stop now."""
    if stop is None:
        return False
    if hasattr(stop, "is_set"):
        return bool(stop.is_set())
    return bool(stop())


def _check_arguments(steps, record_every, kernel_every, linearization, stop):
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"steps must be an integer ≥ 0, got {steps!r}")
    check_positive_int(record_every, "record_every")
    if kernel_every is not None:
        check_positive_int(kernel_every, "kernel_every")
        if kernel_every % record_every:
            raise ValueError(f"kernel_every ({kernel_every}) must be a multiple of record_every "
                             f"({record_every}) so that the kernel drift lands on recorded steps")
    if linearization not in ("function", "parameter"):
        raise ValueError(f"linearization must be 'function' or 'parameter', got {linearization!r}")
    check_stop(stop)


def train_stream(model: torch.nn.Module, x_train, y_train, *, lr: float, steps: int, x_eval=None,
                 loss: str = "mse", record_every: int = 1, kernel_every: Optional[int] = None,
                 linearization: str = "function", stop: StopSignal = None,
                 output_scale: float = 1.0) -> TrainingStream:
    """Trains a copy of ``model`` by full-batch GD with learning rate ``lr`` for ``steps`` steps, and its
    linearization f^lin in lock-step, yielding a :class:`Snapshot` at steps 0, record_every, 2·record_every,
    … and ``steps`` (a snapshot is yielded once the following step has been checked, i.e. one step late).

    linearization="function": f^lin ← f^lin − (lr/N) Θ_0(·, X) ∇_f ℓ with Θ_0 computed once over train and
    eval points (Chen eq. (14); for cross-entropy the same update integrates the ODE of Sutherland's slide "Other
    loss functions").  "parameter": GD on the parameters of ``linearize(model)`` (torch.func.jvp/vjp).
    kernel_every: compute the kernel drift every that many steps (a multiple of record_every), else NaN.
    stop: threading.Event or callable; when set the stream ends within one step.
    output_scale α (Chizat, Oyallon & Bach 2019): trains f(x; θ_0) + α·(f(x; θ) − f(x; θ_0)) with
    learning rate lr/α² (α = 1 is the plain network; adding the constant f(x; θ_0) to Chizat et al.'s
    α(f − f_0) keeps the initial function).  f^lin is then independent of α while f − f^lin = O(1/α).
    Divergence: a non-finite loss (of f or f^lin) or one above DIVERGENCE_FACTOR × the initial loss ends
    the stream with ``diverged=True`` and a message naming the critical learning rate 2N/λ_max(Θ_0).
    Returns a :class:`TrainingStream`: iterate it for the snapshots; its ``network`` is the network being trained.
    Memory: before anything is allocated, ``ntk_explorer.memory.estimate_training_bytes`` (parameter copies,
    activations, Θ_0 over train + eval points) is compared with the budget; above it a MemoryBudgetError
    (a ValueError) says which setting to lower.
    """
    _check_arguments(steps, record_every, kernel_every, linearization, stop)
    check_positive_number(lr, "lr")
    check_positive_number(output_scale, "output_scale")
    engine = Engine(model, x_train, y_train, x_eval, lr=float(lr), loss=loss, linearization=linearization,
                    output_scale=float(output_scale))  # validates the data and computes Θ_0 eagerly
    return TrainingStream(engine, int(steps), int(record_every), kernel_every, stop)


def _run(engine: Engine, steps: int, record_every: int, kernel_every: Optional[int],
         stop: StopSignal) -> Iterator[Snapshot]:
    pending: Optional[Snapshot] = None
    last_yielded: Optional[Snapshot] = None
    threshold = None
    for step in range(steps + 1):
        if step > 0 and stop_requested(stop):
            break
        h, loss_t, losses = engine.forward()
        if threshold is None:
            if not all(math.isfinite(v) for v in losses):
                raise ValueError("the initial loss is not finite: check y_train and the model's outputs")
            threshold = DIVERGENCE_FACTOR * losses[0]
        bad = not all(math.isfinite(v) and v <= threshold for v in losses)
        snapshot = None
        if not bad and (step % record_every == 0 or step == steps):
            snapshot = Snapshot(**engine.snapshot(step, h, losses,
                                                  kernel=bool(kernel_every) and step % kernel_every == 0))
            bad = not snapshot.is_finite()
        if bad:
            if step == 0:
                raise ValueError("the network's outputs at initialisation are not finite")
            last = pending if pending is not None else Snapshot(**engine.rewound_snapshot(step - 1))
            if not last.is_finite():  # pathological: finite losses but non-finite eval outputs
                last = last_yielded
            yield replace(last, diverged=True, message=engine.divergence_message(step, losses, threshold))
            return
        if pending is not None:
            yield pending
            last_yielded = pending
        pending = snapshot
        if step < steps:
            engine.update(h, loss_t)
    if pending is not None:
        yield pending


def train(model: torch.nn.Module, x_train, y_train, *, lr: float, steps: int, x_eval=None,
          loss: str = "mse", record_every: int = 1, kernel_every: Optional[int] = None,
          linearization: str = "function", stop: StopSignal = None,
          output_scale: float = 1.0) -> Trajectory:
    """Runs :func:`train_stream` with the same arguments and stacks its snapshots into a
    :class:`Trajectory`."""
    return Trajectory.from_snapshots(train_stream(
        model, x_train, y_train, lr=lr, steps=steps, x_eval=x_eval, loss=loss, record_every=record_every,
        kernel_every=kernel_every, linearization=linearization, stop=stop, output_scale=output_scale))
