import itertools
import math

import numpy as np
import pytest
import torch

from ntk_explorer import MLP, analytic_kernels, empirical_ntk

F64 = torch.float64


def brute_force_ntk(model, x1, x2):
    """Per-sample autograd loop: Θ[i, j, o, o'] = <∂f_o(x1_i)/∂θ, ∂f_o'(x2_j)/∂θ>."""
    params = [p for p in model.parameters() if p.requires_grad]

    def grads(x):
        rows = []
        for i in range(x.shape[0]):
            out = model(x[i:i + 1]).reshape(-1)
            for o in range(out.numel()):
                g = torch.autograd.grad(out[o], params, retain_graph=True, allow_unused=True)
                rows.append(torch.cat([(gi if gi is not None else torch.zeros_like(p)).reshape(-1)
                                       for gi, p in zip(g, params)]))
        return torch.stack(rows).reshape(x.shape[0], -1, sum(p.numel() for p in params))

    g1, g2 = grads(x1), grads(x2)
    return torch.einsum("iap,jbp->ijab", g1, g2)


def rel(a, b):
    return ((a - b).norm() / b.norm()).item()


CASES = list(itertools.product(["ntk", "standard", "mup"], [0.0, 0.4], [0, 1, 2, 3], [1, 3]))


@pytest.mark.parametrize("par, sigma_b, depth, out_dim", CASES)
def test_three_methods_agree(par, sigma_b, depth, out_dim):
    model = MLP(3, 12, depth, out_dim=out_dim, activation="tanh", parameterization=par, sigma_b=sigma_b,
                sigma_w=1.2, seed=depth + 10 * out_dim)
    g = torch.Generator().manual_seed(1)
    x1, x2 = torch.randn(5, 3, generator=g, dtype=F64), torch.randn(4, 3, generator=g, dtype=F64)
    ref = empirical_ntk(model, x1, x2, method="jacobian")
    expected_shape = (5, 4) if out_dim == 1 else (5, 4, out_dim, out_dim)
    assert ref.shape == expected_shape
    for method in ("structured", "ntk_vp", "auto"):
        assert rel(empirical_ntk(model, x1, x2, method=method), ref) < 1e-10, method
    pseudo = [empirical_ntk(model, x1, x2, method=m, pseudo=True) for m in ("structured", "jacobian", "ntk_vp")]
    assert all(p.shape == (5, 4) for p in pseudo)
    # pseudo-NTK of Σ_o f_o/√O equals (1/O) Σ_{o,o'} Θ_{oo'} (Mohamadi, Bae & Sutherland 2023)
    full = ref if out_dim > 1 else ref[:, :, None, None]
    expected = full.sum(dim=(2, 3)) / out_dim
    for p in pseudo:
        assert rel(p, expected) < 1e-10


@pytest.mark.parametrize("activation", ["relu", "erf", "gelu", "softplus", "identity"])
def test_structured_matches_brute_force(activation):
    model = MLP(2, 6, 2, out_dim=2, activation=activation, sigma_b=0.3, seed=4)
    x1 = torch.tensor([[0.3, -1.0], [1.2, 0.5], [-0.7, 0.1]], dtype=F64)
    x2 = torch.tensor([[0.9, 0.2], [-0.4, -0.6]], dtype=F64)
    bf = brute_force_ntk(model, x1, x2)
    assert rel(empirical_ntk(model, x1, x2, method="structured"), bf) < 1e-12
    sym = empirical_ntk(model, x1)
    torch.testing.assert_close(sym, sym.permute(1, 0, 3, 2), rtol=0, atol=1e-14)
    assert rel(sym, brute_force_ntk(model, x1, x1)) < 1e-12


class ResidualNet(torch.nn.Module):
    """Not an MLP: a residual block, layer norm and a buffer, for the generic methods."""

    def __init__(self, out_dim):
        super().__init__()
        torch.manual_seed(0)
        self.inp = torch.nn.Linear(3, 8, dtype=F64)
        self.block = torch.nn.Linear(8, 8, dtype=F64)
        self.norm = torch.nn.LayerNorm(8, dtype=F64)
        self.out = torch.nn.Linear(8, out_dim, dtype=F64)
        self.register_buffer("shift", torch.full((8,), 0.1, dtype=F64))

    def forward(self, x):
        h = torch.tanh(self.inp(x))
        h = h + torch.sin(self.block(h)) + self.shift
        return self.out(self.norm(h))


@pytest.mark.parametrize("out_dim", [1, 3])
def test_generic_methods_on_arbitrary_module(out_dim):
    model = ResidualNet(out_dim)
    x1, x2 = torch.randn(4, 3, dtype=F64), torch.randn(3, 3, dtype=F64)
    bf = brute_force_ntk(model, x1, x2)
    bf = bf[:, :, 0, 0] if out_dim == 1 else bf
    for method in ("jacobian", "ntk_vp", "auto"):
        assert rel(empirical_ntk(model, x1, x2, method=method), bf) < 1e-10
    with pytest.raises(ValueError, match="structured"):
        empirical_ntk(model, x1, method="structured")


@pytest.mark.parametrize("method", ["structured", "jacobian", "ntk_vp"])
def test_chunking_does_not_change_the_result(method):
    model = MLP(2, 16, 2, out_dim=2, activation="erf", sigma_b=0.1)
    x1, x2 = torch.randn(11, 2, dtype=F64), torch.randn(7, 2, dtype=F64)
    full = empirical_ntk(model, x1, x2, method=method)
    small = empirical_ntk(model, x1, x2, method=method, memory_budget=8 * 3 * 2 * 50 * 3)
    assert rel(small, full) < 1e-13
    sym_full, sym_small = empirical_ntk(model, x1, method=method), empirical_ntk(model, x1, method=method,
                                                                                     memory_budget=2000)
    assert rel(sym_small, sym_full) < 1e-13


def test_float32_kernel_is_close_to_float64():
    m64 = MLP(2, 64, 2, seed=2)
    m32 = MLP(2, 64, 2, seed=2, dtype=torch.float32)
    x = torch.randn(6, 2, dtype=F64)
    k64 = empirical_ntk(m64, x)
    k32 = empirical_ntk(m32, x.float())
    assert k32.dtype == torch.float32 and rel(k32.double(), k64) < 1e-5


def circle(n):
    t = torch.linspace(0, 2 * math.pi, n + 1, dtype=F64)[:-1]
    return torch.stack([torch.cos(t), torch.sin(t)], 1)


def test_monte_carlo_convergence_to_analytic_ntk():
    """Jacot et al. 2018, Theorem 1: the empirical NTK converges to the analytic one; it concentrates at the
    central-limit rate O(1/sqrt(width))."""
    x = circle(12)
    ref = analytic_kernels(x, depth=2, activation="relu").ntk
    widths = [64, 256, 1024, 4096]
    seeds = [range(6), range(6), range(4), range(3)]
    errors = [np.mean([rel(empirical_ntk(MLP(2, w, 2, seed=s), x), ref) for s in ss]) for w, ss in
              zip(widths, seeds)]
    assert errors[-1] < 0.1
    slope = np.polyfit(np.log(widths), np.log(errors), 1)[0]
    assert -0.7 <= slope <= -0.3, (errors, slope)


@pytest.mark.parametrize("activation", ["erf", "tanh", "gelu", "softplus"])
def test_wide_network_matches_analytic_for_smooth_activations(activation):
    x = circle(8) * 1.3
    ref = analytic_kernels(x, depth=1, activation=activation, sigma_w=1.4, sigma_b=0.3)
    errors = [rel(empirical_ntk(MLP(2, 4096, 1, activation=activation, sigma_w=1.4, sigma_b=0.3, seed=s), x),
                  ref.ntk) for s in range(2)]
    assert np.mean(errors) < 0.05


@pytest.mark.parametrize("x, match", [
    (torch.tensor([[0.0, math.nan]], dtype=F64), "NaN"),
    (torch.tensor([[0.0, math.inf]], dtype=F64), "NaN or inf"),
    (torch.zeros(3, 5, dtype=F64), "in_dim=2"),
    (torch.zeros(3, 2, dtype=torch.float32), "float32"),
    (torch.zeros(3, 2, dtype=torch.int64), "floating"),
    (torch.zeros(3, dtype=F64), "2-D"),
    (torch.zeros(0, 2, dtype=F64), "empty"),
    (torch.zeros(3, 2, dtype=F64, device="meta"), "device"),
])
def test_bad_inputs(x, match):
    with pytest.raises(ValueError, match=match):
        empirical_ntk(MLP(2, 4, 1), x)


def test_bad_method_and_model():
    with pytest.raises(ValueError, match="structured"):
        empirical_ntk(MLP(2, 4, 1), torch.zeros(2, 2, dtype=F64), method="fast")
    with pytest.raises(TypeError, match="Module"):
        empirical_ntk(lambda x: x, torch.zeros(2, 2, dtype=F64))


def test_numpy_inputs_are_converted():
    m = MLP(2, 8, 1)
    x = np.array([[0.1, 0.2], [0.3, -0.4]], dtype=np.float32)
    torch.testing.assert_close(empirical_ntk(m, x), empirical_ntk(m, torch.as_tensor(x, dtype=F64)))


def test_huge_finite_inputs_pass_and_one_infinite_entry_among_them_does_not():
    """as_inputs accepts finite entries whose sum overflows and still finds a NaN or inf among them."""
    model = MLP(2, 4, 1, activation="tanh", seed=2)
    huge = torch.full((3, 2), 1e308, dtype=F64)
    assert empirical_ntk(model, huge).shape == (3, 3)  # accepted (the kernel itself overflows: x·x = 1e616)
    for bad in (math.inf, -math.inf, math.nan):
        x = huge.clone()
        x[1, 0] = bad
        with pytest.raises(ValueError, match="NaN or inf"):
            empirical_ntk(model, x)
