"""First-order Taylor expansion of a network around its initial parameters (Lee et al. 2019; Y. Chen,
"Linearized Networks", eq. (10)):

    f^lin(x; θ) = f(x; θ_0) + ∇_θ f(x; θ_0) (θ − θ_0),

computed matrix-free with a forward-mode Jacobian-vector product (``torch.func.jvp``) of
``torch.func.functional_call`` — the torch counterpart of neural-tangents' ``nt.linearize``.
Its gradient ∇_θ f^lin = ∇_θ f(x; θ_0) is the Jacobian at initialisation (Chen eq. (11)), so its NTK is
the constant Θ_0 and gradient descent on it follows f ← f − (lr/N) Θ_0 (f − Y) exactly (Chen eq. (14)).
"""
from __future__ import annotations

from typing import Mapping, Optional

import torch
from torch.func import functional_call, jvp, vjp

__all__ = ["linearize", "LinearizedModel"]


class LinearizedModel:
    """Callable ``f_lin(x, params=None)``: the linearization of ``model`` at the parameters it had when
    :func:`linearize` was called (copied, so later changes to the model do not move θ_0).

    ``params`` is a mapping name → tensor like ``dict(model.named_parameters())`` (missing names keep
    their initial value); None returns f(x; θ_0).  The result is differentiable with respect to the
    given parameters.  Output shape: whatever ``model(x)`` returns, e.g. (N, out_dim) for an MLP.
    """

    def __init__(self, model: torch.nn.Module):
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        self.model = model
        self.params0 = {name: p.detach().clone() for name, p in model.named_parameters()}
        self.buffers = {name: b.detach().clone() for name, b in model.named_buffers()}
        if not self.params0:
            raise ValueError("model has no parameters to linearize")

    def _function(self, x: torch.Tensor):
        def f(params):
            return functional_call(self.model, ({**self.buffers, **params},), (x,))
        return f

    def _tangents(self, params: Mapping[str, torch.Tensor]) -> dict:
        unknown = set(params) - set(self.params0)
        if unknown:
            raise ValueError(f"params has names the model does not have: {sorted(unknown)}")
        return {name: (params[name] - p0) if name in params else torch.zeros_like(p0)
                for name, p0 in self.params0.items()}

    def jvp(self, x: torch.Tensor, tangents: Mapping[str, torch.Tensor]):
        """(f(x; θ_0), ∇_θ f(x; θ_0) · tangents) by one forward-mode pass."""
        return jvp(self._function(x), (self.params0,), ({**self._zero(), **tangents},))

    def vjp(self, x: torch.Tensor):
        """(f(x; θ_0), vjp_fn) where vjp_fn(v) = v · ∇_θ f(x; θ_0) as a dict name → tensor; vjp_fn may be
        called repeatedly (the forward pass at θ_0 is done once)."""
        out, pullback = vjp(self._function(x), self.params0)
        return out, lambda v: pullback(v)[0]

    def _zero(self) -> dict:
        return {name: torch.zeros_like(p0) for name, p0 in self.params0.items()}

    def __call__(self, x: torch.Tensor, params: Optional[Mapping[str, torch.Tensor]] = None):
        if params is None:
            with torch.no_grad():
                return self._function(x)(self.params0)
        f0, df = jvp(self._function(x), (self.params0,), (self._tangents(params),))
        return f0 + df


def linearize(model: torch.nn.Module) -> LinearizedModel:
    """Returns f^lin(x, θ) = f(x; θ_0) + ∇_θ f(x; θ_0)(θ − θ_0) with θ_0 the model's current parameters
    (Lee et al. 2019), like neural-tangents' ``linearize``.  θ is a dict name → tensor as in
    ``dict(model.named_parameters())``.  Example::

        f_lin = linearize(model)
        theta = {k: v + 0.01 for k, v in model.named_parameters()}
        f_lin(x, theta)   # ≈ model evaluated at theta, to first order
    """
    return LinearizedModel(model)
