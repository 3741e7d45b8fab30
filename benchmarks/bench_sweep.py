"""Width sweep of the lesson configuration: 6 widths (64…2048) × 5 seeds (issue 7, target ≤ 30 s on 2 cores).

The lesson config is ``ExperimentConfig()``'s default (depth 2, 32 circle points, 128 eval points) with erf, the
smooth activation of Theorem 2.1, and ``steps``/``kernel_every`` as below; one sweep is timed end to end and its
table (sup_t discrepancy, kernel drift, parameter distance with fitted log-log slopes) is printed. For scale, the
same run measures plain GD of f alone (one seed per width, times the number of seeds): the floor that no sweep
recording f^lin and the kernel can beat.

    python -m benchmarks.bench_sweep [--steps 300] [--threads 2]
"""
from __future__ import annotations

import argparse
import os
import time

import torch

from ntk_explorer import ExperimentConfig, width_sweep

WIDTHS = (64, 128, 256, 512, 1024, 2048)
SEEDS = (0, 1, 2, 3, 4)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--kernel-every", type=int, default=50)
    parser.add_argument("--threads", type=int, default=int(os.environ.get("NTK_BENCH_THREADS", os.cpu_count() or 1)))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    sweep = width_sweep(WIDTHS, SEEDS, progress=False, activation="erf", steps=args.steps,
                        record_every=args.kernel_every, kernel_every=args.kernel_every, device="cpu")
    elapsed = time.perf_counter() - start
    floor = sum(plain_gd_seconds(width, args.steps) for width in WIDTHS) * len(SEEDS)
    print(f"# width sweep: widths {WIDTHS}, {len(SEEDS)} seeds, erf, {args.steps} steps, kernel drift every "
          f"{args.kernel_every} steps, threads {args.threads}")
    print(sweep)
    print(f"\ntotal {elapsed:.1f} s for {len(WIDTHS) * len(SEEDS)} runs (target ≤ 30 s on 2 cores); plain GD of f "
          f"alone for the same runs: {floor:.1f} s (ratio {elapsed / floor:.2f})")


def plain_gd_seconds(width, steps):
    """Full-batch GD of f alone (forward, autograd, in-place update) for one seed of the lesson config."""
    config = ExperimentConfig(width=width, activation="erf", steps=steps, device="cpu")
    data, model = config.dataset(), config.model(0)
    params = list(model.parameters())
    y = data.y_train[:, None]
    start = time.perf_counter()
    for _ in range(steps):
        loss = 0.5 * (model(data.x_train) - y).square().sum() / y.shape[0]
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            for p, g in zip(params, grads):
                p.sub_(g, alpha=model.scaled_lr(config.lr))
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
