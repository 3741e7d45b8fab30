"""Width sweep of the lesson configuration: 6 widths (64…2048) × 5 seeds (issue 7, target ≤ 30 s on 2 cores).

The lesson config is ``ExperimentConfig()``'s default (depth 2, 32 circle points, 128 eval points) with erf, the
smooth activation of Theorem 2.1, and ``steps``/``kernel_every`` as below; one sweep is timed end to end and its
table (sup_t discrepancy, kernel drift, parameter distance with fitted log-log slopes) is printed.

    python -m benchmarks.bench_sweep [--steps 300] [--threads 2]
"""
from __future__ import annotations

import argparse
import os
import time

import torch

from ntk_explorer import width_sweep

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
    print(f"# width sweep: widths {WIDTHS}, {len(SEEDS)} seeds, erf, {args.steps} steps, kernel drift every "
          f"{args.kernel_every} steps, threads {args.threads}")
    print(sweep)
    print(f"\ntotal {elapsed:.1f} s for {len(WIDTHS) * len(SEEDS)} runs (target ≤ 30 s on 2 cores)")


if __name__ == "__main__":
    main()
