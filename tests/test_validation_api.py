"""Input validation of the public API (issue 8): malformed input is rejected with ValueError or TypeError whose
message names the offending argument.

One table row per (callable, arguments, exception, argument-name regex): wrong shapes, wrong dtypes, NaN and
inf, out-of-range hyper-parameters and wrong types, for every public function of ``ntk_explorer``,
``ntk_explorer.data`` and ``ntk_explorer.spectra``.  Every row must also fail fast (before any training).
"""
import math
import re
import time

import numpy as np
import pytest
import torch

import ntk_explorer as nx
from ntk_explorer import data, spectra

NAN, INF = math.nan, math.inf


@pytest.fixture(scope="module")
def ctx():
    """Small valid inputs that each row corrupts in one place."""
    model = nx.MLP(2, 8, 1, seed=0, device="cpu")
    t = torch.linspace(0, 2 * math.pi, 6, dtype=torch.float64)[:-1]
    x = torch.stack([torch.cos(t), torch.sin(t)], 1)
    y = torch.sin(3 * t)
    k = nx.empirical_ntk(model, x)
    domain = spectra.circle(8)
    K = domain.analytic_kernel(depth=1)
    target = torch.cos(domain.theta)
    predict = nx.gd_mse_predictor(k, y, 0.5)
    small = dict(width=8, depth=1, n_train=4, n_eval=6, steps=2, record_every=1, kernel_every=None, device="cpu")
    return dict(model=model, x=x, y=y, k=k, domain=domain, K=K, target=target, predict=predict, small=small,
                evals=np.array([1.0, 0.5, 0.25, 0.1]))


def _with_nan(x):
    x = x.clone()
    x.view(-1)[0] = NAN
    return x


def _with_nan_lazy():
    """A (5, 2) float64 input with one NaN (the train rows' x has 5 points)."""
    x = torch.zeros(5, 2, dtype=torch.float64)
    x[2, 1] = NAN
    return x


def _train_args(c, **overrides):
    return {"model": c["model"], "x_train": c["x"], "y_train": c["y"], "lr": 0.5, "steps": 3, **overrides}


def _sweep_values(widths, seeds):
    return {m: np.ones((widths, seeds)) for m in ("discrepancy", "kernel_drift", "param_distance")}


def _config(c, **overrides):
    return nx.ExperimentConfig(**{**c["small"], **overrides})


# Each row: (id, call(ctx) -> None, exception type(s), regex that the message must match: the argument's name).
CASES = [
    # ------------------------------------------------------------------------------------------- MLP
    ("MLP width 0", lambda c: nx.MLP(2, 0, 1), ValueError, "width"),
    ("MLP scaled_lr 0", lambda c: nx.MLP(2, 8, 1).scaled_lr(0.0), ValueError, "base_lr"),
    ("MLP scaled_lr str", lambda c: nx.MLP(2, 8, 1).scaled_lr("fast"), TypeError, "base_lr"),
    ("MLP width float", lambda c: nx.MLP(2, 8.5, 1), TypeError, "width"),
    ("MLP width bool", lambda c: nx.MLP(2, True, 1), TypeError, "width"),
    ("MLP depth -1", lambda c: nx.MLP(2, 8, -1), ValueError, "depth"),
    ("MLP in_dim 0", lambda c: nx.MLP(0, 8, 1), ValueError, "in_dim"),
    ("MLP out_dim 0", lambda c: nx.MLP(2, 8, 1, out_dim=0), ValueError, "out_dim"),
    ("MLP activation", lambda c: nx.MLP(2, 8, 1, activation="sigmoid"), ValueError, "activation"),
    ("MLP parameterization", lambda c: nx.MLP(2, 8, 1, parameterization="xavier"), ValueError, "parameterization"),
    ("MLP sigma_w nan", lambda c: nx.MLP(2, 8, 1, sigma_w=NAN), ValueError, "sigma_w"),
    ("MLP sigma_w negative", lambda c: nx.MLP(2, 8, 1, sigma_w=-1.0), ValueError, "sigma_w"),
    ("MLP sigma_w str", lambda c: nx.MLP(2, 8, 1, sigma_w="1"), TypeError, "sigma_w"),
    ("MLP sigma_b inf", lambda c: nx.MLP(2, 8, 1, sigma_b=INF), ValueError, "sigma_b"),
    ("MLP seed str", lambda c: nx.MLP(2, 8, 1, seed="0"), TypeError, "seed"),
    ("MLP seed float", lambda c: nx.MLP(2, 8, 1, seed=1.5), TypeError, "seed"),
    ("MLP dtype int", lambda c: nx.MLP(2, 8, 1, dtype=torch.int64), ValueError, "dtype"),
    ("MLP dtype str", lambda c: nx.MLP(2, 8, 1, dtype="float64"), ValueError, "dtype"),
    ("MLP device", lambda c: nx.MLP(2, 8, 1, device="banana"), ValueError, "device"),
    ("MLPConfig width", lambda c: nx.MLPConfig(in_dim=2, width=-3, depth=1), ValueError, "width"),
    ("MLP forward shape", lambda c: c["model"](torch.zeros(4, 3, dtype=torch.float64)), ValueError, "x"),
    # ---------------------------------------------------------------------------------- empirical_ntk
    ("empirical_ntk model", lambda c: nx.empirical_ntk("mlp", c["x"]), TypeError, "model"),
    ("empirical_ntk x1 1-D", lambda c: nx.empirical_ntk(c["model"], c["x"][:, 0]), ValueError, "x1"),
    ("empirical_ntk x1 columns", lambda c: nx.empirical_ntk(c["model"], torch.zeros(4, 3, dtype=torch.float64)),
     ValueError, "x1"),
    ("empirical_ntk x1 nan", lambda c: nx.empirical_ntk(c["model"], _with_nan(c["x"])), ValueError, "x1"),
    ("empirical_ntk x1 inf", lambda c: nx.empirical_ntk(c["model"], c["x"] * INF), ValueError, "x1"),
    ("empirical_ntk x1 int", lambda c: nx.empirical_ntk(c["model"], torch.ones(4, 2, dtype=torch.int64)),
     ValueError, "x1"),
    ("empirical_ntk x1 float32", lambda c: nx.empirical_ntk(c["model"], c["x"].float()), ValueError, "x1"),
    ("empirical_ntk x1 empty", lambda c: nx.empirical_ntk(c["model"], c["x"][:0]), ValueError, "x1"),
    ("empirical_ntk x1 str", lambda c: nx.empirical_ntk(c["model"], "points"), TypeError, "x1"),
    ("empirical_ntk x2 nan", lambda c: nx.empirical_ntk(c["model"], c["x"], _with_nan(c["x"])), ValueError, "x2"),
    ("empirical_ntk x2 columns", lambda c: nx.empirical_ntk(c["model"], c["x"], torch.zeros(3, 1, dtype=torch.float64)),
     ValueError, "x2"),
    ("empirical_ntk method", lambda c: nx.empirical_ntk(c["model"], c["x"], method="fast"), ValueError, "method"),
    ("empirical_ntk pseudo", lambda c: nx.empirical_ntk(c["model"], c["x"], pseudo="yes"), TypeError, "pseudo"),
    ("empirical_ntk memory_budget", lambda c: nx.empirical_ntk(c["model"], c["x"], memory_budget=-1), ValueError,
     "memory_budget"),
    ("empirical_ntk memory_budget nan", lambda c: nx.empirical_ntk(c["model"], c["x"], memory_budget=NAN), ValueError,
     "memory_budget"),
    # ------------------------------------------------------------------------------- analytic_kernels
    ("analytic_kernels x1 nan", lambda c: nx.analytic_kernels(_with_nan(c["x"]), depth=1), ValueError, "x1"),
    ("analytic_kernels x1 1-D", lambda c: nx.analytic_kernels(c["x"][:, 0], depth=1), ValueError, "x1"),
    ("analytic_kernels x1 str", lambda c: nx.analytic_kernels("x", depth=1), TypeError, "x1"),
    ("analytic_kernels x2 columns", lambda c: nx.analytic_kernels(c["x"], torch.zeros(2, 3, dtype=torch.float64),
                                                          depth=1), ValueError, "x2"),
    ("analytic_kernels x2 inf", lambda c: nx.analytic_kernels(c["x"], c["x"] * INF, depth=1), ValueError, "x2"),
    ("analytic_kernels depth -1", lambda c: nx.analytic_kernels(c["x"], depth=-1), ValueError, "depth"),
    ("analytic_kernels depth float", lambda c: nx.analytic_kernels(c["x"], depth=1.5), TypeError, "depth"),
    ("analytic_kernels depth missing", lambda c: nx.analytic_kernels(c["x"]), TypeError, "depth"),
    ("analytic_kernels activation", lambda c: nx.analytic_kernels(c["x"], depth=1, activation="swish"), ValueError,
     "activation"),
    ("analytic_kernels sigma_w", lambda c: nx.analytic_kernels(c["x"], depth=1, sigma_w=-2.0), ValueError, "sigma_w"),
    ("analytic_kernels sigma_b nan", lambda c: nx.analytic_kernels(c["x"], depth=1, sigma_b=NAN),
     ValueError, "sigma_b"),
    ("analytic_kernels method", lambda c: nx.analytic_kernels(c["x"], depth=1, method="exact"), ValueError, "method"),
    ("analytic_kernels quadrature_points", lambda c: nx.analytic_kernels(c["x"], depth=1, quadrature_points=1),
     ValueError, "quadrature_points"),
    # ------------------------------------------------------------------------------------- linearize
    ("linearize model", lambda c: nx.linearize(lambda x: x), TypeError, "model"),
    # -------------------------------------------------------------------------------- train / stream
    *[(f"{name} {label}", (lambda fn: lambda c, kw=kw: fn(**_train_args(c, **kw)))(fn), error, regex)
      for name, fn in (("train", nx.train), ("train_stream", nx.train_stream))
      for label, kw, error, regex in [
          ("model", dict(model="mlp"), TypeError, "model"),
          ("lr 0", dict(lr=0.0), ValueError, "lr"),
          ("lr negative", dict(lr=-0.1), ValueError, "lr"),
          ("lr nan", dict(lr=NAN), ValueError, "lr"),
          ("lr inf", dict(lr=INF), ValueError, "lr"),
          ("lr str", dict(lr="0.1"), (ValueError, TypeError), "lr"),
          ("steps -1", dict(steps=-1), ValueError, "steps"),
          ("steps float", dict(steps=2.5), (ValueError, TypeError), "steps"),
          ("steps None", dict(steps=None), (ValueError, TypeError), "steps"),
          ("record_every 0", dict(record_every=0), ValueError, "record_every"),
          ("kernel_every 0", dict(kernel_every=0), ValueError, "kernel_every"),
          ("kernel_every multiple", dict(record_every=2, kernel_every=3), ValueError, "kernel_every"),
          ("x_train nan", dict(x_train=_with_nan_lazy()), ValueError, "x_train"),
          ("x_train 1-D", dict(x_train=torch.zeros(5, dtype=torch.float64)), ValueError, "x_train"),
          ("x_train columns", dict(x_train=torch.zeros(5, 3, dtype=torch.float64)), ValueError, "x_train"),
          ("x_train int", dict(x_train=torch.zeros(5, 2, dtype=torch.int64)), ValueError, "x_train"),
          ("y_train nan", dict(y_train=torch.tensor([0.0, NAN, 0, 0, 0], dtype=torch.float64)), ValueError,
           "y_train"),
          ("y_train rows", dict(y_train=torch.zeros(4, dtype=torch.float64)), ValueError, "y_train"),
          ("y_train 3-D", dict(y_train=torch.zeros(5, 1, 1, dtype=torch.float64)), ValueError, "y_train"),
          ("y_train str", dict(y_train=["a"] * 5), (ValueError, TypeError), "y_train"),
          ("x_eval nan", dict(x_eval=_with_nan_lazy()), ValueError, "x_eval"),
          ("x_eval columns", dict(x_eval=torch.zeros(3, 5, dtype=torch.float64)), ValueError, "x_eval"),
          ("loss", dict(loss="l1"), ValueError, "loss"),
          ("linearization", dict(linearization="taylor"), ValueError, "linearization"),
          ("stop", dict(stop=5), TypeError, "stop"),
          ("output_scale 0", dict(output_scale=0.0), ValueError, "output_scale"),
          ("output_scale nan", dict(output_scale=NAN), ValueError, "output_scale"),
      ]],
    # ------------------------------------------------------------------------------------ closed forms
    ("critical_learning_rates k nan", lambda c: nx.critical_learning_rates(_with_nan(c["k"])),
     ValueError, "k_train_train"),
    ("critical_learning_rates k 1-D", lambda c: nx.critical_learning_rates(c["k"][0]), ValueError, "k_train_train"),
    ("critical_learning_rates k not square", lambda c: nx.critical_learning_rates(c["k"][:, :3]),
     ValueError, "k_train_train"),
    ("critical_learning_rates k str", lambda c: nx.critical_learning_rates("K"), TypeError, "k_train_train"),
    ("gd_mse_predictor lr 0", lambda c: nx.gd_mse_predictor(c["k"], c["y"], 0.0), ValueError, "lr"),
    ("gd_mse_predictor lr nan", lambda c: nx.gd_mse_predictor(c["k"], c["y"], NAN), ValueError, "lr"),
    ("gd_mse_predictor k inf", lambda c: nx.gd_mse_predictor(c["k"] * INF, c["y"], 0.5), ValueError, "k_train_train"),
    ("gd_mse_predictor y_train shape", lambda c: nx.gd_mse_predictor(c["k"], c["y"][:3], 0.5), ValueError, "y_train"),
    ("gd_mse_predictor y_train nan", lambda c: nx.gd_mse_predictor(c["k"], _with_nan(c["y"]), 0.5), ValueError,
     "y_train"),
    ("gd_mse_predictor flow", lambda c: nx.gd_mse_predictor(c["k"], c["y"], 0.5, flow="yes"), TypeError, "flow"),
    ("gd_mse_predictor predict t negative", lambda c: c["predict"](-1, c["y"]), ValueError, r"\bt\b"),
    ("gd_mse_predictor predict t nan", lambda c: c["predict"](NAN, c["y"]), ValueError, r"\bt\b"),
    ("gd_mse_predictor predict t fraction", lambda c: c["predict"](2.5, c["y"]), ValueError, r"\bt\b"),
    ("gd_mse_predictor predict t str", lambda c: c["predict"]("many", c["y"]), (ValueError, TypeError), r"\bt\b"),
    ("gd_mse_predictor predict f0_train nan", lambda c: c["predict"](3, _with_nan(c["y"])), ValueError, "f0_train"),
    ("gd_mse_predictor predict f0_train shape", lambda c: c["predict"](3, c["y"][:2]), ValueError, "f0_train"),
    ("gd_mse_predictor predict f0_eval alone", lambda c: c["predict"](3, c["y"], c["y"]), ValueError, "k_eval_train"),
    ("gd_mse_predictor predict f0_eval nan", lambda c: c["predict"](3, c["y"], _with_nan(c["y"]), c["k"]),
     ValueError, "f0_eval"),
    # ----------------------------------------------------------------------------------- experiments
    ("ExperimentConfig width", lambda c: nx.ExperimentConfig(width=0), ValueError, "width"),
    ("ExperimentConfig depth", lambda c: nx.ExperimentConfig(depth=-1), ValueError, "depth"),
    ("ExperimentConfig lr", lambda c: nx.ExperimentConfig(lr=-1.0), ValueError, "lr"),
    ("ExperimentConfig lr nan", lambda c: nx.ExperimentConfig(lr=NAN), ValueError, "lr"),
    ("ExperimentConfig steps", lambda c: nx.ExperimentConfig(steps=-5), ValueError, "steps"),
    ("ExperimentConfig n_train", lambda c: nx.ExperimentConfig(n_train=0), ValueError, "n_train"),
    ("ExperimentConfig n_eval", lambda c: nx.ExperimentConfig(n_eval=1.5), (ValueError, TypeError), "n_eval"),
    ("ExperimentConfig noise", lambda c: nx.ExperimentConfig(noise=-0.1), ValueError, "noise"),
    ("ExperimentConfig record_every", lambda c: nx.ExperimentConfig(record_every=0), ValueError, "record_every"),
    ("ExperimentConfig kernel_every", lambda c: nx.ExperimentConfig(kernel_every=0), ValueError, "kernel_every"),
    ("ExperimentConfig output_scale", lambda c: nx.ExperimentConfig(output_scale=INF), ValueError, "output_scale"),
    ("ExperimentConfig data_seed", lambda c: nx.ExperimentConfig(data_seed="0"), TypeError, "data_seed"),
    ("ExperimentConfig loss", lambda c: nx.ExperimentConfig(loss="l2"), ValueError, "loss"),
    ("ExperimentConfig domain", lambda c: nx.ExperimentConfig(domain="torus"), ValueError, "domain"),
    ("ExperimentConfig activation", lambda c: nx.ExperimentConfig(activation="swish"), ValueError, "activation"),
    ("ExperimentConfig sigma_w", lambda c: nx.ExperimentConfig(sigma_w=NAN), ValueError, "sigma_w"),
    ("ExperimentConfig target", lambda c: nx.ExperimentConfig(target=3), TypeError, "target"),
    ("lazy_rich_phase scales", lambda c: nx.lazy_rich_phase([8], [-1.0]), ValueError, "scales"),
    ("lazy_rich_phase steps", lambda c: nx.lazy_rich_phase([8], [1.0], steps=-1), ValueError, "steps"),
    ("lazy_rich_phase_stream widths", lambda c: nx.lazy_rich_phase_stream([0], [1.0]), ValueError, "widths"),
    ("lazy_rich_phase_stream stop", lambda c: nx.lazy_rich_phase_stream([8], [1.0], stop="x"), TypeError, "stop"),
    ("width_sweep widths empty", lambda c: nx.width_sweep([], 1, **c["small"]), ValueError, "widths"),
    ("width_sweep widths 0", lambda c: nx.width_sweep([0, 8], 1, **c["small"]), ValueError, "widths"),
    ("width_sweep widths str", lambda c: nx.width_sweep(["a"], 1, **c["small"]), (ValueError, TypeError), "widths"),
    ("width_sweep widths float", lambda c: nx.width_sweep([8.5], 1, **c["small"]), (ValueError, TypeError), "widths"),
    ("width_sweep widths nan", lambda c: nx.width_sweep([NAN], 1, **c["small"]), (ValueError, TypeError), "widths"),
    ("width_sweep widths int", lambda c: nx.width_sweep(8, 1, **c["small"]), TypeError, "widths"),
    ("width_sweep seeds 0", lambda c: nx.width_sweep([8], 0, **c["small"]), ValueError, "seeds"),
    ("width_sweep seeds float", lambda c: nx.width_sweep([8], 2.5, **c["small"]), TypeError, "seeds"),
    ("width_sweep seeds str", lambda c: nx.width_sweep([8], "ab", **c["small"]), TypeError, "seeds"),
    ("width_sweep seeds bool", lambda c: nx.width_sweep([8], True, **c["small"]), TypeError, "seeds"),
    ("width_sweep lr", lambda c: nx.width_sweep([8], 1, **{**c["small"], "lr": 0.0}), ValueError, "lr"),
    ("width_sweep steps", lambda c: nx.width_sweep([8], 1, **{**c["small"], "steps": -1}), ValueError, "steps"),
    ("width_sweep unknown key", lambda c: nx.width_sweep([8], 1, **c["small"], rate=0.1), TypeError, "rate"),
    ("width_sweep_stream widths 0", lambda c: nx.width_sweep_stream([0, 8], 1, **c["small"]), ValueError, "widths"),
    ("width_sweep_stream seeds str", lambda c: nx.width_sweep_stream([8], "ab", **c["small"]), TypeError, "seeds"),
    ("width_sweep_stream stop", lambda c: nx.width_sweep_stream([8], 1, stop=3, **c["small"]), TypeError, "stop"),
    ("width_sweep_stream unknown key", lambda c: nx.width_sweep_stream([8], 1, rate=0.1), TypeError, "rate"),
    ("summarize_sweep widths order", lambda c: nx.summarize_sweep([16, 8], 1, _sweep_values(2, 1)), ValueError,
     "widths"),
    ("summarize_sweep values shape", lambda c: nx.summarize_sweep([8, 16], 2, _sweep_values(2, 1)), ValueError,
     "values"),
    ("summarize_sweep values keys", lambda c: nx.summarize_sweep([8], 1, {"loss": [[1.0]]}), ValueError, "values"),
    ("summarize_runs runs", lambda c: nx.summarize_runs([8], 1, ["run"]), TypeError, "runs"),
    ("ensemble config", lambda c: nx.ensemble("config", 2), TypeError, "config"),
    ("ensemble seeds 0", lambda c: nx.ensemble(_config(c), 0), ValueError, "seeds"),
    ("ensemble seeds negative", lambda c: nx.ensemble(_config(c), [-1, 2]), ValueError, "seeds"),
    ("ensemble lr dict", lambda c: nx.ensemble({**c["small"], "lr": -1.0}, 2), ValueError, "lr"),
    ("ensemble steps dict", lambda c: nx.ensemble({**c["small"], "steps": -1}, 2), ValueError, "steps"),
    ("ensemble record_every", lambda c: nx.ensemble({**c["small"], "record_every": 0}, 2), ValueError,
     "record_every"),
    ("ensemble loss", lambda c: nx.ensemble(_config(c, loss="cross_entropy"), 2), ValueError, "loss"),
    ("gp_prediction x_train nan", lambda c: nx.gp_prediction(_with_nan(c["x"]), c["y"], c["x"], lr=0.5, depth=1),
     ValueError, "x_train"),
    ("gp_prediction x_train 1-D", lambda c: nx.gp_prediction(c["x"][:, 0], c["y"], c["x"], lr=0.5, depth=1), ValueError,
     "x_train"),
    ("gp_prediction x_eval inf", lambda c: nx.gp_prediction(c["x"], c["y"], c["x"] * INF, lr=0.5, depth=1), ValueError,
     "x_eval"),
    ("gp_prediction x_eval columns", lambda c: nx.gp_prediction(c["x"], c["y"], torch.zeros(3, 4, dtype=torch.float64),
                                                     lr=0.5, depth=1), ValueError, "x_eval"),
    ("gp_prediction y_train rows", lambda c: nx.gp_prediction(c["x"], c["y"][:2], c["x"], lr=0.5, depth=1), ValueError,
     "y_train"),
    ("gp_prediction y_train nan", lambda c: nx.gp_prediction(c["x"], _with_nan(c["y"]), c["x"], lr=0.5, depth=1),
     ValueError, "y_train"),
    ("gp_prediction lr", lambda c: nx.gp_prediction(c["x"], c["y"], c["x"], lr=-1.0, depth=1), ValueError, "lr"),
    ("gp_prediction t", lambda c: nx.gp_prediction(c["x"], c["y"], c["x"], lr=0.5, t=-3, depth=1),
     ValueError, r"\bt\b"),
    ("gp_prediction depth", lambda c: nx.gp_prediction(c["x"], c["y"], c["x"], lr=0.5, depth=-1), ValueError, "depth"),
    ("gp_prediction activation", lambda c: nx.gp_prediction(c["x"], c["y"], c["x"], lr=0.5, depth=1, activation="?"),
     ValueError, "activation"),
    ("gp_prediction flow", lambda c: nx.gp_prediction(c["x"], c["y"], c["x"], lr=0.5, depth=1, flow="no"),
     TypeError, "flow"),
    # ------------------------------------------------------------------------------------------ memory
    ("set_memory_budget", lambda c: nx.memory.set_memory_budget(-1), ValueError, "n_bytes"),
    ("set_memory_budget nan", lambda c: nx.memory.set_memory_budget(NAN), ValueError, "n_bytes"),
    # -------------------------------------------------------------------------------------------- data
    ("circle_points n 0", lambda c: data.circle_points(0), ValueError, r"\bn\b"),
    ("circle_points n float", lambda c: data.circle_points(2.5), (ValueError, TypeError), r"\bn\b"),
    ("circle_points sampling", lambda c: data.circle_points(5, sampling="sobol"), ValueError, "sampling"),
    ("circle_points seed str", lambda c: data.circle_points(5, sampling="random", seed="a"), TypeError, "seed"),
    ("circle_points seed negative", lambda c: data.circle_points(5, sampling="random", seed=-1), ValueError,
     "seed"),
    ("sphere_points dim", lambda c: data.sphere_points(5, 1), ValueError, "dim"),
    ("sphere_points n", lambda c: data.sphere_points(-5, 3), ValueError, r"\bn\b"),
    ("sphere_points seed", lambda c: data.sphere_points(5, 3, seed=1.5), TypeError, "seed"),
    ("hypercube_points dim", lambda c: data.hypercube_points(4, 0), ValueError, "dim"),
    ("hypercube_points dim huge", lambda c: data.hypercube_points(4, 64), ValueError, "dim"),
    ("hypercube_points n", lambda c: data.hypercube_points(17, 4), ValueError, r"\bn\b"),
    ("hypercube_points seed", lambda c: data.hypercube_points(4, 4, seed="x"), TypeError, "seed"),
    ("sine_target k str", lambda c: data.sine_target("3"), TypeError, r"\bk\b"),
    ("sine_target k nan", lambda c: data.sine_target(NAN), ValueError, r"\bk\b"),
    ("fourier_target empty", lambda c: data.fourier_target({}), ValueError, "modes"),
    ("fourier_target not a mapping", lambda c: data.fourier_target(5), TypeError, "modes"),
    ("fourier_target nan", lambda c: data.fourier_target({1: (NAN, 0.0)}), ValueError, "modes"),
    ("fourier_target pair", lambda c: data.fourier_target({1: 0.5}), (ValueError, TypeError), "modes"),
    ("step_target axis", lambda c: data.step_target(axis="x"), TypeError, "axis"),
    ("step_target threshold", lambda c: data.step_target(threshold=NAN), ValueError, "threshold"),
    ("walsh_target subset", lambda c: data.walsh_target([0, 2]), ValueError, "subset"),
    ("walsh_target subset int", lambda c: data.walsh_target(3), TypeError, "subset"),
    ("random_smooth_target lengthscale", lambda c: data.random_smooth_target(lengthscale=NAN),
     ValueError, "lengthscale"),
    ("random_smooth_target lengthscale inf", lambda c: data.random_smooth_target(lengthscale=INF), ValueError,
     "lengthscale"),
    ("random_smooth_target n_features", lambda c: data.random_smooth_target(n_features=0), ValueError, "n_features"),
    ("random_smooth_target seed", lambda c: data.random_smooth_target(seed="s"), TypeError, "seed"),
    ("parse_target type", lambda c: data.parse_target(3), TypeError, "expression"),
    ("parse_target empty", lambda c: data.parse_target("  "), ValueError, "expression"),
    ("train_eval_split n_train", lambda c: data.train_eval_split(np.zeros((5, 2)), np.zeros(5), 5), ValueError,
     "n_train"),
    ("train_eval_split y rows", lambda c: data.train_eval_split(np.zeros((5, 2)), np.zeros(4), 2), ValueError,
     r"\by\b"),
    ("train_eval_split seed", lambda c: data.train_eval_split(np.zeros((5, 2)), np.zeros(5), 2, seed=-2),
     ValueError, "seed"),
    ("add_label_noise std", lambda c: data.add_label_noise(np.zeros(3), -1.0), ValueError, "std"),
    ("add_label_noise std inf", lambda c: data.add_label_noise(np.zeros(3), INF), ValueError, "std"),
    ("add_label_noise std str", lambda c: data.add_label_noise(np.zeros(3), "1"), TypeError, "std"),
    ("add_label_noise seed", lambda c: data.add_label_noise(np.zeros(3), 0.1, seed=None), TypeError, "seed"),
    ("flip_labels probability", lambda c: data.flip_labels(np.ones(3), 1.5), ValueError, "probability"),
    ("flip_labels probability nan", lambda c: data.flip_labels(np.ones(3), NAN), ValueError, "probability"),
    ("make_dataset domain", lambda c: data.make_dataset("torus"), ValueError, "domain"),
    ("make_dataset classes", lambda c: data.make_dataset("digits", classes=(3, 11)), ValueError, "classes"),
    ("make_dataset digits target", lambda c: data.make_dataset("digits", target="t"), ValueError, "target"),
    ("digits_dataset classes", lambda c: data.digits_dataset(classes=(2,)), ValueError, "classes"),
    ("digits_dataset n_train", lambda c: data.digits_dataset(n_train=0), ValueError, "n_train"),
    ("digits_dataset n_eval", lambda c: data.digits_dataset(n_eval=2000), ValueError, "n_eval"),
    ("digits_dataset seed", lambda c: data.digits_dataset(seed=-1), ValueError, "seed"),
    ("check_classes type", lambda c: data.check_classes(3), TypeError, "classes"),
    ("predicted_labels one output, three classes", lambda c: data.predicted_labels(np.zeros(4), (1, 2, 3)),
     ValueError, "two classes"),
    ("predicted_labels shape", lambda c: data.predicted_labels(np.zeros((4, 2)), (1, 2, 3)), ValueError, "shape"),
    ("scale_digits mean", lambda c: data.scale_digits(np.zeros((2, 8, 8)), np.zeros(8)), ValueError, "mean"),
    ("load_digits argument", lambda c: data.load_digits(1), TypeError, "argument"),
    ("make_dataset n_train", lambda c: data.make_dataset(n_train=0), ValueError, "n_train"),
    ("make_dataset n_eval", lambda c: data.make_dataset(n_eval=-1), ValueError, "n_eval"),
    ("make_dataset noise", lambda c: data.make_dataset(noise=NAN), ValueError, "noise"),
    ("make_dataset flip", lambda c: data.make_dataset(classification=True, flip=2.0), ValueError, "flip"),
    ("make_dataset target", lambda c: data.make_dataset(target="import os"), ValueError, "target|parse"),
    ("make_dataset target type", lambda c: data.make_dataset(target=3), TypeError, "target"),
    ("make_dataset dim", lambda c: data.make_dataset("sphere", dim=1), ValueError, "dim"),
    ("make_dataset sampling", lambda c: data.make_dataset(sampling="x"), ValueError, "sampling"),
    ("make_dataset seed", lambda c: data.make_dataset(seed="0"), TypeError, "seed"),
    ("make_dataset dtype", lambda c: data.make_dataset(dtype=torch.int32), ValueError, "dtype"),
    ("make_dataset device", lambda c: data.make_dataset(device="banana"), ValueError, "device"),
    # ----------------------------------------------------------------------------------------- spectra
    ("circle M", lambda c: spectra.circle(1), ValueError, r"\bM\b"),
    ("circle M float", lambda c: spectra.circle(8.0), ValueError, r"\bM\b"),
    ("hypercube d", lambda c: spectra.hypercube(13), ValueError, r"\bd\b"),
    ("points x nan", lambda c: spectra.points(_with_nan(c["x"])), ValueError, r"\bx\b"),
    ("points x 1-D", lambda c: spectra.points(c["x"][:, 0]), ValueError, r"\bx\b"),
    ("points x int", lambda c: spectra.points(torch.ones(3, 2, dtype=torch.int64)), ValueError, r"\bx\b"),
    ("eigensystem K shape", lambda c: spectra.eigensystem(c["K"][:, :4], c["domain"]), ValueError, r"\bK\b"),
    ("eigensystem K nan", lambda c: spectra.eigensystem(_with_nan(c["K"]), c["domain"]), ValueError, r"\bK\b"),
    ("eigensystem K rows", lambda c: spectra.eigensystem(c["K"][:4, :4], c["domain"]), ValueError, r"\bK\b"),
    ("eigensystem domain", lambda c: spectra.eigensystem(c["K"], "circle"), TypeError, "domain"),
    ("solve_kappa eigenvalues nan", lambda c: spectra.solve_kappa([1.0, NAN], 1), ValueError, "eigenvalues"),
    ("solve_kappa eigenvalues negative", lambda c: spectra.solve_kappa([1.0, -1.0], 1), ValueError, "eigenvalues"),
    ("solve_kappa n", lambda c: spectra.solve_kappa(c["evals"], -1), ValueError, r"\bn\b"),
    ("solve_kappa n nan", lambda c: spectra.solve_kappa(c["evals"], NAN), ValueError, r"\bn\b"),
    ("solve_kappa n str", lambda c: spectra.solve_kappa(c["evals"], "two"), (ValueError, TypeError), r"\bn\b"),
    ("solve_kappa ridge", lambda c: spectra.solve_kappa(c["evals"], 2, ridge=-1.0), ValueError, "ridge"),
    ("solve_kappa ridge str", lambda c: spectra.solve_kappa(c["evals"], 2, ridge="a"), (ValueError, TypeError),
     "ridge"),
    ("solve_kappa multiplicities", lambda c: spectra.solve_kappa(c["evals"], 2, multiplicities=[1, 2]),
     ValueError, "multiplicities"),
    ("learnability n", lambda c: spectra.learnability(c["evals"], 9), ValueError, r"\bn\b"),
    ("learnability ridge nan", lambda c: spectra.learnability(c["evals"], 2, ridge=NAN), ValueError, "ridge"),
    ("predicted_mse coefficients", lambda c: spectra.predicted_mse(c["evals"], [1.0], 2), ValueError,
     "target_coefficients"),
    ("predicted_mse coefficients nan", lambda c: spectra.predicted_mse(c["evals"], [NAN, 0, 0, 0], 2), ValueError,
     "target_coefficients"),
    ("predicted_mse noise", lambda c: spectra.predicted_mse(c["evals"], [1.0, 0, 0, 0], 2, noise=-1.0),
     ValueError, "noise"),
    ("predicted_mse noise str", lambda c: spectra.predicted_mse(c["evals"], [1.0, 0, 0, 0], 2, noise="a"),
     (ValueError, TypeError), "noise"),
    ("kernel_regression train_idx", lambda c: spectra.kernel_regression(c["K"], [0, 99], [1.0, 2.0]), ValueError,
     "train_idx"),
    ("kernel_regression y_train", lambda c: spectra.kernel_regression(c["K"], [0, 1], [1.0]), ValueError,
     "y_train"),
    ("kernel_regression y_train nan", lambda c: spectra.kernel_regression(c["K"], [0, 1], [1.0, NAN]), ValueError,
     "y_train"),
    ("kernel_regression ridge", lambda c: spectra.kernel_regression(c["K"], [0, 1], [1.0, 2.0], ridge=-1.0),
     ValueError, "ridge"),
    ("kernel_regression K", lambda c: spectra.kernel_regression(c["K"][:3], [0, 1], [1.0, 2.0]), ValueError,
     r"\bK\b"),
    ("min_norm_interpolant features 1-D", lambda c: spectra.min_norm_interpolant(c["y"], c["y"]), ValueError,
     "features"),
    ("min_norm_interpolant y rows", lambda c: spectra.min_norm_interpolant(c["k"], c["y"][:3]), ValueError, r"\by\b"),
    ("min_norm_interpolant y nan", lambda c: spectra.min_norm_interpolant(c["k"], _with_nan(c["y"])), ValueError,
     r"\by\b"),
    ("interpolant_norm y size", lambda c: spectra.interpolant_norm(c["k"], c["y"][:3]), ValueError, r"\by\b"),
    ("interpolant_norm K not square", lambda c: spectra.interpolant_norm(c["k"][:3], c["y"]), ValueError,
     "k_train_train"),
    ("rkhs_norm coefficients", lambda c: spectra.rkhs_norm(c["evals"], [1.0, 2.0]), ValueError, "coefficients"),
    ("rkhs_norm eigenvalues negative", lambda c: spectra.rkhs_norm([1.0, -1.0], [1.0, 1.0]), ValueError,
     "eigenvalues"),
    ("ridge_filter ridge", lambda c: spectra.ridge_filter(c["evals"], -1.0), ValueError, "ridge"),
    ("ridge_filter ridge nan", lambda c: spectra.ridge_filter(c["evals"], NAN), ValueError, "ridge"),
    ("gd_filter lr", lambda c: spectra.gd_filter(c["evals"], 0.0, 10, 4), ValueError, r"\blr\b"),
    ("gd_filter steps", lambda c: spectra.gd_filter(c["evals"], 0.5, -1, 4), ValueError, "steps"),
    ("gd_filter n", lambda c: spectra.gd_filter(c["evals"], 0.5, 10, 0), ValueError, r"\bn\b"),
    ("learning_curve_draws noise", lambda c: spectra.learning_curve_draws(8, 2, 3, -1.0), ValueError, "noise"),
    ("learning_curve_draws n", lambda c: spectra.learning_curve_draws(8, 9, 3, 0.0), ValueError, r"\bn\b"),
    ("kernel_learning_curve trials", lambda c: spectra.kernel_learning_curve(c["K"], c["domain"], c["target"], [2],
                                                                              trials=1), ValueError, "trials"),
    ("kernel_learning_curve ridge", lambda c: spectra.kernel_learning_curve(c["K"], c["domain"], c["target"], [2],
                                                                             ridge=-1.0), ValueError, "ridge"),
    ("kernel_learning_curve domain", lambda c: spectra.kernel_learning_curve(c["K"], "circle", c["target"], [2]),
     TypeError, "domain"),
    ("d_learnability target", lambda c: spectra.d_learnability(c["K"], c["target"][:3], [0, 1]), ValueError,
     "target"),
    ("d_learnability target nan", lambda c: spectra.d_learnability(c["K"], _with_nan(c["target"]), [0, 1]),
     ValueError, "target"),
    ("d_learnability train_idx", lambda c: spectra.d_learnability(c["K"], c["target"], [1, 1]), ValueError,
     "train_idx"),
    ("transfer_matrix train_idx", lambda c: spectra.transfer_matrix(c["K"], c["domain"], [-1]), ValueError,
     "train_idx"),
    ("transfer_matrix ridge", lambda c: spectra.transfer_matrix(c["K"], c["domain"], [0], ridge=INF), ValueError,
     "ridge"),
    ("empirical_learnability n", lambda c: spectra.empirical_learnability(c["K"], c["domain"], c["target"], 0),
     ValueError, r"\bn\b"),
    ("empirical_learnability trials", lambda c: spectra.empirical_learnability(c["K"], c["domain"], c["target"], 2,
                                                                                trials=1), ValueError, "trials"),
    ("empirical_learnability seed", lambda c: spectra.empirical_learnability(c["K"], c["domain"], c["target"], 2,
                                                                              seed="a"), TypeError, "seed"),
    ("empirical_learnability domain", lambda c: spectra.empirical_learnability(c["K"], "circle", c["target"], 2),
     TypeError, "domain"),
    ("random_train_sets M", lambda c: spectra.random_train_sets("8", 2, 3), TypeError, r"\bM\b"),
    ("random_train_sets n", lambda c: spectra.random_train_sets(8, 9, 3), ValueError, r"\bn\b"),
    ("random_train_sets trials", lambda c: spectra.random_train_sets(8, 2, 2.5), ValueError, "trials"),
    ("random_train_sets seed", lambda c: spectra.random_train_sets(8, 2, 3, seed=-4), ValueError, "seed"),
    ("network_learnability domain", lambda c: spectra.network_learnability("circle", c["target"], 2, width=4),
     TypeError, "domain"),
    ("network_learnability width", lambda c: spectra.network_learnability(c["domain"], c["target"], 2, width=0),
     ValueError, "width"),
    ("network_learnability n", lambda c: spectra.network_learnability(c["domain"], c["target"], 99, width=4),
     ValueError, r"\bn\b"),
    ("network_learnability trials", lambda c: spectra.network_learnability(c["domain"], c["target"], 2, width=4,
                                                                            trials=1), ValueError, "trials"),
    ("network_learnability lr", lambda c: spectra.network_learnability(c["domain"], c["target"], 2, width=4,
                                                                        lr=-1.0), ValueError, "lr"),
    ("network_learnability tol", lambda c: spectra.network_learnability(c["domain"], c["target"], 2, width=4,
                                                                         tol="a"), (ValueError, TypeError), "tol"),
    ("network_learnability max_steps", lambda c: spectra.network_learnability(c["domain"], c["target"], 2, width=4,
                                                                               max_steps=0), ValueError,
     "max_steps"),
    ("network_learnability method", lambda c: spectra.network_learnability(c["domain"], c["target"], 2, width=4,
                                                                            method="sgd"), ValueError, "method"),
    ("network_learnability seed", lambda c: spectra.network_learnability(c["domain"], c["target"], 2, width=4,
                                                                          seed=1.5), TypeError, "seed"),
    ("network_learnability target", lambda c: spectra.network_learnability(c["domain"], c["target"][:3], 2,
                                                                            width=4), ValueError, "target"),
    ("mode_residuals lr", lambda c: spectra.mode_residuals(c["k"], c["y"], c["y"], 0.0, 3), ValueError, "lr"),
    ("mode_residuals steps", lambda c: spectra.mode_residuals(c["k"], c["y"], c["y"], 0.5, -3), ValueError,
     "steps"),
    ("mode_residuals k", lambda c: spectra.mode_residuals(c["k"][:, :2], c["y"], c["y"], 0.5, 3), ValueError,
     "k_train_train"),
    ("mode_residuals f0_train nan", lambda c: spectra.mode_residuals(c["k"], _with_nan(c["y"]), c["y"], 0.5, 3),
     ValueError, "f0_train"),
    ("mode_residuals y_train inf", lambda c: spectra.mode_residuals(c["k"], c["y"], c["y"] * INF, 0.5, 3),
     ValueError, "y_train"),
    ("mode_residuals y_train rows", lambda c: spectra.mode_residuals(c["k"], c["y"], c["y"][:2], 0.5, 3),
     ValueError, "y_train"),
    ("project_residuals shape", lambda c: spectra.project_residuals(c["k"], torch.zeros(3, 2)), ValueError,
     "residuals"),
    ("project_residuals nan", lambda c: spectra.project_residuals(c["k"], _with_nan(torch.zeros(3, 5))),
     ValueError, "residuals"),
]


@pytest.mark.parametrize("label, call, error, name", CASES, ids=[case[0] for case in CASES])
def test_malformed_input_is_rejected_naming_the_argument(ctx, label, call, error, name):
    start = time.perf_counter()
    with pytest.raises(error) as info:
        call(ctx)
    assert isinstance(info.value, (ValueError, TypeError)), type(info.value)
    assert re.search(name, str(info.value)), f"{label}: message {str(info.value)!r}"
    assert time.perf_counter() - start < 2.0, f"{label} was not rejected before doing the work"


def test_the_table_covers_every_public_function():
    """Every public function (and configuration class) of ntk_explorer, .data and .spectra has a row."""
    covered = {case[0].split()[0] for case in CASES}
    public = {name for module in (nx, data, spectra) for name in module.__all__
              if callable(getattr(module, name)) and (not isinstance(getattr(module, name), type)
                                                      or name in ("MLP", "MLPConfig", "ExperimentConfig"))}
    assert public - covered == set(), f"functions without a validation row: {sorted(public - covered)}"
