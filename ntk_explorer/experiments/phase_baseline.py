"""The lazy baseline of a phase diagram: the linearized network of a cell trained for any number of steps, t = ∞
included, from its closed form.

Every cell of :func:`ntk_explorer.lazy_rich_phase` trains h = f_0 + α(f − f_0) next to its linearization h^lin,
which does not depend on α (Chizat, Oyallon & Bach 2019, §2: the tangent kernel of h is α²Θ_0 and the rate is
lr/α²).  Under MSE h^lin after t GD steps has the closed form f_t − Y = (I − lr Θ_0/N)^t (f_0 − Y) on the training
points, carried to any input by Θ_0(x, X) (Lee et al. 2019; Y. Chen, "Linearized Networks", eqs. (15), (19));
t = ∞ is kernel regression with the empirical NTK started from f_0.  :func:`lazy_baseline` evaluates it on a
diagram's test points for the network of a given width, so that a rich network can be compared with the lazy
predictor trained to convergence, not only after the diagram's step budget.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch

from ..dynamics import gd_mse_predictor
from ..dynamics.losses import Loss
from ..kernels import empirical_ntk
from ..models import MLP
from .config import ExperimentConfig
from .phase import classification_accuracy

__all__ = ["LazyBaseline", "lazy_baseline"]


class LazyBaseline(NamedTuple):
    """h^lin of the diagram's width-``width`` networks after ``steps`` GD steps (math.inf: converged): test loss
    and test accuracy, each the mean over the diagram's seeds (accuracy NaN for regression data)."""
    width: int
    steps: float
    test_loss: float
    test_accuracy: float


def _dataset(settings):
    if settings.dataset not in ("digits", "circle"):
        raise ValueError(f"the diagram was trained on {settings.dataset}; its data can be rebuilt from the settings "
                         f"only for 'digits' and 'circle'")
    if settings.loss != "mse":
        raise ValueError(f"the closed form of h^lin holds for the MSE loss, the diagram used {settings.loss!r}")
    data_keys = dict(domain=settings.dataset, n_train=settings.n_train, n_eval=settings.n_eval,
                     data_seed=settings.data_seed, device=settings.device)
    if settings.dataset == "digits":
        data_keys["classes"] = settings.classes
    elif settings.target is not None:
        data_keys["target"] = settings.target
    return ExperimentConfig(**data_keys).dataset()


def lazy_baseline(diagram, width: int, steps=math.inf) -> LazyBaseline:
    """The test loss and accuracy of h^lin for the cells of width ``width`` of ``diagram`` (a
    :class:`~ntk_explorer.experiments.PhaseDiagram` of the digits or of the circle without label noise, MSE loss) after ``steps`` GD
    steps at the diagram's rate (math.inf: trained to convergence), from the closed form (module docstring),
    averaged over the diagram's seeds.  At ``steps = diagram.settings.steps`` it reproduces the diagram's
    ``test_loss_lin`` and ``test_accuracy_lin``."""
    s = diagram.settings
    if int(width) not in [int(w) for w in diagram.widths]:
        raise ValueError(f"width {width} is not in the diagram's widths {[int(w) for w in diagram.widths]}")
    data = _dataset(s)
    loss = Loss("mse", data.out_dim)
    y_eval = loss.targets(data.y_eval, len(data.y_eval))
    losses, accuracies = [], []
    for seed in s.seeds:
        model = MLP(data.in_dim, int(width), s.depth, out_dim=data.out_dim, activation=s.activation,
                    parameterization=s.parameterization, sigma_w=s.sigma_w, sigma_b=s.sigma_b, seed=seed,
                    dtype=data.x_train.dtype, device=data.x_train.device)
        theta, theta_eval = empirical_ntk(model, data.x_train), empirical_ntk(model, data.x_eval, data.x_train)
        with torch.no_grad():
            f0_train, f0_eval = model(data.x_train), model(data.x_eval)
        if data.out_dim == 1:
            f0_train, f0_eval = f0_train[:, 0], f0_eval[:, 0]
        predict = gd_mse_predictor(theta, data.y_train, s.lr * model.lr_scale)
        f_eval = predict(steps, f0_train, f0_eval, theta_eval)[1]
        f = f_eval.reshape(len(f_eval), data.out_dim)
        losses.append(float(loss.value(f, y_eval)))
        accuracies.append(classification_accuracy(f_eval, data.y_eval) if data.is_classification else math.nan)
    return LazyBaseline(int(width), float(steps), float(np.mean(losses)), float(np.mean(accuracies)))
