"""Responsiveness of the dashboard's lazy-training panel (issue 5, "Binder-sized defaults").

Measured headless (FigureWidgets without a browser: the kernel side of the work), with the panel's defaults:
* the default lazy-training run (Train pressed): wall time until its last frame is drawn (target ≤ 2 s on 2 cores);
* the first frame after a slider release ("live" on): time from the control's change to the first drawn frame
  (target ≤ 150 ms), for a change that rebuilds the network (width) and one that reuses it (learning rate);
* frames drawn per second during a run (capped at 20) and the time one frame takes to draw.
Usage: python -m benchmarks.bench_widgets [--threads 2] [--repeats 5]
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from ntk_explorer.widgets import LazyTrainingPanel


class Clock:
    """Wraps a panel's _draw to record when frames are drawn and how long drawing takes."""

    def __init__(self, panel):
        self.panel, self.frames, self.draw_seconds = panel, [], []
        original = panel._draw

        def draw(state):
            start = time.perf_counter()
            original(state)
            self.frames.append(start)
            self.draw_seconds.append(time.perf_counter() - start)
        panel._draw = draw

    def reset(self):
        self.frames.clear()
        self.draw_seconds.clear()


def first_frame_latency(panel, clock, name, values, repeats):
    latencies = []
    for i in range(repeats):
        panel.wait(120)
        clock.reset()
        start = time.perf_counter()
        panel.controls[name].value = values[i % len(values)]  # "live": the change starts a run
        while not clock.frames and time.perf_counter() - start < 30:
            time.sleep(0.0005)
        latencies.append(clock.frames[0] - start)
        panel.wait(120)
    return latencies


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    panel = LazyTrainingPanel(preview=False)
    clock = Clock(panel)
    cfg = panel.config()
    runs, fps, draw = [], [], []
    panel.run()
    panel.wait(120)  # warm-up (imports, first allocation)
    for _ in range(args.repeats):
        clock.reset()
        start = time.perf_counter()
        panel.run()
        panel.wait(120)
        elapsed = time.perf_counter() - start
        runs.append(elapsed)
        fps.append(len(clock.frames) / elapsed)
        draw.extend(clock.draw_seconds)
    width_latency = first_frame_latency(panel, clock, "width", [512, 256], args.repeats)
    lr_latency = first_frame_latency(panel, clock, "lr", [0.5, 1.0], args.repeats)
    print(f"defaults: width {cfg['width']}, depth {cfg['depth']}, {cfg['activation']}, {cfg['n']} training points, "
          f"{cfg['steps']} steps; torch threads {args.threads}; {args.repeats} repeats; median (min, max)")

    def row(label, values, unit="s", scale=1.0):
        v = [x * scale for x in values]
        print(f"{label:<58}{statistics.median(v):>9.3f} {unit}  ({min(v):.3f}, {max(v):.3f})")
    row("default lazy-training run, Train → last frame drawn", runs)
    row("first frame after the width slider changed (new network)", width_latency, "ms", 1e3)
    row("first frame after the lr slider changed (cached network)", lr_latency, "ms", 1e3)
    row("frames drawn per second during a run (cap 20)", fps, "fps")
    row("time to draw one frame (4 FigureWidgets, batch_update)", draw, "ms", 1e3)


if __name__ == "__main__":
    main()
