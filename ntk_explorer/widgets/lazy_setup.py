"""The computation behind the lazy-training panel (runs in the worker thread; all mathematics is the core's).

``LazySetup`` builds the data (``ntk_explorer.data.make_dataset``), the network (``ntk_explorer.models.MLP``), its
empirical NTK at initialisation (``ntk_explorer.kernels.empirical_ntk``), the critical learning rates and the
closed-form predictor of f^lin (``ntk_explorer.closed_form``, seed 001 eqs. 9, 15, 19; seed 002).  Training is
``ntk_explorer.dynamics.train_stream`` (seed 000 Theorem 2.1 quantities recorded as it runs).
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np
import torch

from ..dynamics import critical_learning_rates, gd_mse_predictor
from ..data import make_dataset, parse_target
from ..dynamics import train_stream
from ..kernels import empirical_ntk
from ..models import MLP

__all__ = ["LazySetup", "TracedMLP", "trained_copy", "setup_key", "N_EVAL", "recording"]

N_EVAL = 128
_TRAINED = weakref.WeakKeyDictionary()


class TracedMLP(MLP):
    """An MLP that remembers the copy ``train_stream`` trains (it trains ``model.clone()``), so the panel can
    compute Θ_t of the network being trained.  The copy is kept in a module-level weak registry (not an
    attribute: an nn.Module attribute would become a submodule and be cloned along)."""

    def clone(self):
        twin = super().clone()
        _TRAINED[self] = twin
        return twin


def trained_copy(model):
    return _TRAINED.get(model)


def recording(steps: int):
    """(record_every, kernel_every): about 150 recorded snapshots and 30 kernel-drift points per run."""
    record_every = max(1, steps // 150)
    return record_every, record_every * 5


def setup_key(cfg: dict, points) -> tuple:
    names = ("width", "depth", "activation", "parameterization", "bias", "seed", "target", "n", "noise", "radius")
    return tuple(cfg[k] for k in names) + (None if points is None else tuple(points),)


def _tensor(a):
    return torch.as_tensor(np.asarray(a, dtype=np.float64), dtype=torch.float64)


@dataclass(eq=False)
class LazySetup:
    """Data, network and kernels of one configuration (everything but lr, steps and α)."""
    t_train: np.ndarray
    t_eval: np.ndarray
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_eval: torch.Tensor
    y_eval: np.ndarray
    model: TracedMLP
    k_train: torch.Tensor
    k_eval_train: torch.Tensor
    f0_train: np.ndarray
    f0_eval: np.ndarray
    spectrum0: np.ndarray

    @classmethod
    def build(cls, cfg: dict, points=None) -> "LazySetup":
        """cfg: the panel's config; points: None for the preset grid of cfg["n"] angles, else a list of
        training angles (added by clicking on the plot)."""
        target = parse_target(cfg["target"])  # raises ValueError with the reason for a bad expression
        data = make_dataset("circle", n_train=cfg["n"], n_eval=N_EVAL, target=target, noise=cfg["noise"], seed=0)
        t_eval = data.t_eval.numpy()
        if points is None:
            t_train, y_train = data.t_train.numpy(), data.y_train.numpy()
        else:
            t_train = np.sort(np.asarray(points, dtype=np.float64))
            if len(t_train) == 0:
                raise ValueError("there are no training points: click on the target curve to add some")
            x_points = np.stack([np.cos(t_train), np.sin(t_train)], axis=1)
            y_train = target(x_points) + cfg["noise"] * np.random.default_rng(2).standard_normal(len(t_train))
        radius = cfg["radius"]
        x_train = radius * _tensor(np.stack([np.cos(t_train), np.sin(t_train)], axis=1))
        x_eval = radius * data.x_eval
        model = TracedMLP(2, cfg["width"], cfg["depth"], activation=cfg["activation"],
                          parameterization=cfg["parameterization"], sigma_b=cfg["bias"], seed=cfg["seed"])
        with torch.no_grad():
            f0_train, f0_eval = model(x_train)[:, 0].numpy(), model(x_eval)[:, 0].numpy()
        k_train = empirical_ntk(model, x_train)
        k_eval_train = empirical_ntk(model, x_eval, x_train)
        spectrum0 = np.linalg.eigvalsh(k_train.numpy())[::-1].copy()
        return cls(t_train, t_eval, x_train, _tensor(y_train), x_eval, data.y_eval.numpy(), model, k_train,
                   k_eval_train, f0_train, f0_eval, spectrum0)

    def rates(self):
        return critical_learning_rates(self.k_train)

    def closed_form(self, lr: float, steps: int):
        """f^lin on the eval grid after ``steps`` GD steps at rate lr (seed 001 eq. 19, discrete GD), or None
        when lr ≥ 2N/λ_max (it grows without bound: the panel shows a message instead)."""
        if lr >= self.rates().diverge:
            return None
        predict = gd_mse_predictor(self.k_train, self.y_train.numpy(), lr)
        return predict(steps, self.f0_train, self.f0_eval, self.k_eval_train)[1]

    def theta_spectrum(self):
        """Eigenvalues (descending) of the empirical NTK of the network being trained, on the training set."""
        twin = trained_copy(self.model)
        if twin is None:
            return None
        with torch.no_grad():
            return np.linalg.eigvalsh(empirical_ntk(twin, self.x_train).numpy())[::-1].copy()

    def stream(self, lr: float, steps: int, alpha: float, stop):
        record_every, kernel_every = recording(steps)
        return train_stream(self.model, self.x_train, self.y_train, lr=lr, steps=steps, x_eval=self.x_eval,
                            record_every=record_every, kernel_every=kernel_every, stop=stop, output_scale=alpha)


class History:
    """The recorded scalar series of a run (appended snapshot by snapshot)."""
    names = ("step", "loss", "loss_lin", "discrepancy", "kernel_drift", "param_distance")

    def __init__(self):
        self.series = {name: [] for name in self.names}

    def append(self, snapshot) -> None:
        for name in self.names:
            self.series[name].append(getattr(snapshot, name))

    def arrays(self) -> dict:
        return {name: np.asarray(values, dtype=np.float64) for name, values in self.series.items()}

    def __len__(self):
        return len(self.series["step"])


def preview_state(setup: LazySetup, flin_closed, cfg: dict) -> dict:
    """The frame before training: f = f^lin = f_0, the closed-form f^lin at the final step."""
    return dict(setup=setup, step=0, f=setup.f0_eval, flin=setup.f0_eval, flin_closed=flin_closed,
                history=History().arrays(), spectrum_t=None, steps=cfg["steps"])


def snapshot_state(setup: LazySetup, snapshot, history: History, flin_closed, cfg: dict, exact: bool) -> dict:
    """A frame during training; ``exact``: Θ_t is evaluated at the snapshot's parameters (the final frame) rather
    than at the parameters the stream holds while paused (one GD step later)."""
    return dict(setup=setup, step=int(snapshot.step), f=snapshot.f_eval, flin=snapshot.flin_eval,
                flin_closed=flin_closed, history=history.arrays(), spectrum_t=setup.theta_spectrum(),
                steps=cfg["steps"], exact=exact)

