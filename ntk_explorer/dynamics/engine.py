"""The state machine behind :func:`ntk_explorer.train_stream`: f and f^lin advanced one GD step at a time.

Real network (a private copy of the model): θ ← θ − (lr/α²) ∇_θ L(h) with h = f_0 + α (f(·; θ) − f_0).
Linearized network, "function" path (Y. Chen, "Linearized Networks", eq. (14); Sutherland's NTK slides,
"Other loss functions"):
    f^lin(X) ← f^lin(X) − (lr/N) Θ_0(X, X) g_t,     g_t = ∇_f ℓ(f^lin(X), Y)  (per sample, (N, O)),
and on eval points f^lin_t(E) = f_0(E) − (lr/N) Θ_0(E, X) Σ_{s<t} g_s, evaluated only when recorded.
"parameter" path: δ ← δ − (lr/α²)(α/N) J_0ᵀ g_t and f^lin = f_0 + α J_0 δ, with J_0ᵀ· a reusable
torch.func.vjp and J_0· a torch.func.jvp at θ_0 (Chen eqs. (10)–(12)).  The NTK of h is α² Θ_0 and the
rate lr/α², so both paths are independent of α.
"""
from __future__ import annotations

import copy
import math

import numpy as np
import torch

from .losses import Loss
from ..validation import as_inputs, model_dtype_device
from .closed_form import critical_learning_rates, kernel_matrix
from ..kernels.empirical import empirical_ntk
from ..kernels.linearize import LinearizedModel
from ..memory import check_training_memory
from ..models import MLP


def check_positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be an integer ≥ 1, got {value!r}")
    return int(value)


def check_positive_number(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) \
            or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def _inputs(x, name, dtype, device, in_dim=None):
    if isinstance(x, torch.Tensor):
        x = x.detach().to(device=device)
    return as_inputs(x, name, dtype=dtype, device=device, in_dim=in_dim)


def _targets(y, dtype, device) -> torch.Tensor:
    if isinstance(y, torch.Tensor):
        y = y.detach().to(device=device, dtype=dtype)
    else:
        try:
            y = torch.as_tensor(np.asarray(y, dtype=np.float64), dtype=dtype, device=device)
        except (TypeError, ValueError) as error:
            raise TypeError(f"y_train must be a tensor or an array of numbers: {error}"[:300]) from None
    if y.ndim not in (1, 2) or not bool(torch.isfinite(y).all()):
        raise ValueError(f"y_train must be a finite array of shape (N,) or (N, O), got shape {tuple(y.shape)}")
    return y


def _check_training_memory(model, x, x_eval, dtype, device, linearization):
    """Refuses a run whose parameters, activations and kernels would exceed the memory budget (memory.py)."""
    n_eval = 0 if x_eval is None else x_eval.shape[0]
    if isinstance(model, MLP):
        sizes = dict(width=model.width, depth=model.depth, in_dim=model.in_dim, out_dim=model.out_dim)
    else:  # any module: count its parameters, probe one input for the number of outputs
        with torch.no_grad():
            out_dim = model(x[:1]).reshape(1, -1).shape[1]
        sizes = dict(width=0, depth=0, in_dim=x.shape[1], out_dim=out_dim,
                     n_params=sum(p.numel() for p in model.parameters()))
    check_training_memory(x.shape[0], n_eval, itemsize=torch.finfo(dtype).bits // 8, linearization=linearization,
                          device=device, **sizes)


class Engine:
    def __init__(self, model, x_train, y_train, x_eval, *, lr, loss, linearization, output_scale):
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        dtype, device = model_dtype_device(model)
        in_dim = model.in_dim if isinstance(model, MLP) else None
        self.x = _inputs(x_train, "x_train", dtype, device, in_dim)
        self.x_eval = None if x_eval is None else _inputs(x_eval, "x_eval", dtype, device, in_dim)
        if self.x_eval is not None and self.x_eval.shape[1] != self.x.shape[1]:
            raise ValueError(f"x_eval has {self.x_eval.shape[1]} columns but x_train has {self.x.shape[1]}")
        _check_training_memory(model, self.x, self.x_eval, dtype, device, linearization)  # before allocating
        self.net = model.clone() if hasattr(model, "clone") else copy.deepcopy(model)
        self.params = [p for p in self.net.parameters() if p.requires_grad]
        n = self.n = self.x.shape[0]
        with torch.no_grad():
            f0 = self.net(self.x if self.x_eval is None else torch.cat([self.x, self.x_eval]))
        f0 = f0.reshape(f0.shape[0], -1)
        self.out_dim = f0.shape[1]
        self.loss = Loss(loss, self.out_dim)
        y = _targets(y_train, dtype, device)
        if y.shape[0] != n:
            raise ValueError(f"y_train has {y.shape[0]} rows but x_train has {n}")
        self.y = self.loss.targets(y, n)
        self.squeeze = y.ndim == 1 and self.out_dim == 1
        self.f0_train, self.f0_eval = f0[:n], (f0[n:] if self.x_eval is not None else None)
        self.lr, self.alpha, self.lr_param = lr, output_scale, lr / output_scale ** 2
        self.linearization = linearization
        self.theta0 = [p.detach().clone() for p in self.params]
        self.theta0_norm = math.sqrt(sum(float(p.square().sum()) for p in self.theta0))
        self._initial_kernels()
        self.flin_train, self.g_sum, self.delta = self.f0_train.clone(), torch.zeros_like(self.f0_train), None
        if linearization == "parameter":
            self.lin = LinearizedModel(self.net)
            _, self.pullback = self.lin.vjp(self.x)
            trainable = {name for name, p in self.net.named_parameters() if p.requires_grad}
            self.delta = {k: torch.zeros_like(v) for k, v in self.lin.params0.items() if k in trainable}
        self.previous = self.spare = None

    def _flat(self, kernel):
        return kernel_matrix(kernel, dtype=self.f0_train.dtype)[0]

    def _initial_kernels(self):
        if self.linearization == "function" and self.x_eval is not None:
            k = self._flat(empirical_ntk(self.net, torch.cat([self.x, self.x_eval]), self.x))
            rows = self.n * self.out_dim
            self.k0_train, self.k0_eval = k[:rows], k[rows:]
        else:
            self.k0_train, self.k0_eval = self._flat(empirical_ntk(self.net, self.x)), None
        self.k0_norm = float(torch.linalg.matrix_norm(self.k0_train))

    # ------------------------------------------------------------------------------------------- steps
    def _outputs(self, x, f0):
        out = self.net(x).reshape(x.shape[0], -1)
        return out if self.alpha == 1.0 else f0 + self.alpha * (out - f0)

    def forward(self):
        """h = outputs on the training set (with graph), its loss, and [L(f), L(f^lin)] as floats."""
        h = self._outputs(self.x, self.f0_train)
        loss = self.loss.value(h, self.y)
        with torch.no_grad():
            losses = torch.stack([loss.detach(), self.loss.value(self.flin_train, self.y)]).tolist()
        return h, loss, losses

    def update(self, h, loss):
        """One GD step of f and of f^lin; keeps references to the previous state (no copies)."""
        grads = torch.autograd.grad(loss, self.params)
        current = [p.data for p in self.params]
        self.previous = (current, h.detach(), self.flin_train, self.g_sum, self.delta)
        with torch.no_grad():
            # double buffering: θ_{t+1} is written into the buffers of θ_{t-1}, θ_t stays for a rewind
            spare = self.spare if self.spare is not None else [torch.empty_like(v) for v in current]
            for p, g, buffer in zip(self.params, grads, spare):
                p.data = torch.add(p.data, g, alpha=-self.lr_param, out=buffer)
            self.spare = current
            g_lin = self.loss.gradient(self.flin_train, self.y)
            if self.linearization == "function":  # one fused op: f^lin − (lr/N) Θ_0 g (a hot loop)
                self.flin_train = torch.addmm(self.flin_train.reshape(-1, 1), self.k0_train, g_lin.reshape(-1, 1),
                                              alpha=-self.lr / self.n).reshape(g_lin.shape)
                self.g_sum = self.g_sum + g_lin
                return
        grads_lin = self.pullback(g_lin * (self.alpha / self.n))
        self.delta = {k: d - self.lr_param * grads_lin[k] for k, d in self.delta.items()}
        self.flin_train = self._flin_parameter(self.x, self.f0_train)

    def _flin_parameter(self, x, f0):
        return (f0 + self.alpha * self.lin.jvp(x, self.delta)[1].reshape(f0.shape)).detach()

    def _flin_eval(self):
        if self.linearization == "parameter":
            return self._flin_parameter(self.x_eval, self.f0_eval)
        step = (self.k0_eval @ self.g_sum.reshape(-1)).reshape(self.f0_eval.shape)
        return self.f0_eval - (self.lr / self.n) * step

    # ------------------------------------------------------------------------------------- recording
    def kernel_now(self):
        """(‖Θ_t − Θ_0‖_F/‖Θ_0‖_F, eigenvalues of Θ_t in descending order) on the training set, Θ_t the
        empirical NTK at the current parameters ((N·O) × (N·O) for O outputs)."""
        k = self._flat(empirical_ntk(self.net, self.x))
        drift = float(torch.linalg.matrix_norm(k - self.k0_train)) / self.k0_norm
        eigenvalues = torch.linalg.eigvalsh(0.5 * (k + k.T)).flip(0).cpu().numpy()
        return drift, eigenvalues

    def _numpy(self, value):
        if value is None:
            return None
        value = value.detach().cpu().numpy()
        return value[:, 0].copy() if self.squeeze else value

    def snapshot(self, step, h, losses, kernel: bool) -> dict:
        """The fields of a Snapshot of the current state."""
        with torch.no_grad():
            f_eval = flin_eval = None
            if self.x_eval is not None:
                f_eval, flin_eval = self._outputs(self.x_eval, self.f0_eval), self._flin_eval()
            a, b = (f_eval, flin_eval) if f_eval is not None else (h.detach(), self.flin_train)
            discrepancy = float(torch.sqrt(torch.mean((a - b).square())))
            moved = sum(float(torch.dist(p, p0)) ** 2 for p, p0 in zip(self.params, self.theta0))
            drift, eigenvalues = self.kernel_now() if kernel else (math.nan, None)
        return dict(step=int(step), loss=float(losses[0]), loss_lin=float(losses[1]),
                        f_train=self._numpy(h), flin_train=self._numpy(self.flin_train),
                        f_eval=self._numpy(f_eval), flin_eval=self._numpy(flin_eval),
                        discrepancy=discrepancy, param_distance=math.sqrt(moved) / self.theta0_norm,
                        kernel_drift=drift, ntk_eigenvalues=eigenvalues)

    def rewound_snapshot(self, step):
        """Snapshot of the state before the last update (used when that update diverged)."""
        theta, h, self.flin_train, self.g_sum, self.delta = self.previous
        for p, value in zip(self.params, theta):
            p.data = value
        with torch.no_grad():
            losses = [float(self.loss.value(h, self.y)), float(self.loss.value(self.flin_train, self.y))]
        return self.snapshot(step, h, losses, kernel=False)

    def divergence_message(self, step, losses, threshold) -> str:
        names = [name for name, v in zip(("the network f", "the linearized model f^lin"), losses)
                 if not (math.isfinite(v) and v <= threshold)]
        rates = critical_learning_rates(self.k0_train.reshape(self.n, self.out_dim, self.n, self.out_dim)
                                        .permute(0, 2, 1, 3))
        what = " and ".join(names) or "the outputs of f or f^lin on the eval points"
        return (f"{what} diverged at step {step} (loss of f {losses[0]:.3g}, of f^lin "
                f"{losses[1]:.3g}) with lr = {self.lr:.4g}; critical learning rate 2N/λ_max(Θ_0) = "
                f"{rates.diverge:.4g}: GD on the linearized MSE model diverges above it (fastest "
                f"convergence at 2N/(λ_min+λ_max) = {rates.converge:.4g})")
