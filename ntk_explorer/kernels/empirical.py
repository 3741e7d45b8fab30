"""Empirical neural tangent kernels: Θ(x, x') = Σ_p ∂f(x)/∂θ_p · ∂f(x')/∂θ_p over all trained parameters.

Three exact methods (Lee et al. 2019; Y. Chen, "Linearized Networks", eqs. (3)–(4); the torch.func "neural
tangent kernels" tutorial):

* ``"structured"`` (``MLP`` only): per-layer products of backpropagated output gradients and activations,
  Θ = Σ_l (m_W[l]² · A_l + m_b[l]²) ⊙ D_l, with A_l = a^l a'^lᵀ (activation Gram matrix entering layer l) and
  D_l = δ^{l+1} δ'^{l+1}ᵀ (Gram matrix of ∂f/∂h^{l+1}); the readout's D is the identity over outputs. The
  Jacobian (N × P) is never formed. Memory: O(N · K · Σ widths) features per input chunk plus the N1 × N2 result.
* ``"jacobian"``: ``torch.func.jacrev`` + contraction J1 J2ᵀ, any ``nn.Module``. Memory: chunk · O · P floats.
* ``"ntk_vp"``: NTK–vector products (one vjp of f(x2) per output basis vector, then a jvp of f(x1)), any
  ``nn.Module``. Memory: chunk2 · O · (P + chunk1 · activations) floats.

Inputs are processed in chunks so that intermediate tensors stay near ``memory_budget`` bytes (default 256 MiB).
The pseudo-NTK (Mohamadi, Bae & Sutherland 2023) is the NTK of g(x) = Σ_o f_o(x) / √O.
"""
from __future__ import annotations

import contextlib
import math

import torch
from torch.func import functional_call, jacrev, jvp, vjp, vmap

from ..validation import as_inputs, check_bool, check_finite_number, full_precision_matmul, model_dtype_device
from ..memory import check_memory, estimate_ntk_bytes
from ..models import MLP, activation_derivative

__all__ = ["empirical_ntk", "NTK_METHODS"]

NTK_METHODS = ("auto", "structured", "jacobian", "ntk_vp")
DEFAULT_MEMORY_BUDGET = 256 * 2**20


def empirical_ntk(model, x1, x2=None, method="auto", pseudo=False, *, memory_budget=DEFAULT_MEMORY_BUDGET):
    """Empirical NTK of ``model`` between the rows of ``x1`` and ``x2`` (``x2=None`` means ``x1``).

    Returns a tensor of shape (N1, N2) when the model has one output (or ``pseudo=True``), else (N1, N2, O, O)
    with entry [i, j, o, o'] = ∂f_o(x1_i)/∂θ · ∂f_o'(x2_j)/∂θ (Chen eqs. (3)–(4)). ``method`` is one of
    "structured" (exact for :class:`MLP`, never materialises the Jacobian), "jacobian", "ntk_vp" (any
    ``torch.nn.Module`` through ``torch.func.functional_call``) or "auto" (structured for an MLP; otherwise
    Jacobian contraction for one output and NTK-vector products for several). TF32 is disabled while computing.
    """
    if method not in NTK_METHODS:
        raise ValueError(f"method={method!r} is unknown; choose one of {list(NTK_METHODS)}")
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    pseudo = check_bool(pseudo, "pseudo")
    memory_budget = int(check_finite_number(memory_budget, "memory_budget", minimum=0, strict=True))
    is_mlp = isinstance(model, MLP) and type(model).forward is MLP.forward
    if is_mlp:  # its parameters share one dtype and device: read them off the first weight
        dtype, device, in_dim = model.weights[0].dtype, model.weights[0].device, model.config.in_dim
    else:
        (dtype, device), in_dim = model_dtype_device(model), None
    x1 = as_inputs(x1, "x1", dtype=dtype, device=device, in_dim=in_dim)
    x2 = x1 if x2 is None else as_inputs(x2, "x2", dtype=dtype, device=device, in_dim=in_dim)
    if x1.shape[1] != x2.shape[1]:
        raise ValueError(f"x1 and x2 must have the same number of columns, got {x1.shape[1]} and {x2.shape[1]}")
    if method == "structured" and not is_mlp:
        raise ValueError("method='structured' needs an ntk_explorer.MLP; use method='jacobian' or 'ntk_vp'")
    _check_kernel_memory(model, x1.shape[0], x2.shape[0], method, pseudo, is_mlp, dtype, device)
    with full_precision_matmul() if device.type == "cuda" else contextlib.nullcontext():  # TF32: CUDA only
        if method == "structured" or (method == "auto" and is_mlp):
            theta = _structured(model, x1, x2, pseudo, memory_budget)
        else:
            f, params, n_out = _functional(model, x1, pseudo)
            if method == "auto":
                method = "jacobian" if n_out == 1 else "ntk_vp"
            block = _jacobian_block if method == "jacobian" else _ntk_vp_block
            n_params = sum(p.numel() for p in params.values())
            theta = _blockwise(lambda a, b: block(f, params, a, b), x1, x2, n_out,
                               _generic_chunk(method, n_out, n_params, memory_budget))
    return theta.reshape(theta.shape[0], theta.shape[1]) if theta.shape[-1] == 1 else theta


def _check_kernel_memory(model, n1, n2, method, pseudo, is_mlp, dtype, device):
    itemsize = torch.finfo(dtype).bits // 8
    if is_mlp:
        c = model.config
        out = 1 if pseudo else c.out_dim
        kind = "structured" if method in ("auto", "structured") else "jacobian"
        need = estimate_ntk_bytes(n1, n2, out, width=c.width, depth=c.depth, in_dim=c.in_dim, method=kind,
                                  itemsize=itemsize)
    else:
        need = n1 * n2 * itemsize + sum(p.numel() for p in model.parameters()) * itemsize
    check_memory(need, f"the empirical NTK of {n1} x {n2} inputs (method={method!r})",
                 "use fewer inputs, a smaller width, or method='structured'", device)


# ----------------------------------------------------------------------------------------------- structured
def _cotangents(out_dim, pseudo, dtype, device):
    """Rows V (K × O) of output combinations: the identity, or one row of 1/√O for the pseudo-NTK; None for a
    single output (V = [[1]], nothing to multiply by)."""
    if out_dim == 1:
        return None
    if pseudo:
        return torch.full((1, out_dim), 1.0 / math.sqrt(out_dim), dtype=dtype, device=device)
    return torch.eye(out_dim, dtype=dtype, device=device)


def _structured_features(model, weights, biases, x, V):
    """Activations a^l entering every layer and backpropagated δ^{l+1} = ∂(V f)/∂h^{l+1} of the hidden layers."""
    mw, mb, depth = model.weight_multipliers, model.bias_multipliers, len(weights) - 1
    dphi = activation_derivative(model.config.activation)
    acts, pre = [x], []
    for l in range(depth):
        h = torch.addmm(biases[l] * mb[l], acts[-1], weights[l].t(), alpha=mw[l])
        pre.append(h)
        acts.append(model.phi(h))
    deltas = [None] * depth
    g = mw[-1] * weights[-1] if V is None else (mw[-1] * V) @ weights[-1]  # (K, width): ∂(V f)/∂a^depth
    g = g.unsqueeze(0)  # the same for every input
    for l in range(depth - 1, -1, -1):
        delta = g * dphi(pre[l]).unsqueeze(1)  # (N, K, n_{l+1})
        deltas[l] = delta
        if l > 0:
            g = mw[l] * (delta @ weights[l])
    return acts, deltas


def _structured(model, x1, x2, pseudo, memory_budget):
    c = model.config
    V = _cotangents(c.out_dim, pseudo, x1.dtype, x1.device)
    K = 1 if V is None else V.shape[0]
    VVt = None if V is None else V @ V.t()
    floats_per_input = (1 + K) * (c.in_dim + c.depth * c.width)
    chunk = max(1, memory_budget // (8 * floats_per_input))
    mw, mb = model.weight_multipliers, model.bias_multipliers
    weights, biases = list(model.weights), list(model.biases)

    def block(xa, xb):
        with torch.no_grad():
            acts_a, deltas_a = _structured_features(model, weights, biases, xa, V)
            acts_b, deltas_b = (acts_a, deltas_a) if xb is xa else _structured_features(model, weights, biases, xb, V)
            na, nb = xa.shape[0], xb.shape[0]
            # Θ = Σ_l (m_W[l]² A_l + m_b[l]²) ⊙ D_l; the readout's D is VVᵀ over outputs
            coef = [mw[l] ** 2 * (acts_a[l] @ acts_b[l].t()) + mb[l] ** 2 for l in range(c.depth + 1)]
            if K == 1:  # one output or the pseudo-NTK: (na, nb) matrices throughout
                theta = coef[-1] if VVt is None else coef[-1] * VVt
                for l in range(c.depth):
                    theta += coef[l] * (deltas_a[l].reshape(na, -1) @ deltas_b[l].reshape(nb, -1).t())
                return theta.reshape(na, nb, 1, 1)
            theta = coef[-1].reshape(na, nb, 1, 1) * VVt
            for l in range(c.depth):
                D = deltas_a[l].reshape(na * K, -1) @ deltas_b[l].reshape(nb * K, -1).t()
                theta += coef[l].reshape(na, nb, 1, 1) * D.reshape(na, K, nb, K).permute(0, 2, 1, 3)
            return theta

    return _blockwise(block, x1, x2, K, chunk)


# ----------------------------------------------------------------------------------------------- generic
def _functional(model, x1, pseudo):
    params = {k: v.detach() for k, v in model.named_parameters() if v.requires_grad}
    if not params:
        raise ValueError("model has no trainable parameters (requires_grad=True): its NTK is zero")
    buffers = {k: v.detach() for k, v in model.named_buffers()}
    with torch.no_grad():
        probe = model(x1[:1])
    n_out = probe.reshape(1, -1).shape[1]

    def f(p, x):
        out = functional_call(model, (p, buffers), (x,)).reshape(x.shape[0], -1)
        return out.sum(dim=1, keepdim=True) / math.sqrt(n_out) if pseudo else out

    return f, params, (1 if pseudo else n_out)


def _generic_chunk(method, n_out, n_params, memory_budget):
    return max(1, memory_budget // (8 * n_out * n_params * (1 if method == "jacobian" else 2)))


def _jacobian_block(f, params, xa, xb):
    Ja = jacrev(f)(params, xa)
    Jb = Ja if xb is xa else jacrev(f)(params, xb)
    na, nb = xa.shape[0], xb.shape[0]
    theta = None
    for name in params:
        a, b = Ja[name], Jb[name]
        O = a.shape[1]
        term = a.reshape(na * O, -1) @ b.reshape(nb * O, -1).t()
        theta = term if theta is None else theta + term
    return theta.reshape(na, O, nb, O).permute(0, 2, 1, 3)


def _ntk_vp_block(f, params, xa, xb):
    out_b, vjp_fn = vjp(lambda p: f(p, xb), params)
    nb, O = out_b.shape
    basis = torch.eye(nb * O, dtype=out_b.dtype, device=out_b.device).reshape(nb * O, nb, O)

    def column(v):
        (tangent,) = vjp_fn(v)
        return jvp(lambda p: f(p, xa), (params,), (tangent,))[1]

    cols = vmap(column)(basis)  # (nb·O, na, O): [j·O + o', i, o] = Θ(xa_i, xb_j)[o, o']
    return cols.reshape(nb, O, xa.shape[0], O).permute(2, 0, 3, 1)


# ----------------------------------------------------------------------------------------------- blocking
def _blockwise(block, x1, x2, n_out, chunk):
    """Assemble the (N1, N2, O, O) kernel from ``block(x1_chunk, x2_chunk)``; reuses features when x2 is x1."""
    n1, n2 = x1.shape[0], x2.shape[0]
    if n1 <= chunk and n2 <= chunk:
        return block(x1, x1 if x2 is x1 else x2)
    theta = torch.empty(n1, n2, n_out, n_out, dtype=x1.dtype, device=x1.device)
    for i in range(0, n1, chunk):
        for j in range(0, n2, chunk):
            xa, xb = x1[i:i + chunk], x2[j:j + chunk]
            theta[i:i + chunk, j:j + chunk] = block(xa, xa if (x2 is x1 and i == j) else xb)
    return theta
