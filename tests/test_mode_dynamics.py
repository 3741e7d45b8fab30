"""Tests of the mode dynamics and trained-network learnability in ntk_explorer.spectra.

References: GD iterated by hand on a model that is exactly linear in its parameters (depth-0 MLP, constant
NTK), direct kernel regression with the empirical NTK, and the 1/sqrt(width) approach of a trained network to
its linearisation (Lee et al. 2019, Theorem 2.1).
"""


import numpy as np
import pytest
import torch

from ntk_explorer import MLP, empirical_ntk
from ntk_explorer.spectra import (
    empirical_learnability,
    hypercube,
    kernel_regression,
    learnability,
    eigensystem,
    mode_residuals,
    network_learnability,
    project_residuals,
    random_train_sets,
)


def test_mode_residuals_match_gd_iterated_by_hand():
    gen = torch.Generator().manual_seed(0)
    A = torch.randn(12, 12, dtype=torch.float64, generator=gen)
    K = A @ A.T / 12 + 0.1 * torch.eye(12, dtype=torch.float64)
    f0, y = torch.randn(12, dtype=torch.float64, generator=gen), torch.randn(12, dtype=torch.float64, generator=gen)
    lam_max = np.linalg.eigvalsh(K.numpy()).max()
    lr = 1.5 * 12 / lam_max
    out = mode_residuals(K, f0, y, lr, 30)
    r = (f0 - y).clone()
    for t in range(31):
        assert torch.allclose(out.eigenvectors @ out.projections[t], r, atol=1e-10)
        r = r - lr / 12 * K @ r  # θ ← θ − lr ∇(1/(2N)) Σ r², linearised
    lam = np.sort(np.linalg.eigvalsh(K.numpy()))[::-1].copy()
    assert np.allclose(out.eigenvalues.numpy(), lam, atol=1e-12)
    assert torch.allclose(out.decay[7], torch.as_tensor((1 - lr * lam / 12) ** 7), atol=1e-12)
    picked = mode_residuals(K, f0, y, lr, [0, 7, 30])
    assert torch.allclose(picked.projections, out.projections[[0, 7, 30]], atol=1e-12)
    one_step = mode_residuals(K, f0, y, 12 / lam_max, 1)  # the top mode is learned in one step
    assert abs(one_step.projections[1, 0]) < 1e-10 * one_step.projections[0].abs().max()


def test_mode_residuals_of_a_linear_model_trained_by_gd():
    """A depth-0 MLP is linear in its parameters: its NTK is constant and GD follows the theory exactly."""
    x = torch.randn(10, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    y = torch.sin(x.sum(1))
    model = MLP(3, 1, 0, sigma_b=0.5, seed=2, device="cpu")
    K = empirical_ntk(model, x)
    f0 = model(x)[:, 0].detach()
    lr, residuals = 2.0, []
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    for _ in range(21):
        r = model(x)[:, 0] - y
        residuals.append(r.detach())
        optimizer.zero_grad()
        (0.5 * (r**2).mean()).backward()
        optimizer.step()
    theory = mode_residuals(K, f0, y, lr, 20)
    measured = project_residuals(K, torch.stack(residuals))
    assert torch.allclose(measured, theory.projections, atol=1e-10)
    # spectral bias: the relative residual of the top mode falls fastest
    ratio = (theory.projections[20] / theory.projections[0]).abs()
    assert ratio[0] < ratio[2] < 1


def test_mode_residuals_validation():
    with pytest.raises(ValueError, match="lr"):
        mode_residuals(torch.eye(3), torch.zeros(3), torch.ones(3), -1.0, 5)
    with pytest.raises(ValueError, match="N = 3"):
        mode_residuals(torch.eye(3), torch.zeros(4), torch.ones(3), 0.1, 5)
    with pytest.raises(ValueError, match="symmetric"):
        mode_residuals(torch.triu(torch.ones(3, 3)), torch.zeros(3), torch.ones(3), 0.1, 5)


# ------------------------------------------------------------------------------------------ networks
@pytest.fixture(scope="module")
def cube6():
    domain = hypercube(6)
    K = domain.analytic_kernel(depth=2)
    sys = eigensystem(K, domain)
    targets = torch.stack([sys.eigenfunctions[:, sys.family == k][:, 0] for k in (1, 2, 3)], 1)
    return domain, K, sys, targets


def test_linearized_network_is_regression_with_its_empirical_ntk(cube6):
    domain, _, _, targets = cube6
    out = network_learnability(domain, targets[:, 1], 12, width=24, depth=2, trials=3, method="linearized",
                               seed=4, device="cpu")
    f = targets[:, 1]
    for i, idx in enumerate(random_train_sets(64, 12, 3, seed=4)):
        model = MLP(6, 24, 2, seed=4 + i, device="cpu")
        K = empirical_ntk(model, domain.x)
        f_hat = kernel_regression(K, idx, f[idx])
        assert abs(out.samples[i, 0].item() - (f @ f_hat / (f @ f)).item()) < 1e-10


def test_gd_on_a_linear_model_reaches_the_kernel_regression_limit(cube6):
    """Depth 0: f^lin = f, so GD to convergence must give kernel regression with the (constant) NTK."""
    domain, _, _, targets = cube6
    kw = dict(width=1, depth=0, sigma_b=0.7, trials=4, seed=1, device="cpu")
    gd = network_learnability(domain, targets[:, 0], 5, method="gd", tol=1e-16, max_steps=20000, **kw)
    lin = network_learnability(domain, targets[:, 0], 5, method="linearized", **kw)
    assert gd.train_loss.max() < 1e-14
    assert torch.allclose(gd.samples, lin.samples, atol=1e-6)


def test_trained_networks_approach_the_theory_as_width_grows(cube6):
    domain, K, sys, targets = cube6
    n = 16
    theory = learnability(sys.level_eigenvalues, n, sys.multiplicities)[1:4]
    kernel_mean, _ = empirical_learnability(K, domain, targets, n, trials=200)
    assert np.abs(kernel_mean.numpy() - theory).max() < 0.02
    lin = network_learnability(domain, targets, n, width=256, depth=2, trials=12, method="linearized",
                               device="cpu")
    assert (np.abs(lin.mean.numpy() - theory) < 3 * lin.stderr.numpy() + 0.02).all()
    gaps = []
    for width in (32, 256):
        kw = dict(width=width, depth=2, trials=8, device="cpu")
        gd = network_learnability(domain, targets[:, 1], n, method="gd", **kw)
        ref = network_learnability(domain, targets[:, 1], n, method="linearized", **kw)
        assert gd.train_loss.max() < 1e-5 and gd.steps > 0
        gaps.append((gd.samples - ref.samples).abs().mean().item())  # same D, same initialisation
    assert gaps[1] < 0.1
    assert gaps[1] < 0.7 * gaps[0]  # finite-width gap shrinks ~ 1/sqrt(width) (Lee et al. 2019, Theorem 2.1)


def test_network_learnability_validation(cube6):
    domain, _, _, targets = cube6
    with pytest.raises(ValueError, match="method"):
        network_learnability(domain, targets, 8, width=8, method="adam")
    with pytest.raises(ValueError, match="n must"):
        network_learnability(domain, targets, 65, width=8)


def test_kernel_drift_and_final_kernel_match_train(cube6):
    """Reference: the same GD run by ``train`` (a separate implementation), its kernel drift on the training set
    and kernel regression with the empirical NTK of the network it trained."""
    from ntk_explorer import train_stream
    from ntk_explorer.spectra import d_learnability

    domain, _, _, targets = cube6
    n, steps, lr = 12, 60, 2.0
    out = network_learnability(domain, targets[:, :2], n, width=16, depth=2, trials=2, method="gd", lr=lr,
                               max_steps=steps, tol=0.0, seed=3, device="cpu", final_kernel=True)
    assert out.steps == steps and out.kernel_drift.shape == (2, 2) and out.final_kernel_samples.shape == (2, 2)
    for i, idx in enumerate(random_train_sets(64, n, 2, seed=3)):
        model = MLP(6, 16, 2, seed=3 + i, device="cpu")
        x = domain.x[idx]
        for t in range(2):
            f = targets[:, t]
            y = f[idx] + model(x).detach()[:, 0]  # center=True: f − f_0 is fitted to f(D)
            stream = train_stream(model, x, y, lr=lr, steps=steps, record_every=steps, kernel_every=steps)
            final = list(stream)[-1]
            assert abs(out.kernel_drift[i, t].item() - final.kernel_drift) < 1e-8 * max(1.0, final.kernel_drift)
            reference = d_learnability(domain.empirical_ntk(stream.network), f, idx)
            assert abs(out.final_kernel_samples[i, t].item() - reference) < 1e-8
    assert (out.kernel_drift > 0).all()
    lin = network_learnability(domain, targets[:, 0], n, width=16, depth=2, trials=2, method="linearized", seed=3,
                               device="cpu", final_kernel=True)
    assert (lin.kernel_drift == 0).all() and lin.final_kernel_samples is not None
    assert torch.allclose(lin.final_kernel_samples, lin.samples, atol=1e-10)  # Θ̂_T = Θ̂_0, centered regression
    assert network_learnability(domain, targets[:, 0], n, width=8, trials=2, method="linearized",
                                device="cpu").final_kernel_samples is None
