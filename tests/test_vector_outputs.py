"""Output-block structure of vector-output NTKs and the pseudo-NTK sweep, against explicit loops over blocks,
torch.kron and direct kernel-regression solves."""
import math

import numpy as np
import pytest
import torch

from ntk_explorer import MLP, analytic_kernels, empirical_ntk
from ntk_explorer.dynamics import kernel_matrix
from ntk_explorer.experiments.vector_outputs import kernel_regression_predictions, pseudo_ntk_sweep
from ntk_explorer.kernels.vector_outputs import kron_identity, kronecker_error, output_blocks, pseudo_from_full

F64 = torch.float64


def _theta(width=24, out_dim=3, seed=0):
    model = MLP(2, width, 1, out_dim=out_dim, activation="erf", sigma_b=0.2, seed=seed)
    x = torch.randn(5, 2, dtype=F64, generator=torch.Generator().manual_seed(seed))
    return model, x, empirical_ntk(model, x)


def test_output_blocks_by_explicit_loops():
    _, _, theta = _theta()
    blocks = output_blocks(theta)
    O = theta.shape[2]
    diag = sum(theta[:, :, o, o] for o in range(O)) / O
    assert torch.allclose(blocks.mean_diagonal, diag, atol=1e-14)
    off = math.sqrt(sum(float((theta[:, :, a, b] ** 2).sum()) for a in range(O) for b in range(O) if a != b))
    on = math.sqrt(sum(float((theta[:, :, a, a] ** 2).sum()) for a in range(O)))
    spread = math.sqrt(sum(float(((theta[:, :, a, a] - diag) ** 2).sum()) for a in range(O)))
    assert blocks.off_diagonal == pytest.approx(off / on, rel=1e-12)
    assert blocks.diagonal_spread == pytest.approx(spread / on, rel=1e-12)
    exact = output_blocks(kron_identity(diag, O))
    assert exact.off_diagonal == 0.0 and exact.diagonal_spread == pytest.approx(0.0, abs=1e-15)


def test_kron_identity_flattens_to_torch_kron():
    K = torch.randn(4, 3, dtype=F64)
    flat, n, o = kernel_matrix(kron_identity(K, 2))
    assert (n, o) == (4, 2)
    assert torch.equal(flat, torch.kron(K, torch.eye(2, dtype=F64)))


def test_pseudo_from_full_and_kronecker_error():
    model, x, theta = _theta()
    pseudo = empirical_ntk(model, x, pseudo=True)
    assert torch.allclose(pseudo_from_full(theta), pseudo, rtol=1e-11)
    diff = theta - pseudo[:, :, None, None] * torch.eye(3, dtype=F64)
    assert kronecker_error(theta, pseudo) == pytest.approx(float(diff.norm() / theta.norm()), rel=1e-12)
    with pytest.raises(ValueError, match="O ≥ 2"):
        output_blocks(theta[:, :, :1, :1])


def test_kernel_regression_predictions_scalar_and_vector():
    model, x, theta = _theta(out_dim=2)
    x_eval = torch.randn(3, 2, dtype=F64, generator=torch.Generator().manual_seed(9))
    y = torch.randn(5, 2, dtype=F64, generator=torch.Generator().manual_seed(8))
    k_eval = empirical_ntk(model, x_eval, x)
    flat, _, _ = kernel_matrix(theta)
    flat_eval, _, _ = kernel_matrix(k_eval)
    expected = (flat_eval @ torch.linalg.solve(flat, y.reshape(-1))).reshape(3, 2)
    assert torch.allclose(kernel_regression_predictions(theta, k_eval, y), expected, rtol=1e-8, atol=1e-10)
    K = empirical_ntk(model, x, pseudo=True)
    Ke = empirical_ntk(model, x_eval, x, pseudo=True)
    assert torch.allclose(kernel_regression_predictions(K, Ke, y), Ke @ torch.linalg.solve(K, y), rtol=1e-8)


def test_pseudo_ntk_sweep_metrics_are_the_direct_ones():
    g = torch.Generator().manual_seed(3)
    x, x_eval = torch.randn(6, 2, dtype=F64, generator=g), torch.randn(4, 2, dtype=F64, generator=g)
    y = torch.randn(6, 3, dtype=F64, generator=g)
    sweep = pseudo_ntk_sweep([16, 64], [0, 1], x, y, x_eval, depth=1, activation="erf", sigma_b=0.2)
    model = MLP(2, 64, 1, out_dim=3, activation="erf", sigma_b=0.2, seed=1)
    theta, tilde = empirical_ntk(model, x), empirical_ntk(model, x, pseudo=True)
    analytic = analytic_kernels(x, depth=1, activation="erf", sigma_b=0.2).ntk
    assert sweep.values["off_diagonal"][1, 1] == pytest.approx(output_blocks(theta).off_diagonal, rel=1e-10)
    assert sweep.values["pseudo_error"][1, 1] == pytest.approx(kronecker_error(theta, tilde), rel=1e-10)
    assert sweep.values["analytic_error"][1, 1] == pytest.approx(kronecker_error(theta, analytic), rel=1e-10)
    lam = torch.linalg.eigvalsh(kernel_matrix(theta)[0])[-1]
    assert sweep.values["lambda_max_error"][1, 1] == pytest.approx(
        float(abs(torch.linalg.eigvalsh(tilde)[-1] - lam) / lam), rel=1e-8)
    full = kernel_regression_predictions(theta, empirical_ntk(model, x_eval, x), y)
    pseudo = kernel_regression_predictions(tilde, empirical_ntk(model, x_eval, x, pseudo=True), y)
    assert sweep.values["prediction_error"][1, 1] == pytest.approx(float((pseudo - full).norm() / full.norm()),
                                                                   rel=1e-8)
    expected = np.polyfit(np.repeat(np.log([16, 64]), 2), np.log(sweep.values["off_diagonal"]).reshape(-1), 1)[0]
    assert sweep.slopes["off_diagonal"].slope == pytest.approx(expected, rel=1e-10)
