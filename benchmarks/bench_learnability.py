"""Eigenlearning at slider speed: theory curves for M = 256 (target ≤ 50 ms) and one empirical point (≤ 1 s).

Theory curves: on the hypercube d = 8 (M = 256), the analytic ReLU NTK, its eigensystem, κ and the
learnabilities of every degree for n = 1…256, and the predicted test MSE of a target. The kernel is built
once per kernel setting; a slider over n or the ridge re-runs only the eigensystem and theory rows.
Empirical point: D-learnability of three Walsh targets by kernel regression, n = 64, 200 random training sets.
A trained-network point (method="gd", 20 trials, width 64) is reported for reference. Medians over repeats.

    python -m benchmarks.bench_learnability [--quick] [--device cuda]
"""
from __future__ import annotations

import argparse
import os

import numpy as np
import torch

from ntk_explorer.spectra import (
    eigensystem,
    empirical_learnability,
    hypercube,
    learnability,
    network_learnability,
    predicted_mse,
)

from ._harness import median_time, print_table


def run(quick=False, device="cpu", repeats=7):
    domain = hypercube(8)
    ns = np.arange(1, 257)
    K = domain.analytic_kernel(depth=2).to(device)
    sys = eigensystem(K, domain)
    target = sys.eigenfunctions[:, sys.family == 2][:, 0]
    walsh = torch.stack([sys.eigenfunctions[:, sys.family == k][:, 0] for k in (1, 2, 3)], 1)

    def theory():
        s = eigensystem(K, domain)
        L = learnability(s.level_eigenvalues, ns, s.multiplicities)
        E = predicted_mse(s.level_eigenvalues, torch.sqrt(s.level_power(target)), ns, s.multiplicities)
        return L, E

    def kernel_and_theory():
        return eigensystem(domain.analytic_kernel(depth=2).to(device), domain), theory()

    rows = [
        ("theory curves (eigensystem + κ, L, MSE for 256 n)", median_time(theory, repeats, device), "≤ 0.05"),
        ("  + analytic kernel of the 256 points", median_time(kernel_and_theory, repeats, device), ""),
        ("empirical point, n = 64, 200 trials, 3 targets",
         median_time(lambda: empirical_learnability(K, domain, walsh, 64, trials=200), repeats, device), "≤ 1"),
    ]
    if not quick:
        network = lambda: network_learnability(domain, walsh[:, 1], 64, width=64, depth=2, trials=20, device=device)
        rows.append(("network point, GD, width 64, n = 64, 20 trials", median_time(network, 3, device), ""))
    print_table(["what", "median seconds", "target s"], [(w, f"{t:.4f}", goal) for w, t, goal in rows])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    torch.set_num_threads(int(os.environ.get("NTK_BENCH_THREADS", os.cpu_count() or 1)))
    print(f"# eigenlearning, hypercube d = 8 (M = 256), device={args.device}, threads={torch.get_num_threads()}")
    run(args.quick, args.device, args.repeats)


if __name__ == "__main__":
    main()
