import math

import numpy as np
import pytest
import torch
from scipy import integrate

from ntk_explorer import analytic_kernels
from ntk_explorer.kernels.analytic import gaussian_expectations

F64 = torch.float64
ALPHAS = [0.0, math.pi / 3, math.pi / 2, 2.0, math.pi]


def pair(alpha, r1=1.0, r2=1.0):
    """x = r1 (1, 0), x' = r2 (cos α, sin α) in R² (d = 2)."""
    return (torch.tensor([[r1, 0.0]], dtype=F64), torch.tensor([[r2 * math.cos(alpha), r2 * math.sin(alpha)]],
                                                                 dtype=F64))


@pytest.mark.parametrize("alpha", ALPHAS)
def test_depth1_relu_hand_derived(alpha):
    # σ_w = 1, σ_b = 0, d = 2: Σ¹ = cos α / 2, a = b = 1/2. Arc-cosine kernels by hand:
    # nngp = (1/2)(1/(2π))(sin α + (π − α) cos α), ntk = ((π − α)/(2π)) (cos α / 2) + nngp.
    x, y = pair(alpha)
    k = analytic_kernels(x, y, depth=1, activation="relu")
    nngp = (math.sin(alpha) + (math.pi - alpha) * math.cos(alpha)) / (4 * math.pi)
    ntk = (math.pi - alpha) / (2 * math.pi) * math.cos(alpha) / 2 + nngp
    assert k.nngp.item() == pytest.approx(nngp, abs=1e-15)
    assert k.ntk.item() == pytest.approx(ntk, abs=1e-15)


@pytest.mark.parametrize("alpha", ALPHAS)
def test_depth1_erf_hand_derived(alpha):
    # a = b = 1/2, c = cos α / 2: nngp = (2/π) asin(2c / 2) = (2/π) asin(c); E[erf' erf'] = (4/π)/sqrt(4 − 4c²).
    x, y = pair(alpha)
    k = analytic_kernels(x, y, depth=1, activation="erf")
    c = math.cos(alpha) / 2
    nngp = 2 / math.pi * math.asin(c)
    ntk = 4 / math.pi / math.sqrt(4 - 4 * c * c) * c + nngp
    assert k.nngp.item() == pytest.approx(nngp, abs=1e-15)
    assert k.ntk.item() == pytest.approx(ntk, abs=1e-15)


def test_erf_known_values():
    x, y = pair(0.0)
    k = analytic_kernels(x, y, depth=1, activation="erf")
    assert k.nngp.item() == pytest.approx(1 / 3, abs=1e-15)
    assert k.ntk.item() == pytest.approx(2 / (math.pi * math.sqrt(3)) + 1 / 3, abs=1e-15)


@pytest.mark.parametrize("activation", ["relu", "erf", "tanh", "gelu", "softplus"])
def test_expectations_against_scipy_double_integral(activation):
    # An independent reference: adaptive 2-d integration of the Gaussian expectation.
    a, b, c = 0.8, 1.3, 0.6
    phi = {"relu": lambda u: max(u, 0.0), "erf": math.erf, "tanh": math.tanh,
           "gelu": lambda u: u * 0.5 * (1 + math.erf(u / math.sqrt(2))),
           "softplus": lambda u: math.log1p(math.exp(-abs(u))) + max(u, 0.0)}[activation]
    cov = np.array([[a, c], [c, b]])
    inv, det = np.linalg.inv(cov), np.linalg.det(cov)

    def density(v, u):
        z = np.array([u, v])
        return math.exp(-0.5 * z @ inv @ z) / (2 * math.pi * math.sqrt(det))

    ref, _ = integrate.dblquad(lambda v, u: phi(u) * phi(v) * density(v, u), -9, 9, -9, 9, epsabs=1e-11,
                               epsrel=1e-11)
    t = lambda v: torch.tensor(v, dtype=F64)
    got = gaussian_expectations(t(a), t(b), t(c), activation, closed=activation in ("relu", "erf"), n=96)[0]
    assert got.item() == pytest.approx(ref, rel=1e-7 if activation != "relu" else 1e-9)


def test_closed_form_and_quadrature_paths_agree():
    x = torch.randn(10, 3, dtype=F64, generator=torch.Generator().manual_seed(0))
    unit = x / x.norm(dim=1, keepdim=True)
    for inputs, nodes in ((unit, 64), (x, 128)):  # |x|² up to 6.6: more nodes for the larger variances
        for activation, tol in (("erf", 1e-10), ("identity", 1e-12)):
            a = analytic_kernels(inputs, depth=2, activation=activation, sigma_b=0.2)
            q = analytic_kernels(inputs, depth=2, activation=activation, sigma_b=0.2, method="quadrature",
                                 quadrature_points=nodes)
            assert (a.ntk - q.ntk).abs().max() / a.ntk.abs().max() < tol
            assert (a.nngp - q.nngp).abs().max() / a.nngp.abs().max() < tol
    # ReLU's kink (a step in relu') makes Gauss-Hermite converge only algebraically (~n^-0.75): the error must
    # shrink with the node count; the closed form is what analytic_kernels uses for ReLU.
    exact = analytic_kernels(x, depth=2, sigma_b=0.2).ntk
    errs = [(analytic_kernels(x, depth=2, sigma_b=0.2, method="quadrature", quadrature_points=n).ntk - exact)
            .abs().max().item() / exact.abs().max().item() for n in (16, 64, 160)]
    assert errs[0] > errs[1] > errs[2] and errs[2] < 1e-2, errs


@pytest.mark.parametrize("activation", ["relu", "erf", "tanh", "gelu", "softplus", "identity"])
def test_symmetric_positive_semidefinite(activation):
    x = torch.randn(24, 4, dtype=F64, generator=torch.Generator().manual_seed(1)) * 1.7
    k = analytic_kernels(x, depth=3, activation=activation, sigma_w=1.3, sigma_b=0.2)
    for K in (k.nngp, k.ntk):
        torch.testing.assert_close(K, K.T, rtol=1e-14, atol=1e-14)
        assert torch.linalg.eigvalsh(K).min() > -1e-12 * K.diagonal().max()
    # x2 given explicitly reproduces the symmetric call (on unit-norm inputs, where quadrature is accurate)
    u = x / x.norm(dim=1, keepdim=True)
    sym = analytic_kernels(u, depth=3, activation=activation, sigma_b=0.2).ntk
    torch.testing.assert_close(analytic_kernels(u, u, depth=3, activation=activation, sigma_b=0.2).ntk, sym,
                               rtol=1e-9, atol=1e-9)


def test_parallel_and_antipodal_inputs_relu():
    # x' = 2x: ρ = 1, a = |x|²/d, b = 4a, c = 2a -> nngp = √(ab)/2 = a, ntk = (1/2)c + nngp = 2a.
    x = torch.tensor([[0.3, -0.7, 1.1]], dtype=F64)
    a = (x * x).sum().item() / 3
    k = analytic_kernels(x, 2 * x, depth=1)
    assert k.nngp.item() == pytest.approx(a, rel=1e-15) and k.ntk.item() == pytest.approx(2 * a, rel=1e-15)
    # x' = -x: θ = π -> both kernels vanish.
    k = analytic_kernels(x, -x, depth=1)
    assert abs(k.nngp.item()) < 1e-16 and abs(k.ntk.item()) < 1e-16
    k = analytic_kernels(x, -3 * x, depth=4, sigma_b=0.1)
    assert torch.isfinite(k.ntk).all() and torch.isfinite(k.nngp).all()


def test_zero_input_and_depth_zero():
    x = torch.tensor([[0.0, 0.0], [1.0, 2.0]], dtype=F64)
    for act in ("relu", "erf", "tanh"):
        k = analytic_kernels(x, depth=2, activation=act)
        assert torch.isfinite(k.ntk).all()
    k = analytic_kernels(x, depth=0, sigma_w=2.0, sigma_b=0.5)
    expected = 4.0 * (x @ x.T) / 2 + 0.25
    torch.testing.assert_close(k.ntk, expected)
    torch.testing.assert_close(k.nngp, expected)


def test_bad_arguments():
    x = torch.zeros(2, 2, dtype=F64)
    with pytest.raises(ValueError, match="depth"):
        analytic_kernels(x, depth=-1)
    with pytest.raises(ValueError, match="relu"):
        analytic_kernels(x, depth=1, activation="swish")
    with pytest.raises(ValueError, match="closed form"):
        analytic_kernels(x, depth=1, activation="tanh", method="closed_form")
    with pytest.raises(ValueError, match="NaN"):
        analytic_kernels(torch.tensor([[math.nan, 0.0]]), depth=1)
    with pytest.raises(ValueError, match="columns"):
        analytic_kernels(x, torch.zeros(2, 3), depth=1)
    with pytest.raises(ValueError, match="shape"):
        analytic_kernels(torch.zeros(3), depth=1)
