"""Speed of the training engine on the default lesson configuration (issue 3, "Speed").

Config: MLP(2, width 512, depth 2, relu, NTK parameterization, float64, CPU), 32 training points on the
circle (target sin(3t)), 128 eval points, 1000 full-batch GD steps with lr = 1.
Rows:
* plain GD of f alone — a minimal torch loop (forward, MSE, autograd.grad, in-place update);
* ntk_explorer.train with f^lin ("function" linearization) and kernel drift recorded every 10 steps;
* the same recording every step (for reference).
Each variant runs ``--repeats`` times, interleaved; the table shows medians and the ratio to plain GD
measured in this run.  Usage: python benchmarks/bench_training.py [--threads 2] [--repeats 5]
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from ntk_explorer.data import make_dataset
from ntk_explorer.dynamics import train
from ntk_explorer.models import MLP

WIDTH, DEPTH, N_TRAIN, N_EVAL, STEPS, LR = 512, 2, 32, 128, 1000, 1.0


def plain_gd(model, x, y):
    net = model.clone()
    params = list(net.parameters())
    y = y[:, None]
    for _ in range(STEPS):
        loss = 0.5 * (net(x) - y).square().sum() / x.shape[0]
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            for p, g in zip(params, grads):
                p.sub_(g, alpha=LR)
    return float(loss.detach())


def engine(model, data, record_every, kernel_every):
    trajectory = train(model, data.x_train, data.y_train, lr=LR, steps=STEPS, x_eval=data.x_eval,
                       record_every=record_every, kernel_every=kernel_every)
    assert not trajectory.diverged.any()
    return float(trajectory.loss[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = make_dataset("circle", n_train=N_TRAIN, n_eval=N_EVAL, target="sin(3*t)")
    model = MLP(2, WIDTH, DEPTH, activation="relu", parameterization="ntk", seed=0, device="cpu")
    variants = {
        "plain GD of f alone": lambda: plain_gd(model, data.x_train, data.y_train),
        "f + f^lin + kernel drift every 10 steps": lambda: engine(model, data, 10, 10),
        "f + f^lin every step, kernel drift every 10": lambda: engine(model, data, 1, 10),
    }
    times = {name: [] for name in variants}
    cpu = {name: [] for name in variants}
    for _ in range(args.repeats):
        for name, run in variants.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            run()
            times[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    base = statistics.median(times["plain GD of f alone"])
    base_cpu = statistics.median(cpu["plain GD of f alone"])
    print(f"width {WIDTH}, depth {DEPTH}, {N_TRAIN} circle points, {N_EVAL} eval points, {STEPS} steps, "
          f"float64, CPU, torch threads {args.threads}, {args.repeats} repeats")
    print(f"{'variant':<46}{'median s':>10}{'min s':>9}{'ratio':>8}{'CPU s':>9}{'CPU ratio':>11}")
    for name, values in times.items():
        median, median_cpu = statistics.median(values), statistics.median(cpu[name])
        print(f"{name:<46}{median:>10.3f}{min(values):>9.3f}{median / base:>8.2f}"
              f"{median_cpu:>9.3f}{median_cpu / base_cpu:>11.2f}")
    print("median s: wall-clock median; ratio: median / median of plain GD; CPU s: median process CPU time "
          "(less sensitive to other processes on a shared machine)")


if __name__ == "__main__":
    main()
