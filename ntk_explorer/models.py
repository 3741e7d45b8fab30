"""Fully connected networks in the NTK, standard and maximal-update parameterizations.

Every affine layer ``l`` (``l = 0 … depth``; layer ``depth`` is the linear readout) computes

    h^{l+1} = m_W[l] · W_l a^l + m_b[l] · b_l,        a^0 = x,  a^l = φ(h^l),

with trained parameters ``W_l`` (fan_out × fan_in) and ``b_l``. The three parameterizations differ only in where
the scale sits (the multipliers ``m_W``, ``m_b``) and in the initial variance of the trained parameters:

=============  =====================================  ==========================  =====================
name           m_W[l]                                 m_b[l]                      init of W, b
=============  =====================================  ==========================  =====================
``"ntk"``      σ_w/√fan_in (all layers)               σ_b                         N(0, 1)
``"standard"`` 1                                      1                           N(0, σ_w²/fan_in), N(0, σ_b²)
``"mup"``      σ_w/√fan_in; readout σ_w/fan_in        σ_b; readout σ_b/√width     N(0, 1)
=============  =====================================  ==========================  =====================

"ntk" is the NTK parameterization of Jacot et al. 2018 (also Lee et al. 2019) and equals
neural-tangents' ``Dense(W_std=sigma_w, b_std=sigma_b)``: the first layer divides by √(input dimension) and the
readout by √width. "standard" computes the same function at initialisation but its gradients, hence its NTK, are
larger by fan_in/σ_w² per layer (the NTK grows like width, so the learning rate must shrink like 1/width).

"mup" is the maximal-update (μP, mean-field) scaling of Yang & Hu 2021 (Chizat, Oyallon & Bach 2019 for two
layers). In the abc-parameterization ``W_eff = n^{-a} w``, ``w ~ N(0, n^{-2b})``, learning rate ``η n^{-c}``, we use
a = 0 (input layer), ½ (hidden), 1 (readout), b = 0 everywhere, c = −1: Yang & Hu's μP table (a = −½, 0, ½;
b = ½; c = 0) shifted by their symmetry (a, b, c) → (a + θ, b − θ, c − 2θ) with θ = ½. The readout bias is
treated like a hidden weight (multiplier σ_b/√width) so that one global rate keeps every update O(1). The output
is O(1/√width) at initialisation, the NTK is O(1/width), and the learning rate must be multiplied by ``width``
for the features to move by O(1) as width grows. With ``depth = 0`` there is no width and all three
parameterizations use their "ntk"/"standard" first-layer rule.

Learning rates (the one convention of the package): a *base* rate η means the same function-space step at every
width and in every parameterization; the rate gradient descent actually uses is ``model.scaled_lr(η)`` =
η · ``lr_scale``, with ``lr_scale`` = 1 ("ntk"), 1/width ("standard": its NTK grows like width) and width
("mup"), and 1 at depth 0.  ``ExperimentConfig.lr``, ``width_sweep``, ``ensemble`` and the panels take base
rates; :func:`ntk_explorer.train` and ``train_stream`` take the rate actually used.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .validation import check_device, check_finite_number, check_float_dtype
from .memory import check_memory, estimate_mlp_bytes

__all__ = ["MLP", "MLPConfig", "ACTIVATIONS", "PARAMETERIZATIONS", "activation_fn", "activation_derivative"]

PARAMETERIZATIONS = ("ntk", "standard", "mup")

_SQRT_2 = math.sqrt(2.0)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _softplus(h):
    # log(1 + e^h) without the threshold of F.softplus, so its derivative is exactly sigmoid(h).
    return torch.clamp(h, min=0) + torch.log1p(torch.exp(-torch.abs(h)))


def _gelu(h):
    return F.gelu(h)  # exact (erf) form: h Φ(h)


ACTIVATIONS = {
    "relu": torch.relu,
    "erf": torch.special.erf,
    "tanh": torch.tanh,
    "gelu": _gelu,
    "softplus": _softplus,
    "identity": lambda h: h,
}

_DERIVATIVES = {
    "relu": lambda h: (h > 0).to(h.dtype),  # torch's convention relu'(0) = 0
    "erf": lambda h: _TWO_OVER_SQRT_PI * torch.exp(-h * h),
    "tanh": lambda h: 1.0 - torch.tanh(h) ** 2,
    "gelu": lambda h: 0.5 * (1.0 + torch.special.erf(h / _SQRT_2)) + h * _INV_SQRT_2PI * torch.exp(-0.5 * h * h),
    "softplus": torch.sigmoid,
    "identity": torch.ones_like,
}


def _check_activation(activation):
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation={activation!r} is unknown; choose one of {sorted(ACTIVATIONS)}")
    return activation


def activation_fn(activation):
    """The elementwise nonlinearity φ called ``activation``."""
    return ACTIVATIONS[_check_activation(activation)]


def activation_derivative(activation):
    """The elementwise derivative φ' (the one torch's autograd uses, relu'(0) = 0)."""
    return _DERIVATIVES[_check_activation(activation)]


def _positive_int(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def _nonneg_float(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value}")
    return float(value)


@dataclass(frozen=True)
class MLPConfig:
    """Everything that defines an :class:`MLP` except dtype and device (hashable: a cache key)."""

    in_dim: int
    width: int
    depth: int
    out_dim: int = 1
    activation: str = "relu"
    parameterization: str = "ntk"
    sigma_w: float = 1.0
    sigma_b: float = 0.0
    seed: int = 0

    def __post_init__(self):
        _positive_int(self.in_dim, "in_dim", 1)
        _positive_int(self.width, "width", 1)
        _positive_int(self.depth, "depth", 0)
        _positive_int(self.out_dim, "out_dim", 1)
        _check_activation(self.activation)
        if self.parameterization not in PARAMETERIZATIONS:
            raise ValueError(f"parameterization={self.parameterization!r} is unknown; "
                             f"choose one of {list(PARAMETERIZATIONS)}")
        object.__setattr__(self, "sigma_w", _nonneg_float(self.sigma_w, "sigma_w"))
        object.__setattr__(self, "sigma_b", _nonneg_float(self.sigma_b, "sigma_b"))
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise TypeError(f"seed must be an int, got {type(self.seed).__name__}")

    @property
    def layer_sizes(self):
        """(fan_in, fan_out) of each affine layer, the readout last."""
        dims = [self.in_dim] + [self.width] * self.depth + [self.out_dim]
        return list(zip(dims[:-1], dims[1:]))

    def multipliers(self):
        """Per-layer (m_W, m_b, init_std_W, init_std_b) as in the module docstring's table."""
        rows = []
        last = self.depth
        for l, (fan_in, _) in enumerate(self.layer_sizes):
            sw, sb = self.sigma_w, self.sigma_b
            if self.parameterization == "standard":
                rows.append((1.0, 1.0, sw / math.sqrt(fan_in), sb))
            elif self.parameterization == "mup" and l == last and self.depth > 0:
                rows.append((sw / fan_in, sb / math.sqrt(fan_in), 1.0, 1.0))
            else:
                rows.append((sw / math.sqrt(fan_in), sb, 1.0, 1.0))
        return rows

    @property
    def lr_scale(self):
        """Factor by which the natural learning rate scales with width (ntk 1, standard 1/width, mup width)."""
        if self.depth == 0:
            return 1.0
        return {"ntk": 1.0, "standard": 1.0 / self.width, "mup": float(self.width)}[self.parameterization]

    def scaled_lr(self, base_lr) -> float:
        """The learning rate gradient descent uses for the base rate ``base_lr``: base_lr × lr_scale (module
        docstring, "Learning rates")."""
        return check_finite_number(base_lr, "base_lr", minimum=0, strict=True) * self.lr_scale


def default_device():
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


class MLP(torch.nn.Module):
    """A fully connected network f: R^in_dim → R^out_dim with ``depth`` hidden layers of ``width`` units.

    Parameterizations and their multipliers are described in the module docstring (Jacot et al. 2018; Lee et al.
    2019). Initial weights are drawn on the CPU from ``torch.Generator().manual_seed(seed)`` in float64 and then
    moved, so a seed gives the same network on every device and dtype.

    ``forward(x)`` takes ``x`` of shape (N, in_dim) and returns shape (N, out_dim).
    """

    def __init__(self, in_dim, width, depth, out_dim=1, activation="relu", parameterization="ntk", sigma_w=1.0,
                 sigma_b=0.0, seed=0, dtype=torch.float64, device=None):
        super().__init__()
        self.config = MLPConfig(in_dim, width, depth, out_dim, activation, parameterization, sigma_w, sigma_b, seed)
        self.dtype = check_float_dtype(dtype)
        self.device = check_device(device) if device is not None else default_device()
        check_memory(estimate_mlp_bytes(in_dim, width, depth, out_dim, torch.finfo(dtype).bits // 8),
                     f"MLP(in_dim={in_dim}, width={width}, depth={depth})", "lower width or depth", self.device)
        rows = self.config.multipliers()
        self.weight_multipliers = [r[0] for r in rows]
        self.bias_multipliers = [r[1] for r in rows]
        self._init_std = [(r[2], r[3]) for r in rows]
        self.phi = activation_fn(activation)
        self.weights = torch.nn.ParameterList()
        self.biases = torch.nn.ParameterList()
        for fan_in, fan_out in self.config.layer_sizes:
            self.weights.append(torch.nn.Parameter(torch.empty(fan_out, fan_in, dtype=dtype, device=self.device)))
            self.biases.append(torch.nn.Parameter(torch.empty(fan_out, dtype=dtype, device=self.device)))
        self.reinitialize(seed)

    def __getattr__(self, name):
        config = self.__dict__.get("config")
        if config is not None and name in MLPConfig.__dataclass_fields__:
            return getattr(config, name)
        return super().__getattr__(name)

    @property
    def lr_scale(self):
        return self.config.lr_scale

    def scaled_lr(self, base_lr) -> float:
        """The learning rate gradient descent uses for the base rate ``base_lr``: base_lr × lr_scale (module
        docstring, "Learning rates")."""
        return self.config.scaled_lr(base_lr)

    @torch.no_grad()
    def reinitialize(self, seed):
        """Redraw all parameters from ``seed`` (the config's seed is updated)."""
        self.config = MLPConfig(**{**self.config.__dict__, "seed": seed})
        gen = torch.Generator().manual_seed(seed)
        for W, b, (std_w, std_b) in zip(self.weights, self.biases, self._init_std):
            W.copy_(std_w * torch.randn(W.shape, generator=gen, dtype=torch.float64))
            b.copy_(std_b * torch.randn(b.shape, generator=gen, dtype=torch.float64))
        return self

    def clone(self):
        """An independent deep copy (same parameters, same device and dtype)."""
        return copy.deepcopy(self)

    def forward(self, x):
        if x.ndim != 2 or x.shape[1] != self.in_dim:
            raise ValueError(f"x must have shape (N, {self.in_dim}) for this MLP(in_dim={self.in_dim}), "
                             f"got {tuple(x.shape)}")
        h = x
        for l, (W, b) in enumerate(zip(self.weights, self.biases)):
            if l > 0:
                h = self.phi(h)
            h = torch.addmm(b * self.bias_multipliers[l], h, W.t(), alpha=self.weight_multipliers[l])
        return h

    def extra_repr(self):
        c = self.config
        return (f"in_dim={c.in_dim}, width={c.width}, depth={c.depth}, out_dim={c.out_dim}, "
                f"activation={c.activation!r}, parameterization={c.parameterization!r}, sigma_w={c.sigma_w}, "
                f"sigma_b={c.sigma_b}, seed={c.seed}, dtype={self.dtype}, device={self.device}")
