"""Responsiveness of the dashboard's lazy-training panel (issue 5, "Binder-sized defaults").

Measured headless (FigureWidgets without a browser: the kernel side of the work), with the panel's defaults:
* the default lazy-training run (Train pressed): wall time until its last frame is drawn (target ≤ 2 s on 2 cores);
* the first frame after a slider release ("live" on): time from the control's change to the first drawn frame
  (target ≤ 150 ms), for a change that rebuilds the network (width) and one that reuses it (learning rate);
* frames drawn per second during a run (capped at 20) and the time one frame takes to draw;
* what one frame costs on the kernel websocket (issue 11): the widget comm messages the kernel sends per drawn frame
  and their bytes (JSON part + binary buffers), counted by recording every comm message the widgets send during
  the default run (no front end is attached here, so the replies a browser sends back are not counted).
Usage: python -m benchmarks.bench_widgets [--threads 2] [--repeats 5]
"""
from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import threading
import time

import comm
import torch

from ntk_explorer.widgets import LazyTrainingPanel


class Clock:
    """Wraps a panel's draw to record when frames are drawn and how long drawing takes."""

    def __init__(self, panel):
        self.panel, self.frames, self.draw_seconds = panel, [], []
        original = panel.draw

        def draw(state):
            start = time.perf_counter()
            original(state)
            self.frames.append(start)
            self.draw_seconds.append(time.perf_counter() - start)
        panel.draw = draw

    def reset(self):
        self.frames.clear()
        self.draw_seconds.clear()


class CommRecorder:
    """Records every comm message the widgets send (msg type, comm id, JSON bytes, buffer bytes) while active.
    Without a kernel ipywidgets talks through ``comm.DummyComm``, whose ``publish_msg`` receives exactly what a
    kernel would put on the wire (data, buffers): wrapping it counts messages and bytes per frame."""

    def __init__(self):
        self.messages, self._lock = [], threading.Lock()

    @contextlib.contextmanager
    def active(self):
        original = comm.DummyComm.publish_msg
        recorder = self

        def publish_msg(comm_self, msg_type, data=None, metadata=None, buffers=None, **keys):
            size = len(json.dumps(data, separators=(",", ":"), default=str).encode())
            buffer_bytes = sum(memoryview(b).nbytes for b in (buffers or ()))
            with recorder._lock:
                recorder.messages.append((msg_type, comm_self.comm_id, size, buffer_bytes))
            return original(comm_self, msg_type, data=data, metadata=metadata, buffers=buffers, **keys)
        comm.DummyComm.publish_msg = publish_msg
        try:
            yield self
        finally:
            comm.DummyComm.publish_msg = original

    def reset(self):
        with self._lock:
            self.messages.clear()

    def totals(self, comm_ids=None):
        """(messages, JSON bytes, buffer bytes) of the recorded comm_msg messages (of ``comm_ids`` if given)."""
        with self._lock:
            picked = [m for m in self.messages if m[0] == "comm_msg" and (comm_ids is None or m[1] in comm_ids)]
        return len(picked), sum(m[2] for m in picked), sum(m[3] for m in picked)


def frame_cost(panel, clock, recorder, repeats):
    """Per drawn frame of the default run: (messages, bytes) of all widgets and of the figures alone."""
    figures = {fig.comm.comm_id for fig in figure_widgets(panel)}
    rows = []
    for _ in range(repeats):
        panel.wait(900)
        clock.reset()
        recorder.reset()
        panel.run()
        panel.wait(900)
        frames = max(1, len(clock.frames))
        count, text, binary = recorder.totals()
        fig_count, fig_text, fig_binary = recorder.totals(figures)
        rows.append((count / frames, (text + binary) / frames, fig_count / frames, (fig_text + fig_binary) / frames,
                     binary / max(1, text + binary)))
    return rows


def figure_widgets(panel):
    return [panel.figure]


def first_frame_latency(panel, clock, name, values, repeats):
    latencies = []
    for i in range(repeats):
        panel.wait(900)
        clock.reset()
        start = time.perf_counter()
        panel.controls[name].value = values[i % len(values)]  # "live": the change starts a run
        while not clock.frames and time.perf_counter() - start < 30:
            time.sleep(0.0005)
        latencies.append(clock.frames[0] - start)
        panel.wait(900)
    return latencies


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    panel = LazyTrainingPanel()
    clock = Clock(panel)
    cfg = panel.settings
    runs, fps, draw = [], [], []
    panel.run()
    panel.wait(900)  # warm-up (imports, first allocation)
    for _ in range(args.repeats):
        clock.reset()
        start = time.perf_counter()
        panel.run()
        panel.wait(900)
        elapsed = time.perf_counter() - start
        runs.append(elapsed)
        fps.append(len(clock.frames) / elapsed)
        draw.extend(clock.draw_seconds)
    width_latency = first_frame_latency(panel, clock, "width", [512, 256], args.repeats)
    lr_latency = first_frame_latency(panel, clock, "lr", [0.5, 1.0], args.repeats)
    recorder = CommRecorder()
    with recorder.active():
        cost = frame_cost(panel, clock, recorder, args.repeats)
    print(f"defaults: width {cfg.width}, depth {cfg.depth}, {cfg.activation}, {cfg.n} training points, "
          f"{cfg.steps} steps; torch threads {args.threads}; {args.repeats} repeats; median (min, max)")

    def row(label, values, unit="s", scale=1.0):
        v = [x * scale for x in values]
        print(f"{label:<58}{statistics.median(v):>9.3f} {unit}  ({min(v):.3f}, {max(v):.3f})")
    row("default lazy-training run, Train → last frame drawn", runs)
    row("first frame after the width slider changed (new network)", width_latency, "ms", 1e3)
    row("first frame after the lr slider changed (cached network)", lr_latency, "ms", 1e3)
    row("frames drawn per second during a run (cap 20)", fps, "fps")
    row(f"time to draw one frame ({len(figure_widgets(panel))} FigureWidget(s), batch_update)", draw, "ms", 1e3)
    row("comm messages sent per frame, all widgets", [c[0] for c in cost], "msg")
    row("bytes sent per frame, all widgets (JSON + buffers)", [c[1] for c in cost], "B")
    row("comm messages sent per frame, figures only", [c[2] for c in cost], "msg")
    row("bytes sent per frame, figures only", [c[3] for c in cost], "B")
    row("share of those bytes sent as binary buffers", [c[4] for c in cost], "")


if __name__ == "__main__":
    main()
