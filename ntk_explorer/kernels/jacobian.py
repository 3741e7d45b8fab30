"""The parameter Jacobian J = ∂f/∂θ of a network as an explicit matrix: the feature map of its tangent kernel.

The empirical NTK is Θ(x, x') = J(x) J(x')ᵀ (Lee et al. 2019; Y. Chen, "Linearized Networks", eqs. 3–4), so the
rows of J are the features φ(x) = ∇_θ f(x; θ_0) of the kernel model f^lin(x; θ) = f(x; θ_0) + φ(x)·(θ − θ_0)
(D. J. Sutherland, "Neural Tangent Kernels, Finite and Infinite": "Kernel regression", φ(x) = ∇_w f(x; w)).
``empirical_ntk`` never forms J; this module does, for lessons and tests that need the features themselves
(the minimum-norm interpolant in weight space, ‖∂f/∂θ‖ per input).  Memory: N · O · P floats.
"""
from __future__ import annotations

import torch
from torch.func import functional_call, jacrev

from ..memory import check_memory
from ..validation import as_inputs, full_precision_matmul, model_dtype_device

__all__ = ["parameter_jacobian", "parameter_names"]


def parameter_names(model: torch.nn.Module) -> list:
    """Names of the trained parameters (requires_grad) in the order of ``model.named_parameters()``: the order in
    which :func:`parameter_jacobian` concatenates them (the order of ``torch.nn.utils.parameters_to_vector``)."""
    return [name for name, p in model.named_parameters() if p.requires_grad]


def parameter_jacobian(model: torch.nn.Module, x) -> torch.Tensor:
    """J[i, o, p] = ∂f_o(x_i)/∂θ_p for the rows x_i of ``x`` and every trained parameter θ_p.

    Parameters are flattened and concatenated in the order of :func:`parameter_names`.  Returns a tensor of shape
    (N, P) when the model has one output, else (N, O, P), on the model's device and dtype; J Jᵀ (contracting p)
    is the empirical NTK of :func:`ntk_explorer.empirical_ntk`.  Computed with ``torch.func.jacrev`` of
    ``functional_call``; the model is not modified.
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    dtype, device = model_dtype_device(model)
    x = as_inputs(x, "x", dtype=dtype, device=device, in_dim=getattr(model, "in_dim", None))
    names = parameter_names(model)
    if not names:
        raise ValueError("model has no trainable parameters (requires_grad=True): its Jacobian is empty")
    params = {name: p.detach() for name, p in model.named_parameters() if p.requires_grad}
    buffers = {name: b.detach() for name, b in model.named_buffers()}
    with torch.no_grad():
        n_out = model(x[:1]).reshape(1, -1).shape[1]
    n_params = sum(p.numel() for p in params.values())
    itemsize = torch.finfo(dtype).bits // 8
    check_memory(2 * x.shape[0] * n_out * n_params * itemsize, f"the Jacobian of {x.shape[0]} inputs × {n_out} "
                 f"outputs × {n_params} parameters", "use fewer inputs or a smaller network", device)

    def f(p):
        return functional_call(model, (p, buffers), (x,)).reshape(x.shape[0], n_out)

    with full_precision_matmul():
        blocks = jacrev(f)(params)
    J = torch.cat([blocks[name].reshape(x.shape[0], n_out, -1) for name in names], dim=2)
    return J[:, 0, :] if n_out == 1 else J
