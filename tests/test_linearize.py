"""Tests for ntk_explorer.kernels.linearize: f^lin(x; θ) = f(x; θ_0) + J_0 (θ − θ_0) (Lee et al. 2019)."""
import pytest
import torch
from torch.func import functional_call

from ntk_explorer.kernels import empirical_ntk
from ntk_explorer.kernels.linearize import linearize
from ntk_explorer.models import MLP



@pytest.fixture
def setup():
    model = MLP(3, 32, 2, out_dim=2, activation="tanh", sigma_b=0.3, seed=1, device="cpu")
    x = torch.randn(5, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    direction = {k: torch.randn(v.shape, dtype=v.dtype, generator=torch.Generator().manual_seed(i))
                 for i, (k, v) in enumerate(model.named_parameters())}
    return model, x, direction


def _shifted(model, direction, eps):
    return {k: v.detach() + eps * direction[k] for k, v in model.named_parameters()}


def test_linearization_equals_the_model_at_theta0(setup):
    model, x, _ = setup
    f_lin = linearize(model)
    torch.testing.assert_close(f_lin(x), model(x), rtol=0, atol=1e-15)
    torch.testing.assert_close(f_lin(x, dict(model.named_parameters())), model(x), rtol=0, atol=1e-15)


def test_linearization_error_is_second_order(setup):
    model, x, direction = setup
    f_lin = linearize(model)
    errors = []
    for eps in (1e-2, 5e-3, 2.5e-3):
        theta = _shifted(model, direction, eps)
        errors.append(float((f_lin(x, theta) - functional_call(model, theta, (x,))).abs().max()))
    # a Taylor remainder O(eps²): halving eps divides the error by 4
    assert 3.6 < errors[0] / errors[1] < 4.4 and 3.6 < errors[1] / errors[2] < 4.4


def test_linearization_is_affine_in_theta_and_matches_finite_differences(setup):
    model, x, direction = setup
    f_lin = linearize(model)
    f0 = model(x).detach()
    step = f_lin(x, _shifted(model, direction, 1.0)) - f0
    torch.testing.assert_close(f_lin(x, _shifted(model, direction, -2.5)) - f0, -2.5 * step, rtol=1e-12, atol=1e-12)
    h = 1e-5  # central difference of the true network along the direction
    central = (functional_call(model, _shifted(model, direction, h), (x,))
               - functional_call(model, _shifted(model, direction, -h), (x,))) / (2 * h)
    torch.testing.assert_close(step, central, rtol=1e-7, atol=1e-8)


def test_gradient_of_the_linearization_is_the_initial_jacobian_everywhere(setup):
    model, x, direction = setup
    f_lin = linearize(model)
    theta = {k: v.requires_grad_() for k, v in _shifted(model, direction, 0.3).items()}
    cotangent = torch.randn(5, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    grads = torch.autograd.grad((f_lin(x, theta) * cotangent).sum(), list(theta.values()))
    expected = torch.autograd.grad((model(x) * cotangent).sum(), list(model.parameters()))
    for g, e in zip(grads, expected):
        torch.testing.assert_close(g, e, rtol=1e-12, atol=1e-13)


def test_ntk_of_the_linearization_is_the_empirical_ntk(setup):
    model, x, _ = setup
    f_lin = linearize(model)
    params = {k: v.detach() for k, v in model.named_parameters()}
    jac = torch.func.jacrev(lambda p: f_lin(x, p))(params)
    theta = sum(torch.einsum("iaP,jbP->ijab", j.reshape(5, 2, -1), j.reshape(5, 2, -1)) for j in jac.values())
    torch.testing.assert_close(theta, empirical_ntk(model, x), rtol=1e-12, atol=1e-12)


def test_jvp_and_vjp_are_adjoint(setup):
    model, x, direction = setup
    f_lin = linearize(model)
    _, jv = f_lin.jvp(x, direction)
    u = torch.randn(5, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(9))
    _, pullback = f_lin.vjp(x)
    jtu = pullback(u)
    lhs = float((jv * u).sum())
    rhs = float(sum((jtu[k] * direction[k]).sum() for k in direction))
    assert abs(lhs - rhs) < 1e-12 * max(1.0, abs(lhs))
    again = pullback(u)  # the pullback is reusable
    assert all(torch.equal(again[k], jtu[k]) for k in jtu)


def test_linearization_point_is_a_copy(setup):
    model, x, direction = setup
    f_lin = linearize(model)
    f0 = model(x).detach()
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.add_(0.1 * direction[name])
    torch.testing.assert_close(f_lin(x), f0, rtol=0, atol=0)
    with pytest.raises(ValueError, match="names"):
        f_lin(x, {"not_a_parameter": torch.zeros(1)})
    with pytest.raises(TypeError):
        linearize(lambda z: z)
