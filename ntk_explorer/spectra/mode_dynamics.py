"""Eigenmodes in finite networks: D-learnability of trained MLPs and per-mode decay of the training residual.

Training convention (used by `network_learnability` and `mode_residuals`): full-batch gradient descent on the
mean squared error L(θ) = (1/(2N)) Σ_i (f(x_i) − y_i)² over the N training points, θ ← θ − lr ∇L. Linearised
(Lee et al. 2019; Y. Chen, "Linearized Networks", eqs. (8), (14), discretised), the training residual
r_t = f_t(D) − y obeys
r_{t+1} = (I − (lr/N) Θ_0) r_t, so its component along the i-th eigenvector of Θ_0(D, D) decays as
(1 − lr λ_i/N)^t: large-eigenvalue modes are learned first (spectral bias; Jacot et al. 2018, Bordelon et al. 2020).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import numpy as np
import torch

from ..validation import check_finite_number, check_seed
from .eigenlearning import kernel_regression, random_train_sets, target_values
from .domains import Domain, as_kernel_matrix, check_domain

__all__ = ["ModeResiduals", "mode_residuals", "project_residuals", "NetworkLearnability", "network_learnability"]


def _train_modes(k_train_train):
    """Eigenvalues (descending) and orthonormal eigenvectors of Θ_0(D, D); each vector's largest entry > 0."""
    K = as_kernel_matrix(k_train_train, name="k_train_train")
    evals, U = torch.linalg.eigh(K)
    evals, U = evals.flip(0), U.flip(1)
    return evals, U * torch.sign(U.gather(0, U.abs().argmax(0, keepdim=True)))


@dataclass(frozen=True, eq=False)
class ModeResiduals:
    """Training residual in the eigenbasis of Θ_0(D, D) (see the module docstring).

    eigenvalues (N,) descending, eigenvectors (N, N) (columns u_i), steps (S,), decay[s, i] = (1 − lr λ_i/N)^t_s
    and projections[s, i] = u_iᵀ r_{t_s} = decay[s, i] · u_iᵀ r_0 for the linearised network.
    """

    eigenvalues: torch.Tensor
    eigenvectors: torch.Tensor
    steps: torch.Tensor
    decay: torch.Tensor
    projections: torch.Tensor


def mode_residuals(k_train_train, f0_train, y_train, lr, steps) -> ModeResiduals:
    """Per-mode training residual of a linearised network under GD (Lee et al. 2019; module docstring).

    k_train_train: Θ_0(D, D), (N, N); f0_train, y_train: (N,) initial outputs and labels; lr > 0 in the
    convention L = (1/(2N)) Σ r²; steps: an int T (t = 0..T) or a 1-D sequence of step counts ≥ 0.
    Returns `ModeResiduals`; modes with lr λ_i/N > 2 grow (|1 − lr λ_i/N| > 1): GD diverges along them.
    """
    evals, U = _train_modes(k_train_train)
    N = evals.numel()
    f0 = torch.as_tensor(f0_train, dtype=torch.float64, device=U.device).reshape(-1)
    y = torch.as_tensor(y_train, dtype=torch.float64, device=U.device).reshape(-1)
    if f0.numel() != N or y.numel() != N:
        raise ValueError(f"f0_train and y_train must have N = {N} entries (rows of k_train_train)")
    for name, values in (("f0_train", f0), ("y_train", y)):
        if not bool(torch.isfinite(values).all()):
            raise ValueError(f"{name} contains NaN or inf values")
    if not isinstance(lr, (int, float)) or isinstance(lr, bool) or not lr > 0 or not math.isfinite(lr):
        raise ValueError(f"lr must be a finite number > 0, got {lr!r}")
    if isinstance(steps, (int, np.integer)) and not isinstance(steps, bool):
        if steps < 0:
            raise ValueError(f"steps must be ≥ 0, got {steps}")
        t = torch.arange(int(steps) + 1, device=U.device)
    else:
        t = torch.as_tensor(steps, device=U.device)
        if t.dim() != 1 or t.is_floating_point() or (t < 0).any():
            raise ValueError("steps must be an int or a 1-D sequence of integer step counts ≥ 0")
    decay = (1 - lr * evals / N)[None, :] ** t[:, None].to(torch.float64)
    projections = decay * (U.T @ (f0 - y))[None, :]
    return ModeResiduals(evals, U, t, decay, projections)


def project_residuals(k_train_train, residuals) -> torch.Tensor:
    """Measured residuals r_t = f_t(D) − y, shape (S, N), projected on the eigenvectors of Θ_0(D, D): (S, N).

    Same eigenvector order and signs as `mode_residuals`, so measured and predicted curves can be overlaid.
    """
    _, U = _train_modes(k_train_train)
    r = torch.as_tensor(residuals, dtype=torch.float64, device=U.device)
    if r.shape[-1] != U.shape[0]:
        raise ValueError(f"residuals must have N = {U.shape[0]} entries in their last dimension")
    if not bool(torch.isfinite(r).all()):
        raise ValueError("residuals contain NaN or inf values")
    return r @ U


@dataclass(frozen=True, eq=False)
class NetworkLearnability:
    """D-learnability of trained networks: mean and stderr over trials, per-trial samples (trials, T), the
    final training loss (1/(2N)) Σ r² per (trial, target) and the number of GD steps run (0 for f^lin).

    Whether the networks stayed lazy (method="gd"; for "linearized" nothing moves): ``kernel_drift`` (trials, T),
    the relative change ‖Θ̂_T(D, D) − Θ̂_0(D, D)‖_F/‖Θ̂_0(D, D)‖_F of each network's empirical NTK on its training
    set between initialisation and the end of GD (the kernel drift of Lee et al. 2019, Theorem 2.1, as
    ``train`` reports it); ``final_kernel_samples`` (trials, T) or None: with ``final_kernel=True``, the
    D-learnability of kernel regression from zero with the *trained* network's empirical NTK Θ̂_T over the
    whole domain, to compare with that of Θ̂_0 (method="linearized")."""

    mean: torch.Tensor
    stderr: torch.Tensor
    samples: torch.Tensor
    train_loss: torch.Tensor
    steps: int
    kernel_drift: torch.Tensor = None
    final_kernel_samples: torch.Tensor = None


def _stacked_mlps(models):
    """Per-layer weights (B, fan_out, fan_in) and biases (B, fan_out) of B MLPs, as fresh leaf tensors."""
    layers = range(len(models[0].weights))
    W = [torch.stack([m.weights[l].detach() for m in models]).requires_grad_(True) for l in layers]
    b = [torch.stack([m.biases[l].detach() for m in models]).requires_grad_(True) for l in layers]
    return W, b


def _batched_forward(model, W, b, x):
    """Outputs (B, N) of B stacked copies of an MLP (its documented h = m_W W a + m_b b layers) on x (B, N, d)."""
    from ..models import activation_fn

    phi, h = activation_fn(model.activation), x
    for l, (Wl, bl) in enumerate(zip(W, b)):
        if l > 0:
            h = phi(h)
        h = torch.baddbmm(model.bias_multipliers[l] * bl[:, None, :], h, Wl.transpose(1, 2),
                          alpha=model.weight_multipliers[l])
    return h[..., 0]


@contextlib.contextmanager
def _single_thread():
    """Run on one intra-op thread (restored afterwards): the many tiny batched matmuls of small-network GD are
    slowed down many-fold by thread synchronisation, worst on a shared, busy CPU."""
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(saved)


def _gradient_descent(model, W, b, x_D, y_D, lr, max_steps, tol):
    """Full-batch GD on (1/(2N)) Σ r² for each of the B stacked networks until max mean r² ≤ tol · mean y².

    A network whose loss rises from one step to the next has its lr halved (finite-width NTKs can grow during
    training and push a fixed lr past the 2N/λ_max stability edge)."""
    scale, previous = (y_D**2).mean(1).clamp_min(1e-300), None
    for step in range(max_steps):
        r = _batched_forward(model, W, b, x_D) - y_D
        loss = 0.5 * (r**2).mean(1)
        if step % 25 == 0 and bool((2 * loss <= tol * scale).all()):
            return loss.detach(), step
        if previous is not None:
            lr = torch.where(loss.detach() > previous * (1 + 1e-3), 0.5 * lr, lr)
        previous = loss.detach()
        grads = torch.autograd.grad(loss.sum(), W + b)
        with torch.no_grad():
            for p, g in zip(W + b, grads):
                p -= lr.reshape((-1,) + (1,) * (p.dim() - 1)) * g
    r = _batched_forward(model, W, b, x_D) - y_D
    return (0.5 * (r**2).mean(1)).detach(), max_steps


def _linearized_predictions(domain, models, x_all, idx, y, center):
    """f̂ (trials, M, T) of f^lin at t → ∞: kernel regression with each model's empirical NTK (Y. Chen,
    "Linearized Networks", eq. (9))."""
    f_hat = torch.empty(len(models), domain.M, y.shape[2], dtype=torch.float64, device=x_all.device)
    for i, model in enumerate(models):
        K = domain.empirical_ntk(model)
        if center:  # g = f − f_0 starts at 0 and is fitted to y
            f_hat[i] = kernel_regression(K, idx[i], y[i])
        else:  # f^lin_∞ = f_0 + Θ̂(·, D) Θ̂(D, D)^{-1} (y − f_0(D))
            f0 = model(x_all).detach()
            f_hat[i] = f0 + kernel_regression(K, idx[i], y[i] - f0[idx[i]])
    return f_hat


def _gd_predictions(models, x_all, idx, y, center, lr, max_steps, tol):
    """f̂ (trials, M, T) of the networks after GD, final losses (trials, T), the number of steps run and the
    trained networks (trials × T MLPs, entry [i][t] trained on target t from the initialisation of models[i])."""
    from ..kernels import empirical_ntk

    trials, n, T = y.shape
    M = x_all.shape[0]
    if lr is None:  # per trial N / λ_max(Θ̂_0(D, D)), half the stability limit
        lam_max = torch.stack([torch.linalg.eigvalsh(empirical_ntk(m, x_all[idx[i]]))[-1]
                               for i, m in enumerate(models)])
        lr_trial = n / lam_max
    else:
        lr_trial = torch.full((trials,), float(lr), dtype=torch.float64, device=x_all.device)
    W, b = _stacked_mlps([m for m in models for _ in range(T)])  # batch entry = (trial, target)
    x_every = x_all.expand(trials * T, M, -1)
    with torch.no_grad():
        f0_all = _batched_forward(models[0], W, b, x_every)
    idx_b = idx.repeat_interleave(T, 0)
    y_D = y.permute(0, 2, 1).reshape(trials * T, n) + (f0_all.gather(1, idx_b) if center else 0)
    losses, steps = _gradient_descent(models[0], W, b, x_all[idx_b], y_D, lr_trial.repeat_interleave(T),
                                      max_steps, tol)
    with torch.no_grad():
        out = _batched_forward(models[0], W, b, x_every) - (f0_all if center else 0)
    trained = [[_unstacked_mlp(models[i], W, b, i * T + t) for t in range(T)] for i in range(trials)]
    return out.reshape(trials, T, M).permute(0, 2, 1), losses.reshape(trials, T), steps, trained


def _unstacked_mlp(model, W, b, k):
    """A copy of ``model`` holding the parameters of entry k of the stacked networks (W, b)."""
    net = model.clone()
    with torch.no_grad():
        for l in range(len(W)):
            net.weights[l].copy_(W[l][k])
            net.biases[l].copy_(b[l][k])
    return net


def _kernel_diagnostics(domain, models, trained, x_all, idx, f, final_kernel):
    """kernel_drift (trials, T) on each training set and, if final_kernel, the D-learnability of kernel regression
    with each trained network's empirical NTK on the domain (trials, T) (see `NetworkLearnability`)."""
    from ..kernels import empirical_ntk

    trials, T = len(trained), len(trained[0])
    drift = torch.zeros(trials, T, dtype=torch.float64, device=x_all.device)
    final = torch.zeros_like(drift) if final_kernel else None
    for i in range(trials):
        K0 = empirical_ntk(models[i], x_all[idx[i]])
        for t, net in enumerate(trained[i]):
            K_T = K0 if net is models[i] else empirical_ntk(net, x_all[idx[i]])
            drift[i, t] = torch.linalg.matrix_norm(K_T - K0) / torch.linalg.matrix_norm(K0)
            if final_kernel:
                f_hat = kernel_regression(domain.empirical_ntk(net), idx[i], f[idx[i], t])
                final[i, t] = (f[:, t] * f_hat).sum() / (f[:, t] ** 2).sum()
    return drift, final


@_single_thread()
def network_learnability(domain: Domain, target, n, *, width, depth=1, activation="relu", parameterization="ntk",
                         sigma_w=1.0, sigma_b=0.0, trials=20, method="gd", lr=None, max_steps=20000, tol=1e-6,
                         center=True, seed=0, device=None, final_kernel=False) -> NetworkLearnability:
    """D-learnability ⟨f, f̂⟩/⟨f, f⟩ of finite MLPs trained on n random domain points (Simon et al. 2021).

    Trial i draws the same training set as `empirical_learnability(..., seed=seed)` and initialises
    MLP(domain.dim, width, depth, ..., seed=seed + i) (float64, on `device`). method="gd": full-batch GD
    (module docstring) until every training loss satisfies mean r² ≤ tol · mean y² or max_steps; lr=None picks
    lr = N / λ_max(Θ̂_0(D, D)) per trial (half the stability limit 2N/λ_max) whatever the parameterization.
    method="linearized": the t → ∞ limit of f^lin, i.e. kernel regression with the empirical NTK Θ̂_0 (Lee et al.
    2019; Simon et al. 2021). center=True trains f − f_0 (the prediction starts at 0, as for kernel regression;
    Simon et al. do the same); center=False keeps the random initial function in f̂.
    target: values on the domain (M,) or (M, T), or a callable of domain.x; each target gets its own networks.
    Also reports each network's kernel drift on its training set (0 for "linearized") and, with
    final_kernel=True, what kernel regression with its trained empirical NTK learns (`NetworkLearnability`).
    Runs on one CPU thread (restored after): small batched matmuls are slower with more.
    """
    from ..models import MLP

    if method not in ("gd", "linearized"):
        raise ValueError(f"method must be 'gd' or 'linearized', got {method!r}")
    if lr is not None and (isinstance(lr, bool) or not isinstance(lr, (int, float)) or not 0 < lr < math.inf):
        raise ValueError(f"lr must be None (automatic) or a finite number > 0, got {lr!r}")
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
        raise ValueError(f"max_steps must be an int ≥ 1, got {max_steps!r}")
    tol, seed, M = check_finite_number(tol, "tol", minimum=0), check_seed(seed), check_domain(domain).M
    f = target_values(target(domain.x) if callable(target) else target, M, torch.device("cpu")).reshape(M, -1)
    idx = random_train_sets(M, n, trials, seed)
    models = [MLP(domain.dim, width, depth, 1, activation, parameterization, sigma_w, sigma_b, seed + i,
                  device=device) for i in range(trials)]
    dev = models[0].device
    x_all, f, idx = domain.x.to(dev), f.to(dev), idx.to(dev)
    y = f[idx]  # (trials, n, T)
    if method == "linearized":
        f_hat = _linearized_predictions(domain, models, x_all, idx, y, center)
        losses, steps = torch.zeros(trials, f.shape[1], dtype=torch.float64, device=dev), 0
        trained = [[model] * f.shape[1] for model in models]  # f^lin keeps Θ̂_0: nothing moves
    else:
        f_hat, losses, steps, trained = _gd_predictions(models, x_all, idx, y, center, lr, max_steps, tol)
    drift, final = _kernel_diagnostics(domain, models, trained, x_all, idx, f, bool(final_kernel))
    samples = (f[None] * f_hat).sum(1) / (f * f).sum(0)
    return NetworkLearnability(samples.mean(0), samples.std(0) / math.sqrt(trials), samples, losses, steps, drift,
                               final)
