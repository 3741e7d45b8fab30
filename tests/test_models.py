import math

import pytest
import torch

from ntk_explorer import MLP
from ntk_explorer.models import ACTIVATIONS, activation_derivative, activation_fn


def manual_forward(model, x):
    """The layer rule of the module docstring written out with explicit multipliers."""
    h = x
    for l, (W, b) in enumerate(zip(model.weights, model.biases)):
        if l > 0:
            h = activation_fn(model.activation)(h)
        h = model.weight_multipliers[l] * h @ W.T + model.bias_multipliers[l] * b
    return h


def test_shapes_and_defaults():
    m = MLP(3, 8, 2)
    assert m.dtype == torch.float64
    assert m.device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert [tuple(W.shape) for W in m.weights] == [(8, 3), (8, 8), (1, 8)]
    assert m(torch.zeros(5, 3, dtype=torch.float64)).shape == (5, 1)
    assert MLP(3, 8, 0, out_dim=4)(torch.ones(2, 3, dtype=torch.float64)).shape == (2, 4)


def test_ntk_parameterization_multipliers():
    m = MLP(4, 16, 2, sigma_w=1.5, sigma_b=0.1, parameterization="ntk")
    assert m.weight_multipliers == pytest.approx([1.5 / 2, 1.5 / 4, 1.5 / 4])
    assert m.bias_multipliers == pytest.approx([0.1] * 3)
    mup = MLP(4, 16, 2, sigma_w=1.5, sigma_b=0.1, parameterization="mup")
    assert mup.weight_multipliers == pytest.approx([1.5 / 2, 1.5 / 4, 1.5 / 16])
    assert mup.bias_multipliers == pytest.approx([0.1, 0.1, 0.1 / 4])
    assert (m.lr_scale, mup.lr_scale, MLP(4, 16, 2, parameterization="standard").lr_scale) == (1.0, 16.0, 1 / 16)


def test_scaled_learning_rate_is_the_base_rate_times_the_width_factor():
    """One convention: ntk × 1, standard × 1/width (its NTK is width times larger), mup × width, depth 0 × 1."""
    for parameterization, factor in (("ntk", 1.0), ("standard", 1 / 48), ("mup", 48.0)):
        model = MLP(3, 48, 2, parameterization=parameterization)
        assert model.scaled_lr(0.25) == 0.25 * factor and model.config.scaled_lr(0.25) == 0.25 * factor
        assert MLP(3, 48, 0, parameterization=parameterization).scaled_lr(0.25) == 0.25
    for bad, error in ((0.0, ValueError), (float("nan"), ValueError), ("1", TypeError), (True, TypeError)):
        with pytest.raises(error, match="base_lr"):
            MLP(3, 8, 1).scaled_lr(bad)


@pytest.mark.parametrize("par", ["ntk", "standard", "mup"])
def test_forward_matches_layer_rule(par):
    m = MLP(3, 10, 3, out_dim=2, activation="gelu", parameterization=par, sigma_b=0.5, seed=3)
    x = torch.randn(7, 3, dtype=torch.float64)
    torch.testing.assert_close(m(x), manual_forward(m, x), rtol=1e-13, atol=1e-13)


def test_standard_and_ntk_give_same_function_in_distribution():
    # Same seed -> same N(0,1) draws, scaled into the weights (standard) or the multipliers (ntk).
    x = torch.randn(6, 5, dtype=torch.float64)
    a = MLP(5, 32, 2, parameterization="ntk", sigma_w=1.3, sigma_b=0.2, seed=7)
    b = MLP(5, 32, 2, parameterization="standard", sigma_w=1.3, sigma_b=0.2, seed=7)
    torch.testing.assert_close(a(x), b(x), rtol=1e-12, atol=1e-12)


def test_init_statistics_ntk():
    m = MLP(2, 2000, 1, seed=0)
    W = m.weights[1]
    assert abs(W.mean().item()) < 0.1 and abs(W.std().item() - 1) < 0.05


def test_seed_reproducible_and_dtype_independent():
    a, b = MLP(2, 8, 1, seed=5), MLP(2, 8, 1, seed=5, dtype=torch.float32)
    torch.testing.assert_close(a.weights[0].float(), b.weights[0])
    assert not torch.equal(MLP(2, 8, 1, seed=6).weights[0], a.weights[0])
    c = a.clone()
    c.weights[0].data += 1
    assert not torch.equal(c.weights[0], a.weights[0])


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_derivative_matches_autograd(name):
    h = torch.linspace(-3, 3, 61, dtype=torch.float64).requires_grad_()
    (g,) = torch.autograd.grad(activation_fn(name)(h).sum(), h)
    torch.testing.assert_close(activation_derivative(name)(h.detach()), g, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kwargs, match", [
    (dict(width=0), "width"), (dict(depth=-1), "depth"), (dict(activation="sigmoidx"), "relu"),
    (dict(parameterization="ntp"), "ntk"), (dict(sigma_w=-1.0), "sigma_w"), (dict(sigma_b=math.nan), "sigma_b"),
    (dict(dtype=torch.int64), "dtype"), (dict(in_dim=0), "in_dim"),
])
def test_bad_config(kwargs, match):
    args = dict(in_dim=2, width=4, depth=1) | kwargs
    with pytest.raises(ValueError, match=match):
        MLP(**args)


def test_bad_type():
    with pytest.raises(TypeError, match="width"):
        MLP(2, 4.0, 1)


def test_wrong_input_dimension():
    with pytest.raises(ValueError, match="in_dim=2"):
        MLP(2, 4, 1)(torch.zeros(3, 5, dtype=torch.float64))
