"""Tests for ntk_explorer.data: generated domains, targets, splits, noise and the safe expression parser."""
import math

import numpy as np
import pytest
import torch

from ntk_explorer import data
from ntk_explorer.data import (add_label_noise, circle_points, flip_labels, fourier_target, hypercube_points,
                               make_dataset, parse_target, random_smooth_target, sine_target, sphere_points,
                               step_target, train_eval_split, walsh_target)


# ------------------------------------------------------------------------------------------- domains
def test_circle_grid_points_are_on_the_unit_circle_at_their_angles():
    x, t = circle_points(12)
    np.testing.assert_allclose(t, 2 * np.pi * np.arange(12) / 12)
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-15)
    np.testing.assert_allclose(np.mod(np.arctan2(x[:, 1], x[:, 0]), 2 * np.pi), t, atol=1e-12)


def test_circle_random_points_are_sorted_uniform_angles_and_reproducible():
    x, t = circle_points(2000, sampling="random", seed=3)
    assert np.all(np.diff(t) >= 0) and t.min() >= 0 and t.max() < 2 * np.pi
    assert abs(t.mean() - np.pi) < 0.1  # uniform on [0, 2π): mean π, sd of the mean ≈ 0.04
    np.testing.assert_array_equal(circle_points(2000, sampling="random", seed=3)[0], x)


def test_sphere_points_have_unit_norm_and_zero_mean():
    x = sphere_points(4000, 5, seed=1)
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-14)
    assert np.abs(x.mean(axis=0)).max() < 0.05  # sd of each mean coordinate ≈ sqrt(1/5/4000) ≈ 0.007
    np.testing.assert_allclose((x ** 2).mean(axis=0), 1 / 5, atol=0.02)


def test_hypercube_gives_distinct_scaled_vertices():
    x = hypercube_points(None, 4)
    assert x.shape == (16, 4)
    assert len({tuple(row) for row in np.sign(x)}) == 16
    np.testing.assert_allclose(np.abs(x), 0.5)  # 1/sqrt(4)
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0)
    sample = hypercube_points(10, 6, seed=2)
    assert len({tuple(row) for row in sample}) == 10
    with pytest.raises(ValueError, match="only 16 vertices"):
        hypercube_points(17, 4)


# ------------------------------------------------------------------------------------------- targets
def test_fourier_sine_and_step_targets_match_their_formulas():
    x, t = circle_points(50)
    np.testing.assert_allclose(sine_target(3)(x), np.sin(3 * t), atol=1e-12)
    target = fourier_target({1: (0.5, 0.0), 4: (0.0, -2.0)})
    np.testing.assert_allclose(target(x), 0.5 * np.cos(t) - 2 * np.sin(4 * t), atol=1e-12)
    np.testing.assert_array_equal(step_target()(x), np.where(t <= np.pi, 1.0, -1.0))


def test_walsh_monomial_is_the_parity_of_its_bits():
    x = hypercube_points(None, 5)
    bits = np.sign(x)
    np.testing.assert_array_equal(walsh_target([2, 5])(x), bits[:, 1] * bits[:, 4])
    np.testing.assert_allclose(walsh_target([1, 3, 4])(x), np.prod(np.sqrt(5) * x[:, [0, 2, 3]], axis=1))
    # distinct Walsh monomials are orthogonal on the full cube
    assert abs(np.mean(walsh_target([1])(x) * walsh_target([1, 2])(x))) < 1e-15


def test_random_smooth_target_has_the_squared_exponential_covariance():
    x = np.array([[1.0, 0.0], [np.cos(0.5), np.sin(0.5)], [-1.0, 0.0]])
    samples = np.stack([random_smooth_target(seed, n_features=64, lengthscale=0.7)(x) for seed in range(3000)])
    expected = np.exp(-np.sum((x[:, None] - x[None]) ** 2, axis=-1) / (2 * 0.7 ** 2))
    np.testing.assert_allclose(samples.T @ samples / len(samples), expected, atol=0.08)
    np.testing.assert_array_equal(random_smooth_target(7)(x), random_smooth_target(7)(x))


# ---------------------------------------------------------------------------------------- presets
def test_make_dataset_circle_shapes_and_clean_eval_targets():
    d = make_dataset("circle", n_train=16, n_eval=64, target="sin(3*t)", noise=0.1, seed=4)
    assert d.x_train.shape == (16, 2) and d.y_train.shape == (16,) and d.x_eval.shape == (64, 2)
    assert d.x_train.dtype == torch.float64
    np.testing.assert_allclose(d.y_eval.numpy(), np.sin(3 * d.t_eval.numpy()), atol=1e-12)
    noise = d.y_train.numpy() - np.sin(3 * d.t_train.numpy())
    assert 0.02 < noise.std() < 0.3 and np.all(noise != 0)


def test_make_dataset_classification_labels_and_flips():
    clean = make_dataset("hypercube", n_train=20, n_eval=30, dim=6, target=walsh_target([1, 2]),
                         classification=True)
    assert set(clean.y_train.tolist()) <= {-1.0, 1.0}
    np.testing.assert_array_equal(clean.y_train.numpy(), walsh_target([1, 2])(clean.x_train))
    flipped = make_dataset("hypercube", n_train=20, n_eval=30, dim=6, target=walsh_target([1, 2]),
                           classification=True, flip=1.0)
    np.testing.assert_array_equal(flipped.y_train.numpy(), -clean.y_train.numpy())
    np.testing.assert_array_equal(flipped.y_eval.numpy(), clean.y_eval.numpy())


def test_sphere_dataset_and_split_and_noise_helpers():
    d = make_dataset("sphere", n_train=10, n_eval=5, dim=4, target="x1*x2 + x4")
    x = d.x_train.numpy()
    np.testing.assert_allclose(d.y_train.numpy(), x[:, 0] * x[:, 1] + x[:, 3])
    x_all, y_all = np.arange(20.0)[:, None], np.arange(20.0)
    xt, yt, xe, ye = train_eval_split(x_all, y_all, 7, seed=1)
    assert len(xt) == 7 and len(xe) == 13
    assert sorted(np.concatenate([yt, ye]).tolist()) == list(range(20))
    assert np.all(add_label_noise(np.zeros(4), 0.0) == 0)
    assert np.all(flip_labels(np.ones(5), 0.0) == 1)


@pytest.mark.parametrize("kwargs, message", [
    (dict(domain="torus"), "domain"),
    (dict(domain="circle", dim=3), "dim"),
    (dict(n_train=0), "n_train"),
    (dict(target="log(t)"), "not finite"),
    (dict(target=42), "target"),
    (dict(flip=0.1), "classification"),
])
def test_make_dataset_rejects_bad_arguments(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make_dataset(**kwargs)


# ------------------------------------------------------------------------------------ parse_target
def test_parse_target_evaluates_like_numpy():
    t = np.linspace(0, 2 * np.pi, 17)
    f = parse_target("sin(3*t) + 0.5*cos(t)")
    np.testing.assert_allclose(f(t), np.sin(3 * t) + 0.5 * np.cos(t), atol=1e-15)
    assert f.variables == frozenset({"t"})
    g = parse_target("-x1**2 / (1 + abs(x2)) + exp(-x3) * pi - 2**-1")
    x = np.random.default_rng(0).standard_normal((9, 3))
    np.testing.assert_allclose(g(x), -x[:, 0] ** 2 / (1 + np.abs(x[:, 1])) + np.exp(-x[:, 2]) * np.pi - 0.5)
    points, angles = circle_points(8)
    np.testing.assert_allclose(parse_target("cos(2*t) + x2")(points), np.cos(2 * angles) + points[:, 1],
                               atol=1e-12)
    np.testing.assert_allclose(parse_target("1.5")(t), np.full_like(t, 1.5))  # constants broadcast
    np.testing.assert_allclose(parse_target("t")(t=torch.tensor(t)), t)


@pytest.mark.parametrize("expression, reason", [
    ("__import__('os').system('echo hi')", "unknown function"),
    ("().__class__.__bases__", "not allowed"),
    ("t.real", "not allowed"),
    ("lambda: 1", "not allowed"),
    ("[t for t in range(9)]", "not allowed"),
    ("sin(t) if t else 1", "not allowed"),
    ("open('f')", "unknown function"),
    ("np.sin(t)", "unknown function"),
    ("sin(t, 2)", "one positional argument"),
    ("sin(x=t)", "one positional argument"),
    ("y + 1", "unknown name"),
    ("t^2", r"\*\*"),
    ("t % 2", "not allowed"),
    ("2**t", "constant"),
    ("t**65", "too large"),
    ("9**9**9", "too large"),
    ("'abc'", "real numbers"),
    ("1j*t", "real numbers"),
    ("True", "real numbers"),
    ("sin", "must be called"),
    ("sin(3*t", "cannot parse"),
    ("", "empty"),
    ("t" + "+t" * 150, "too long"),
    ("-" * 60 + "t", "too deeply"),
    ("sin(" * 30 + "t" + ")" * 30, "too deeply"),
    ("t == 1", "not allowed"),
    ("x0 + 1", "unknown name"),
])
def test_parse_target_rejects_with_a_reason(expression, reason):
    with pytest.raises(ValueError, match=reason):
        parse_target(expression)


def test_parse_target_never_uses_eval_or_exec():
    source = open(data.__file__.replace("data.py", "_expression.py")).read()
    for forbidden in ("eval(", "exec(", "compile(", "__import__"):
        assert forbidden not in source.replace("_evaluate(", "")
    with pytest.raises(TypeError):
        parse_target(3)


def test_parse_target_reports_missing_variables():
    f = parse_target("x3 + t")
    with pytest.raises(ValueError, match="x3"):
        f(np.zeros((4, 2)))
    assert math.isinf(parse_target("1/t")(np.array([0.0]))[0])  # non-finite values are left to the caller
