"""Empirical NTK of an MLP: our structured method vs the torch.func tutorial's methods and the fwd+bwd floor.

Baselines (written here, after the torch.func "neural tangent kernels" tutorial): Jacobian contraction
(jacrev over the batch, then J1 J2ᵀ) and NTK-vector products (vmap over output basis vectors of a vjp followed by
a jvp). The floor is one batched forward and backward pass of the same network (f(X).sum().backward()). Each
figure is a median over repeats; each ratio compares two figures measured in this same run.

Per-call overhead (issue 12 item 8): ``empirical_ntk`` against the bare structured formula written out below
(no input checks, no memory guard, no chunking), one thread, float64, depth 2, width 256, N = 64 (the sizes the
dashboard recomputes every few steps); target ≤ 1.2×.  Both are timed in turn, call by call, in this same run.

    python -m benchmarks.bench_ntk [--quick] [--device cuda] [--overhead-only]
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import torch
from torch.func import functional_call, jacrev, jvp, vjp, vmap

from ntk_explorer import MLP, empirical_ntk
from ntk_explorer.models import activation_derivative

from ._harness import available_memory_bytes, interleaved_times, median_time, print_table


def tutorial_jacobian_contraction(model, x1, x2):
    params = {k: v.detach() for k, v in model.named_parameters()}

    def f(p, x):
        return functional_call(model, p, (x,)).squeeze(-1)

    j1, j2 = jacrev(f)(params, x1), jacrev(f)(params, x2)
    return sum(j1[k].flatten(1) @ j2[k].flatten(1).T for k in params)


def tutorial_ntk_vp(model, x1, x2):
    params = {k: v.detach() for k, v in model.named_parameters()}

    def f(p, x):
        return functional_call(model, p, (x,)).squeeze(-1)

    out, vjp_fn = vjp(lambda p: f(p, x2), params)

    def column(v):
        (tangent,) = vjp_fn(v)
        return jvp(lambda p: f(p, x1), (params,), (tangent,))[1]

    return vmap(column)(torch.eye(out.numel(), dtype=out.dtype, device=out.device)).T


def bare_structured_ntk(model, x):
    """Θ(x, x) of a one-output MLP by the layer-wise formula and nothing else:
    Θ = Σ_l (m_W[l]² a^l a^lᵀ + m_b[l]²) ⊙ δ^{l+1} δ^{l+1}ᵀ, with δ = 1 at the readout."""
    mw, mb = model.weight_multipliers, model.bias_multipliers
    W, b, depth = model.weights, model.biases, len(model.weights) - 1
    dphi = activation_derivative(model.config.activation)
    with torch.no_grad():
        acts, pre = [x], []
        for l in range(depth):
            pre.append(torch.addmm(b[l] * mb[l], acts[-1], W[l].t(), alpha=mw[l]))
            acts.append(model.phi(pre[-1]))
        theta = mw[-1] ** 2 * (acts[-1] @ acts[-1].t()) + mb[-1] ** 2
        g = mw[-1] * W[-1]  # ∂f/∂a^depth, (1, width)
        for l in range(depth - 1, -1, -1):
            delta = g * dphi(pre[l])  # ∂f/∂h^{l+1}, (N, width)
            theta += (mw[l] ** 2 * (acts[l] @ acts[l].t()) + mb[l] ** 2) * (delta @ delta.t())
            if l > 0:
                g = mw[l] * (delta @ W[l])
    return theta


def overhead(device="cpu", repeats=2000):
    """empirical_ntk vs the bare formula at depth 2, width 256, N = 64, float64, one thread, calls interleaved:
    median and minimum of the wall clock, and median of the thread's CPU time (nearly blind to other jobs)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model = MLP(3, 256, 2, dtype=torch.float64, device=device)
        x = torch.randn(64, 3, dtype=torch.float64, device=device)
        torch.testing.assert_close(empirical_ntk(model, x), bare_structured_ntk(model, x), rtol=1e-12, atol=1e-12)
        calls = [lambda: bare_structured_ntk(model, x), lambda: empirical_ntk(model, x)]
        wall = interleaved_times(calls, repeats, device)
        cpu = interleaved_times(calls, repeats, device, clock=time.thread_time) if device == "cpu" else None
    finally:
        torch.set_num_threads(threads)
    rows = []
    for name, times, statistic in (("wall, median", wall, statistics.median), ("wall, minimum", wall, min),
                                   ("thread CPU, median", cpu, statistics.median)):
        if times is not None:  # a CUDA call's work is not on this thread: no CPU-time row there
            bare, ours = statistic(times[0]), statistic(times[1])
            rows.append(["float64", 2, 256, 64, 1, name, f"{1e3 * bare:.3f}", f"{1e3 * ours:.3f}",
                         f"{ours / bare:.2f}"])
    print_table(["dtype", "depth", "width", "N", "threads", "statistic", "bare formula ms", "empirical_ntk ms",
                 "empirical_ntk/bare"], rows)
    return rows


def floor(model, x):
    model.zero_grad(set_to_none=True)
    model(x).sum().backward()


def run(quick=False, device="cpu", repeats=5):
    budget = available_memory_bytes(device) // 2
    widths, ns, depths = ([256, 1024], [64], [2]) if quick else ([256, 1024, 4096], [64, 256], [2, 3])
    header = ["dtype", "depth", "width", "N", "P", "floor ms", "structured ms", "jacobian ms", "ntk_vp ms",
              "structured/floor", "jacobian/structured", "ntk_vp/structured"]
    rows = []
    for dtype in (torch.float32, torch.float64):
        for depth in depths:
            for width in widths:
                for n in ns:
                    rows.append(_one(dtype, depth, width, n, device, budget, repeats))
                    print(" | ".join(map(str, rows[-1])), flush=True)  # progress: one line per configuration
    print()
    print_table(header, rows)
    return rows


def _one(dtype, depth, width, n, device, budget, repeats):
    model = MLP(3, width, depth, dtype=dtype, device=device)
    x = torch.randn(n, 3, dtype=dtype, device=device)
    n_params = sum(p.numel() for p in model.parameters())
    item = torch.finfo(dtype).bits // 8
    t_floor = median_time(lambda: floor(model, x), repeats, device)
    t_struct = median_time(lambda: empirical_ntk(model, x, x, method="structured"), repeats, device)
    # Jacobian contraction holds both Jacobians (2·N·P); NTK-vector products hold N tangents of size P plus
    # the jvp's activations for N inputs per tangent.
    t_jac = _maybe(lambda: tutorial_jacobian_contraction(model, x, x), 2 * n * n_params * item, budget, repeats,
                   device)
    t_vp = _maybe(lambda: tutorial_ntk_vp(model, x, x), (n * n_params + n * n * width * depth * 3) * item, budget,
                  repeats, device)
    ratio = lambda a, b: f"{a / b:.1f}x" if isinstance(a, float) and isinstance(b, float) else "-"
    ms = lambda t: f"{1e3 * t:.1f}" if isinstance(t, float) else t
    return [str(dtype).replace("torch.", ""), depth, width, n, n_params, ms(t_floor), ms(t_struct), ms(t_jac),
            ms(t_vp), f"{t_struct / t_floor:.2f}", ratio(t_jac, t_struct), ratio(t_vp, t_struct)]


def _maybe(fn, need_bytes, budget, repeats, device):
    if need_bytes > budget:
        return f"> mem ({need_bytes / 2**30:.0f} GiB)"
    return median_time(fn, max(1, repeats // 2), device)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--overhead-only", action="store_true", help="only the per-call overhead row")
    args = parser.parse_args(argv)
    torch.set_num_threads(int(os.environ.get("NTK_BENCH_THREADS", os.cpu_count() or 1)))
    print(f"# per-call overhead of empirical_ntk, device={args.device}")
    overhead(args.device)
    if not args.overhead_only:
        print(f"\n# empirical NTK, scalar output, device={args.device}, threads={torch.get_num_threads()}")
        run(args.quick, args.device, args.repeats)


if __name__ == "__main__":
    main()
