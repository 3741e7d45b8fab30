"""Lazy↔rich phase diagram (issue 14): a 6 × 6 grid of (width, α), depth 1, 32 training digits, 300 steps, float64.

Times ``lazy_rich_phase_stream`` to its first cell and to the whole grid (target ≤ 60 s on 2 cores), and, in the
same run, a plain torch loop that trains the same 36 networks (same widths, seeds, h = f_0 + α(f − f_0), rate
lr/α² × lr_scale) for the same number of steps and nothing else: the sweep machinery (f^lin in lock-step, Θ_0 over
train and eval points, Θ_T, the measures) may add at most 10% over it.  Repeats alternate the two.

    python -m benchmarks.bench_phase [--steps 300] [--threads 2] [--repeats 3]
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

from ntk_explorer import lazy_rich_phase_stream
from ntk_explorer.dynamics import DIVERGENCE_FACTOR
from ntk_explorer.experiments import PHASE_SCALES, PHASE_WIDTHS

from ._harness import print_table


def sweep_seconds(steps):
    """(seconds to the first cell, seconds to the whole grid, the stream) of one phase diagram."""
    start = time.perf_counter()
    stream = lazy_rich_phase_stream(PHASE_WIDTHS, PHASE_SCALES, steps=steps, device="cpu")
    first = None
    for _ in stream:
        first = time.perf_counter() - start if first is None else first
    return first, time.perf_counter() - start, stream


def plain_gd_seconds(stream, steps):
    """Full-batch GD of the same 36 networks h = f_0 + α(f − f_0) and nothing else (no f^lin, no kernels); a
    network stops, as in the sweep, once its loss is not finite or above 10^6 × its initial loss (diverged)."""
    data, lr = stream.dataset, stream.settings.lr
    x, y = data.x_train, data.y_train.reshape(len(data.y_train), -1)
    start = time.perf_counter()
    for width in stream.widths:
        for scale in stream.scales:
            model = stream.model(int(width), stream.seeds[0])
            params = list(model.parameters())
            with torch.no_grad():
                f0 = model(x)
            rate, threshold = model.scaled_lr(lr) / scale ** 2, None
            for _ in range(steps):
                h = f0 + scale * (model(x) - f0)
                loss = torch.nn.functional.mse_loss(h, y, reduction="sum") * (0.5 / len(x))
                value = loss.item()
                threshold = DIVERGENCE_FACTOR * value if threshold is None else threshold
                if not value <= threshold:  # also catches NaN
                    break
                grads = torch.autograd.grad(loss, params)
                with torch.no_grad():
                    for p, g in zip(params, grads):
                        p.sub_(g, alpha=rate)
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=int(os.environ.get("NTK_BENCH_THREADS", os.cpu_count() or 1)))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    firsts, sweeps, plains = [], [], []
    for _ in range(args.repeats):
        first, total, stream = sweep_seconds(args.steps)
        firsts.append(first)
        sweeps.append(total)
        plains.append(plain_gd_seconds(stream, args.steps))
    first, sweep, plain = (statistics.median(v) for v in (firsts, sweeps, plains))
    print(f"# lazy-rich phase: widths {PHASE_WIDTHS} × scales {PHASE_SCALES}, depth 1, digits (3, 8), "
          f"{len(stream.dataset.y_train)} training and {len(stream.dataset.y_eval)} eval points, {args.steps} steps, "
          f"float64, base lr {stream.settings.lr:.4g}, torch threads {args.threads}, median of {args.repeats}")
    print_table(["what", "seconds", "ratio", "target"], [
        ["first cell filled", f"{first:.3f}", f"{first / sweep:.3f} of grid", ""],
        ["whole 6 × 6 grid (lazy_rich_phase_stream)", f"{sweep:.2f}", f"{sweep / plain:.3f} × plain GD", "≤ 60 s"],
        ["plain GD of the same 36 networks", f"{plain:.2f}", "1.000", ""],
        ["sweep machinery overhead", f"{sweep - plain:.2f}", f"{(sweep - plain) / plain:+.1%}", "≤ +10%"],
    ])
    print("runs (first, grid, plain): " + "; ".join(f"{a:.2f}, {b:.2f}, {c:.2f}" for a, b, c in
                                                     zip(firsts, sweeps, plains)))


if __name__ == "__main__":
    main()
