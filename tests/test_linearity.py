"""Jacobian, Hessian and horizon measurements of experiments/linearity.py against independent references: the
empirical NTK's diagonal, a dense autograd Hessian with numpy's eigvalsh, the closed form of the two-layer ReLU
Hessian, and sup_t computed directly from a training run."""
import math

import numpy as np
import pytest
import torch

from ntk_explorer import MLP, empirical_ntk, train
from ntk_explorer.data import make_dataset
from ntk_explorer.experiments.linearity import (hessian_spectral_norm, hessian_vector_product, horizon_sweep,
                                                jacobian_norm, linearity_sweep)
from ntk_explorer.kernels.jacobian import parameter_jacobian, parameter_names

F64 = torch.float64


def _dense_hessian(model, x, output=0):
    names = parameter_names(model)
    params = dict(model.named_parameters())
    shapes = [params[n].shape for n in names]
    sizes = [params[n].numel() for n in names]
    flat0 = torch.cat([params[n].detach().reshape(-1) for n in names])

    def f(flat):
        pieces = torch.split(flat, sizes)
        new = {n: p.reshape(s) for n, p, s in zip(names, pieces, shapes)}
        return torch.func.functional_call(model, new, (x,)).reshape(-1)[output]

    return torch.autograd.functional.hessian(f, flat0)


@pytest.mark.parametrize("out_dim", [1, 3])
def test_parameter_jacobian_contracts_to_the_empirical_ntk(out_dim):
    model = MLP(3, 9, 2, out_dim=out_dim, activation="tanh", sigma_b=0.3, seed=2)
    x = torch.randn(5, 3, dtype=F64, generator=torch.Generator().manual_seed(0))
    J = parameter_jacobian(model, x)
    P = sum(p.numel() for p in model.parameters())
    assert J.shape == ((5, P) if out_dim == 1 else (5, out_dim, P))
    J3 = J.reshape(5, out_dim, P)
    theta = torch.einsum("iap,jbp->ijab", J3, J3)
    ref = empirical_ntk(model, x, method="structured")
    ref = ref if out_dim > 1 else ref[:, :, None, None]
    assert torch.allclose(theta, ref, rtol=1e-11, atol=1e-13)
    # the order of the columns is the order of parameters_to_vector
    loss = model(x[:1]).sum()
    g = torch.autograd.grad(loss, list(model.parameters()))
    assert torch.allclose(J3[0].sum(0), torch.cat([t.reshape(-1) for t in g]), atol=1e-13)


def test_jacobian_norm_is_the_root_of_the_ntk_trace():
    model = MLP(2, 16, 1, out_dim=2, activation="erf", sigma_b=0.1, seed=5)
    x = torch.randn(4, 2, dtype=F64, generator=torch.Generator().manual_seed(1))
    theta = empirical_ntk(model, x, method="structured")  # (4, 4, 2, 2)
    trace = torch.einsum("iioo->i", theta)  # Σ_o Θ_oo(x_i, x_i)
    assert torch.allclose(jacobian_norm(model, x) ** 2, trace, rtol=1e-12)


@pytest.mark.parametrize("activation, depth", [("erf", 1), ("tanh", 2), ("gelu", 2)])
def test_hessian_vector_product_and_spectral_norm_match_the_dense_hessian(activation, depth):
    model = MLP(2, 6, depth, activation=activation, sigma_b=0.5, seed=3)
    x = torch.tensor([[0.6, -0.8]], dtype=F64)
    H = _dense_hessian(model, x)
    v = torch.randn(H.shape[0], dtype=F64, generator=torch.Generator().manual_seed(2))
    assert torch.allclose(hessian_vector_product(model, x, v), H @ v, rtol=1e-10, atol=1e-12)
    exact = np.abs(np.linalg.eigvalsh(H.numpy())).max()
    estimate = hessian_spectral_norm(model, x, rtol=1e-10, max_iter=20000)
    assert estimate <= exact * (1 + 1e-12)  # the power-iteration estimate is a lower bound
    assert estimate == pytest.approx(exact, rel=1e-6)


def test_hessian_of_a_vector_output_picks_the_output():
    model = MLP(2, 5, 1, out_dim=2, activation="tanh", sigma_b=0.2, seed=1)
    x = torch.tensor([[0.3, 0.4]], dtype=F64)
    for o in (0, 1):
        exact = np.abs(np.linalg.eigvalsh(_dense_hessian(model, x, o).numpy())).max()
        assert hessian_spectral_norm(model, x, output=o, rtol=1e-11, max_iter=20000) == pytest.approx(exact, rel=1e-6)
    with pytest.raises(ValueError, match="output"):
        hessian_spectral_norm(model, x, output=2)
    with pytest.raises(ValueError, match="one input"):
        hessian_spectral_norm(model, torch.zeros(2, 2, dtype=F64))


def test_two_layer_relu_hessian_has_the_closed_form_norm():
    # f = (1/√m) Σ_i v_i relu(w_i·x/√d): ∂²f/∂v_i∂w_i = 1[h_i > 0] x/√(d m), every other entry 0 (relu'' = 0), so
    # H is a direct sum of m blocks [[0, c_iᵀ], [c_i, 0]] with eigenvalues ±‖c_i‖ = ±‖x‖/√(d m) for active units.
    m, d = 64, 2
    model = MLP(d, m, 1, activation="relu", sigma_b=0.0, seed=4)
    x = torch.tensor([[0.6, 0.8]], dtype=F64)
    expected = float(x.norm()) / math.sqrt(d * m)
    assert hessian_spectral_norm(model, x, rtol=1e-12) == pytest.approx(expected, rel=1e-9)


def test_power_iteration_warns_when_not_converged():
    model = MLP(2, 8, 2, activation="tanh", sigma_b=0.3, seed=0)
    with pytest.warns(RuntimeWarning, match="did not reach"):
        hessian_spectral_norm(model, torch.tensor([[0.6, 0.8]], dtype=F64), rtol=1e-15, max_iter=3)


def test_linearity_sweep_records_the_measured_norms():
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=F64)
    sweep = linearity_sweep([8, 32], [0, 1], x, depth=1, activation="erf", sigma_b=0.1)
    assert sweep.jacobian.shape == sweep.hessian.shape == (2, 2, 2)
    model = MLP(2, 32, 1, activation="erf", sigma_b=0.1, seed=1)
    assert sweep.jacobian[1, 1, 0] == pytest.approx(float(jacobian_norm(model, x[:1])[0]), rel=1e-12)
    assert sweep.hessian[1, 1, 1] == pytest.approx(hessian_spectral_norm(model, x[1:]), rel=1e-12)
    logs = np.log(sweep.hessian.mean(2))
    expected = np.polyfit(np.repeat(np.log([8, 32]), 2), logs.reshape(-1), 1)[0]
    assert sweep.slopes["hessian"].slope == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
def test_horizon_sweep_is_the_running_sup_of_a_training_run(loss):
    config = dict(depth=1, activation="erf", sigma_b=0.1, n_train=6, n_eval=16, target="sin(t)", lr=1.0,
                  record_every=5, loss=loss)
    sweep = horizon_sweep([16], [3], [10, 40], **config)
    data = make_dataset("circle", n_train=6, n_eval=16, target="sin(t)", classification=loss == "cross_entropy")
    model = MLP(2, 16, 1, activation="erf", sigma_b=0.1, seed=3)
    run = train(model, data.x_train, data.y_train, lr=1.0, steps=40, x_eval=data.x_eval, loss=loss, record_every=5)
    assert sweep.discrepancy[0, 0, 0] == pytest.approx(run.discrepancy[run.step <= 10].max(), rel=1e-12)
    assert sweep.discrepancy[0, 0, 1] == pytest.approx(run.discrepancy.max(), rel=1e-12)
    assert sweep.param_distance[0, 0, 1] == pytest.approx(run.param_distance.max(), rel=1e-12)
    assert sweep.final_loss[0, 0] == pytest.approx(run.loss[-1], rel=1e-12)
    with pytest.raises(ValueError, match="multiple of record_every"):
        horizon_sweep([16], [0], [12], **config)


def test_hessian_vector_product_checks_the_vector():
    model = MLP(2, 4, 1, seed=0)
    with pytest.raises(ValueError, match="P = "):
        hessian_vector_product(model, torch.tensor([[0.6, 0.8]], dtype=F64), torch.zeros(3, dtype=F64))
    with pytest.raises(ValueError, match="rtol"):
        hessian_spectral_norm(model, torch.tensor([[0.6, 0.8]], dtype=F64), rtol=0.0)
