"""The computation behind the lazy-training and spectral-bias panels (runs in the worker thread; all mathematics
is the core's).  The data are the unit circle with a target, or the shipped 8×8 digits (``Problem.dataset``).

:class:`Problem` names a data set and a network at initialisation; :meth:`LazySetup.build` makes them with the
core (``ntk_explorer.data.make_dataset``, ``ntk_explorer.models.MLP``, ``ntk_explorer.kernels.empirical_ntk``) with
the critical learning rates and the closed-form predictor of f^lin (``ntk_explorer.dynamics``; Lee et al. 2019,
Y. Chen, "Linearized Networks", eqs. (9), (15), (19)).  Training is ``ntk_explorer.dynamics.train_stream``: its
snapshots carry the three quantities of Lee et al. 2019, Theorem 2.1, and, every ``kernel_every`` steps, the
spectrum of Θ_t (``Snapshot.ntk_eigenvalues``); :class:`History` collects them for drawing.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import torch

from ..data import Dataset, add_label_noise, make_dataset, parse_target
from ..dynamics import critical_learning_rates, gd_mse_predictor, kernel_matrix, train_stream
from ..kernels import empirical_ntk
from ..models import MLP

__all__ = ["Problem", "LazySetup", "History", "recording", "N_EVAL", "N_EVAL_DIGITS", "LABEL_NOISE_SEED",
           "CLASS_PRESETS", "digit_classes"]

N_EVAL = 128
N_EVAL_DIGITS = 256  # test images of the digits (every class pair of CLASS_PRESETS has ≥ 256 + 64 images)
CLASS_PRESETS = ("3,8", "4,9", "1,7", "0,1", "0,1,2", "0-9")  # digit classes a panel offers (its settings' text)


def digit_classes(text: str) -> tuple:
    """The digits of a preset: "3,8" → (3, 8), "0-9" → (0, 1, …, 9)."""
    if "-" in text:
        low, high = (int(part) for part in text.split("-"))
        return tuple(range(low, high + 1))
    return tuple(int(part) for part in text.split(","))
LABEL_NOISE_SEED = 2  # the noise of labels at clicked training points (the preset grid uses make_dataset's)


def recording(steps: int) -> tuple:
    """(record_every, kernel_every): about 150 recorded snapshots and 30 kernel-drift points per run."""
    record_every = max(1, steps // 150)
    return record_every, record_every * 5


@dataclass(frozen=True)
class Problem:
    """A data set and a network at initialisation: everything of a lazy-training run but the learning rate, the
    number of steps and the output scale.  ``dataset`` "circle": ``n`` points on the unit circle with ``target``;
    ``points``: None for ``n`` evenly spread training angles (``make_dataset("circle")``), else the training angles
    themselves.  ``dataset`` "digits": ``n`` training and N_EVAL_DIGITS test images of the digits ``classes``
    (``make_dataset("digits")``; target, noise, radius and points do not apply)."""
    width: int
    depth: int
    activation: str
    parameterization: str
    bias: float
    seed: int
    target: str
    n: int
    noise: float = 0.0
    radius: float = 1.0
    points: Optional[tuple] = None
    dataset: str = "circle"
    classes: tuple = ()


def _tensor(a):
    return torch.as_tensor(np.asarray(a, dtype=np.float64), dtype=torch.float64)


def training_set(problem: Problem):
    """(t_train, y_train, data): the training angles and labels, and the ``make_dataset`` result (eval grid)."""
    target = parse_target(problem.target)  # raises ValueError with the reason for a bad expression
    data = make_dataset("circle", n_train=problem.n, n_eval=N_EVAL, target=target, noise=problem.noise, seed=0)
    if problem.points is None:
        return data.t_train.numpy(), data.y_train.numpy(), data
    t_train = np.sort(np.asarray(problem.points, dtype=np.float64))
    clean = target(np.stack([np.cos(t_train), np.sin(t_train)], axis=1))
    return t_train, np.asarray(add_label_noise(clean, problem.noise, seed=LABEL_NOISE_SEED)), data


@dataclass(frozen=True, eq=False)
class LazySetup:
    """Data, network and kernels of one :class:`Problem` (f_0, Θ_0 on the training set and between the eval and
    training points, the spectrum of Θ_0 in descending order, the critical learning rates).  On the digits
    ``t_train``/``t_eval`` are the point indices, Θ_0 is (N, N) or (N, N, O, O) for O classes and ``data`` holds
    the Dataset (labels, images, classes); on the circle ``data`` is None."""
    problem: Problem
    t_train: np.ndarray
    t_eval: np.ndarray
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_eval: torch.Tensor
    y_eval: np.ndarray
    model: MLP
    k_train: torch.Tensor
    k_eval_train: torch.Tensor
    f0_train: np.ndarray
    f0_eval: np.ndarray
    spectrum0: np.ndarray
    data: Optional[Dataset] = None

    @classmethod
    def build(cls, problem: Problem) -> "LazySetup":
        if problem.dataset == "digits":
            return cls.build_digits(problem)
        t_train, y_train, data = training_set(problem)
        x_train = problem.radius * _tensor(np.stack([np.cos(t_train), np.sin(t_train)], axis=1))
        x_eval = problem.radius * data.x_eval
        model = MLP(2, problem.width, problem.depth, activation=problem.activation,
                    parameterization=problem.parameterization, sigma_b=problem.bias, seed=problem.seed)
        with torch.no_grad():
            f0_train, f0_eval = model(x_train)[:, 0].numpy(), model(x_eval)[:, 0].numpy()
        k_train = empirical_ntk(model, x_train)
        k_eval_train = empirical_ntk(model, x_eval, x_train)
        spectrum0 = np.linalg.eigvalsh(k_train.numpy())[::-1].copy()
        return cls(problem, t_train, data.t_eval.numpy(), x_train, _tensor(y_train), x_eval, data.y_eval.numpy(),
                   model, k_train, k_eval_train, f0_train, f0_eval, spectrum0)

    @classmethod
    def build_digits(cls, problem: Problem) -> "LazySetup":
        data = make_dataset("digits", n_train=problem.n, n_eval=N_EVAL_DIGITS, classes=problem.classes, seed=0)
        model = MLP(data.in_dim, problem.width, problem.depth, out_dim=data.out_dim, activation=problem.activation,
                    parameterization=problem.parameterization, sigma_b=problem.bias, seed=problem.seed)
        with torch.no_grad():
            f0_train, f0_eval = model(data.x_train), model(data.x_eval)
        if data.out_dim == 1:
            f0_train, f0_eval = f0_train[:, 0], f0_eval[:, 0]
        k_train = empirical_ntk(model, data.x_train)
        k_eval_train = empirical_ntk(model, data.x_eval, data.x_train)
        spectrum0 = np.linalg.eigvalsh(kernel_matrix(k_train)[0].numpy())[::-1].copy()
        return cls(problem, np.arange(len(data.y_train), dtype=np.float64),
                   np.arange(len(data.y_eval), dtype=np.float64), data.x_train, data.y_train, data.x_eval,
                   data.y_eval.numpy(), model, k_train, k_eval_train, f0_train.numpy(), f0_eval.numpy(), spectrum0,
                   data)

    @property
    def k_matrix(self) -> torch.Tensor:
        """Θ_0 on the training set as one (N·O, N·O) matrix (``ntk_explorer.dynamics.kernel_matrix``)."""
        return kernel_matrix(self.k_train)[0]

    def rates(self):
        return critical_learning_rates(self.k_train)

    def closed_form(self, lr: float, steps: int):
        """f^lin on the eval grid after ``steps`` GD steps at rate lr (Y. Chen, "Linearized Networks", eq. (19),
        discrete GD), or None when lr ≥ 2N/λ_max (it grows without bound: the panel shows a message instead)."""
        if lr >= self.rates().diverge:
            return None
        predict = gd_mse_predictor(self.k_train, self.y_train.numpy(), lr)
        return predict(steps, self.f0_train, self.f0_eval, self.k_eval_train)[1]

    def stream(self, lr: float, steps: int, alpha: float, stop):
        """``train_stream`` of this network and data (a TrainingStream of Snapshots)."""
        record_every, kernel_every = recording(steps)
        return train_stream(self.model, self.x_train, self.y_train, lr=lr, steps=steps, x_eval=self.x_eval,
                            record_every=record_every, kernel_every=kernel_every, stop=stop, output_scale=alpha)


@dataclass
class History:
    """The recorded scalar series of a run, appended snapshot by snapshot, and the latest Θ_t spectrum (with
    the step it belongs to)."""
    names = ("step", "loss", "loss_lin", "discrepancy", "kernel_drift", "param_distance")
    series: dict = field(default_factory=lambda: {name: [] for name in History.names})
    spectrum: Optional[np.ndarray] = None
    spectrum_step: int = -1

    def append(self, snapshot) -> None:
        for name in self.names:
            self.series[name].append(getattr(snapshot, name))
        if snapshot.ntk_eigenvalues is not None:
            self.spectrum, self.spectrum_step = snapshot.ntk_eigenvalues, int(snapshot.step)

    def record(self, name: str, value: float) -> None:
        """Appends ``value`` to a series of its own (e.g. the test accuracy of f on the digits)."""
        self.series.setdefault(name, []).append(value)

    def arrays(self) -> dict:
        return {name: np.asarray(values, dtype=np.float64) for name, values in self.series.items()}

    def __len__(self):
        return len(self.series["step"])
