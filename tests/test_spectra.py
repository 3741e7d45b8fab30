"""Tests of ntk_explorer.spectra: domains, eigensystems, eigenlearning theory vs measurement, conservation law.

References are independent of the code under test: closed-form Walsh sums and FFTs of the kernel profile, direct
kernel regression, hand-written formulas and finite differences (Simon et al. 2021).
"""

import math

import numpy as np
import pytest
import torch
from scipy.special import comb

from ntk_explorer import analytic_kernels
from ntk_explorer.spectra import (
    circle,
    d_learnability,
    eigensystem,
    empirical_learnability,
    hypercube,
    kernel_regression,
    learnability,
    points,
    predicted_mse,
    random_train_sets,
    solve_kappa,
    transfer_matrix,
)


@pytest.fixture(scope="module")
def cube8():
    domain = hypercube(8)
    K = analytic_kernels(domain.x, depth=2, activation="relu").ntk
    return domain, K, eigensystem(K, domain)


@pytest.fixture(scope="module")
def cube6():
    domain = hypercube(6)
    return domain, domain.analytic_kernel(depth=2, activation="relu", sigma_b=0.1)


def walsh(domain, subset):
    """χ_S(x) = Π_{j∈S} sqrt(d)·x_j, built from the coordinates (not from the module's basis)."""
    x = domain.x.numpy() * math.sqrt(domain.d)
    return np.prod(x[:, list(subset)], axis=1)


def test_hypercube_eigenvalues_are_walsh_sums(cube8):
    domain, K, sys = cube8
    Kn, M, d = K.numpy(), 256, 8
    assert torch.equal(sys.levels, torch.arange(d + 1))
    assert sys.multiplicities.tolist() == [comb(d, k, exact=True) for k in range(d + 1)]
    x0 = 37  # any reference point
    for k in range(d + 1):
        chi = walsh(domain, range(k))
        closed_form = (Kn[:, x0] * chi * chi[x0]).sum() / M
        assert abs(sys.level_eigenvalues[k].item() - closed_form) < 1e-12
        per_function = sys.eigenvalues[sys.family == k]
        assert (per_function - closed_form).abs().max() < 1e-12
    total = (torch.tensor([comb(d, k) for k in range(d + 1)]) * sys.level_eigenvalues).sum()
    assert torch.allclose(total.expand(M), torch.diagonal(K), rtol=0, atol=1e-12)
    assert sys.residual < 1e-12


def test_hypercube_degrees_are_not_assigned_by_sort_order(cube8):
    domain, K, sys = cube8
    lam = sys.level_eigenvalues
    assert lam[6] > lam[5]  # this ReLU NTK's eigenvalues are not monotone in the degree
    exact = torch.linalg.eigvalsh(K / 256).flip(0)  # full eigendecomposition: same multiset of eigenvalues
    assert torch.allclose(exact, sys.eigenvalues.sort(descending=True).values, rtol=0, atol=1e-13)


@pytest.mark.parametrize("M", [64, 51])
def test_circle_eigenvalues_are_fourier_coefficients(M):
    domain = circle(M)
    K = domain.analytic_kernel(depth=1, activation="relu", sigma_b=0.2)
    sys = eigensystem(K, domain)
    profile = K[:, 0].numpy()  # K depends only on the angle θ_j - θ_0
    fourier = np.fft.rfft(profile).real / M
    assert torch.equal(sys.levels, torch.arange(M // 2 + 1))
    assert np.abs(sys.level_eigenvalues.numpy() - fourier).max() < 1e-12
    expected = [1] + [2] * ((M - 1) // 2) + ([1] if M % 2 == 0 else [])
    assert sys.multiplicities.tolist() == expected
    angles = np.arctan2(domain.x[:, 1].numpy(), domain.x[:, 0].numpy())
    k3 = sys.eigenfunctions[:, sys.family == 3].numpy()  # spans cos 3θ, sin 3θ
    proj = k3 @ (k3.T @ np.cos(3 * angles)) / M
    assert np.allclose(proj, np.cos(3 * angles), atol=1e-12)


@pytest.mark.parametrize("kind", ["circle", "hypercube", "points"])
def test_eigenfunctions_orthonormal_and_mercer(kind):
    if kind == "circle":
        domain = circle(40)
    elif kind == "hypercube":
        domain = hypercube(5)
    else:
        domain = points(torch.randn(30, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64))
    K = domain.analytic_kernel(depth=2, activation="erf", sigma_b=0.3)
    sys = eigensystem(K, domain)
    M, phi, lam = domain.M, sys.eigenfunctions, sys.eigenvalues
    assert torch.allclose(phi.T @ phi / M, torch.eye(M, dtype=torch.float64), atol=1e-12)  # orthonormal
    assert torch.allclose(K @ phi / M, phi * lam, atol=1e-12)  # eigenfunctions of K/M
    assert torch.allclose((phi * lam) @ phi.T, K, atol=1e-12)  # Mercer / spectral theorem
    f = torch.randn(M, dtype=torch.float64)
    assert torch.allclose(phi @ sys.coefficients(f), f, atol=1e-12)  # complete basis


def test_domains_are_hashable_and_validated():
    assert circle(8) == circle(8) and hash(hypercube(3)) == hash(hypercube(3))
    assert len({circle(8), circle(8), circle(9)}) == 2
    cloud = points(np.zeros((4, 2)))
    assert hash(cloud) == hash(cloud)
    for bad in (lambda: circle(1), lambda: hypercube(0), lambda: hypercube(13), lambda: points(np.zeros(3))):
        with pytest.raises(ValueError):
            bad()
    with pytest.raises(ValueError, match="rows"):
        eigensystem(torch.eye(5), circle(4))
    with pytest.raises(TypeError):
        eigensystem(torch.eye(4), "circle")


def test_eigensystem_warns_when_the_family_does_not_diagonalise():
    domain = hypercube(4)
    A = torch.randn(16, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    with pytest.warns(RuntimeWarning, match="does not diagonalise"):
        sys = eigensystem(A @ A.T, domain)
    assert sys.residual > 1e-3


def test_domain_empirical_ntk_matches_core():
    from ntk_explorer import MLP, empirical_ntk

    domain = circle(12)
    model = MLP(2, 16, 1, seed=3, device="cpu")
    assert torch.allclose(domain.empirical_ntk(model), empirical_ntk(model, domain.x), atol=1e-14)


# ------------------------------------------------------------------------------------------- theory
@pytest.mark.parametrize("ridge", [0.0, 1e-3, 0.5])
def test_kappa_solves_its_equation(cube8, ridge):
    _, _, sys = cube8
    lam, m = sys.level_eigenvalues.numpy(), sys.multiplicities.numpy()
    ns = np.array([1, 16, 64, 200, 255.5])
    kappas = solve_kappa(lam, ns, m, ridge=ridge)
    for n, kappa in zip(ns, kappas):
        residual = (m * lam / (lam + kappa)).sum() + ridge / kappa - n
        assert abs(residual) < 1e-12
        assert kappa == pytest.approx(solve_kappa(lam, float(n), m, ridge=ridge), rel=1e-13)
    L = learnability(lam, ns, m, ridge=ridge)
    assert ((L >= 0) & (L <= 1)).all()
    if ridge == 0:
        assert np.allclose((m * L).sum(1), ns, rtol=0, atol=1e-12)  # conservation law
    else:
        assert ((m * L).sum(1) < ns).all()


def test_kappa_on_a_wide_random_spectrum():
    lam = 10 ** np.random.default_rng(0).uniform(-14, 2, 1000)
    for n in (1, 7, 500, 999, 999.99):
        kappa = solve_kappa(lam, n)
        assert abs((lam / (lam + kappa)).sum() - n) < 1e-12
        assert abs(learnability(lam, n).sum() - n) < 1e-12


def test_kappa_limits_and_errors(cube8):
    _, _, sys = cube8
    lam, m = sys.level_eigenvalues, sys.multiplicities
    assert solve_kappa(lam, 0, m) == math.inf and not learnability(lam, 0, m).any()  # n = 0: nothing learned
    assert solve_kappa(lam, 256, m) == 0.0 and (learnability(lam, 256, m) == 1).all()  # n = M: everything learned
    assert 0 < solve_kappa(lam, 300, m, ridge=0.1) < math.inf
    zero_mode = np.array([1.0, 0.5, 0.0])
    assert learnability(zero_mode, 2).tolist() == [1.0, 1.0, 0.0]
    for bad in (dict(n=257), dict(n=-1), dict(n=16, ridge=-1.0)):
        with pytest.raises(ValueError):
            solve_kappa(lam, multiplicities=m, **bad)
    with pytest.raises(ValueError):
        solve_kappa(np.array([1.0, -0.5]), 1)
    with pytest.raises(ValueError):
        solve_kappa(lam, 3, multiplicities=m[:-1])


@pytest.mark.parametrize("ridge", [0.0, 1e-3, 0.1])
@pytest.mark.parametrize("n", [16, 64])
def test_theory_matches_measured_learnability(cube8, n, ridge):
    domain, K, sys = cube8
    targets = np.stack([walsh(domain, s) for s in ([2], [0, 5], [1, 3, 6])], 1)  # degrees 1, 2, 3
    mean, stderr = empirical_learnability(K, domain, targets, n, trials=200, ridge=ridge)
    theory = learnability(sys.level_eigenvalues, n, sys.multiplicities, ridge=ridge)[1:4]
    assert np.abs(mean.numpy() - theory).max() < 0.02
    assert (stderr < 0.005).all()


def test_empirical_learnability_is_the_mean_of_direct_regressions(cube6):
    domain, K = cube6
    f = walsh(domain, [1, 4])
    mean, stderr = empirical_learnability(K, domain, f, 10, trials=5, ridge=0.01, seed=3)
    direct = []
    for idx in random_train_sets(64, 10, 5, seed=3):
        f_hat = np.linalg.solve(K.numpy()[np.ix_(idx, idx)] + 0.01 * np.eye(10), f[idx])
        direct.append(f @ (K.numpy()[:, idx] @ f_hat) / (f @ f))
    assert abs(mean - np.mean(direct)) < 1e-12
    assert abs(stderr - np.std(direct, ddof=1) / math.sqrt(5)) < 1e-12
    idx = random_train_sets(64, 10, 5, seed=3)
    assert all(len(set(row.tolist())) == 10 for row in idx)


def test_predicted_mse_matches_measured_test_error(cube8):
    domain, K, sys = cube8
    g = torch.as_tensor(sum(walsh(domain, s) for s in ([0], [2, 3], [1, 5, 7])) / math.sqrt(3))
    v = torch.sqrt(sys.level_power(g))
    lam, m = sys.level_eigenvalues, sys.multiplicities
    rng = np.random.default_rng(1)
    for n, noise in ((16, 0.0), (64, 0.1)):
        predicted = predicted_mse(lam, v, n, m, noise=noise)
        L = learnability(lam, n, m)
        by_hand = n / (n - (m.numpy() * L**2).sum()) * (((1 - L) ** 2 * v.numpy() ** 2).sum() + noise)
        assert abs(predicted - by_hand) < 1e-12
        errors = []
        for idx in random_train_sets(256, n, 200, seed=2):
            y = g[idx] + math.sqrt(noise) * torch.as_tensor(rng.standard_normal(n))
            errors.append(((g - kernel_regression(K, idx, y)) ** 2).mean().item() + noise)
        assert abs(np.mean(errors) / predicted - 1) < 0.05
    assert abs(predicted_mse(lam, v, 0, m, noise=0.2) - 1.2) < 1e-12  # n = 0: ⟨f, f⟩ + ε²
    assert predicted_mse(lam, v, 256, m) == 0.0


# ----------------------------------------------------------------------------- transfer matrix, conservation
def test_transfer_matrix_maps_target_to_predictor_coefficients(cube6):
    domain, K = cube6
    sys = eigensystem(K, domain)
    idx = random_train_sets(64, 20, 2, seed=7)[0]
    T = transfer_matrix(K, domain, idx, eigsys=sys)
    f = torch.randn(64, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    v_hat = sys.coefficients(kernel_regression(K, idx, f[idx]))  # transfer matrix (Simon et al. 2021)
    assert torch.allclose(T @ sys.coefficients(f), v_hat, atol=1e-10)
    direct = d_learnability(K, sys.eigenfunctions, idx)  # T_ii = L^(D)(φ_i)
    assert torch.allclose(torch.diagonal(T), direct, atol=1e-10)
    T_ridge = transfer_matrix(K, domain, idx, ridge=0.05)
    v_ridge = sys.coefficients(kernel_regression(K, idx, f[idx], ridge=0.05))
    assert torch.allclose(T_ridge @ sys.coefficients(f), v_ridge, atol=1e-10)


@pytest.mark.parametrize("n", [1, 13, 40, 63])
def test_conservation_law_for_random_sets_and_random_bases(cube6, n):
    domain, K = cube6
    gen = torch.Generator().manual_seed(n)
    for idx in random_train_sets(64, n, 3, seed=n):
        assert abs(torch.trace(transfer_matrix(K, domain, idx)).item() - n) < 1e-8  # conservation law: tr T = n
        eig = eigensystem(K, domain).eigenfunctions
        assert abs(d_learnability(K, eig, idx).sum().item() - n) < 1e-8
        Q, _ = torch.linalg.qr(torch.randn(64, 64, dtype=torch.float64, generator=gen))
        basis = math.sqrt(64) * Q  # orthonormal under ⟨f, g⟩ = (1/M) Σ f g
        assert abs(d_learnability(K, basis, idx).sum().item() - n) < 1e-8


def test_conservation_law_on_a_point_cloud():
    x = torch.randn(50, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    domain = points(x)
    K = domain.analytic_kernel(depth=3, activation="relu", sigma_b=0.1)
    idx = random_train_sets(50, 17, 2, seed=1)[1]
    assert abs(torch.trace(transfer_matrix(K, domain, idx)).item() - 17) < 1e-8


def _dT_jj(K_DD, phi_D, lam, i, j):
    """Eigenmode competition (Simon et al. 2021): dT_jj/dλ_i = (δ_ij − λ_j φ_jᵀ Θ^{-1} φ_i) φ_iᵀ Θ^{-1} φ_j,
    Θ = K(D, D)."""
    c = phi_D[:, j] @ torch.linalg.solve(K_DD, phi_D[:, i])
    return (float(i == j) - lam[j] * c) * c


@pytest.mark.parametrize("i", [3, 20, 45])
def test_zero_sum_competition(cube6, i):
    domain, K = cube6
    sys = eigensystem(K, domain)
    phi, lam = sys.eigenfunctions, sys.eigenvalues
    idx = random_train_sets(64, 20, 2, seed=11)[0]
    T0 = torch.diagonal(transfer_matrix(K, domain, idx))

    def rebuilt(scale):  # K with λ_i → scale · λ_i (spectral theorem)
        return K + (scale - 1) * lam[i] * torch.outer(phi[:, i], phi[:, i])

    T1 = torch.diagonal(transfer_matrix(rebuilt(1.5), domain, idx))
    others = torch.arange(64) != i
    assert T1[i] > T0[i] + 1e-6  # the boosted mode gains
    assert (T1[others] <= T0[others] + 1e-12).all()  # every other mode loses
    assert (T0 - T1)[others].sum() == pytest.approx((T1 - T0)[i].item(), abs=1e-10)  # trace stays n
    h = 1e-4  # the derivative dT_jj/dλ_i by central differences
    diff = (torch.diagonal(transfer_matrix(rebuilt(1 + h), domain, idx))
            - torch.diagonal(transfer_matrix(rebuilt(1 - h), domain, idx))) / (2 * h * lam[i])
    K_DD, phi_D = K[idx][:, idx], phi[idx]
    exact = torch.stack([_dT_jj(K_DD, phi_D, lam, i, j) for j in range(64)])
    assert torch.allclose(diff, exact, rtol=1e-5, atol=1e-8 * exact.abs().max().item())
    assert (exact[others] <= 1e-12 * exact.abs().max()).all()
