"""Small timing helpers shared by the benchmarks: medians over repeats, memory, a plain-text table."""
from __future__ import annotations

import os
import statistics
import time

import torch


def synchronize(device):
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def median_time(fn, repeats=5, device="cpu", warmup=1):
    """Median wall-clock seconds of ``fn()`` over ``repeats`` runs after ``warmup`` untimed runs."""
    for _ in range(warmup):
        fn()
    synchronize(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def interleaved_times(fns, repeats=1000, device="cpu", warmup=20, clock=time.perf_counter):
    """Seconds of every call of each of ``fns`` (one list per function), called in turn ``repeats`` times after
    ``warmup`` untimed rounds: interleaving exposes every function to the same load, so ratios of their medians
    are fair on a busy machine.  ``clock``: time.perf_counter (wall clock) or time.thread_time (CPU time of this
    thread: with one torch thread, what the call itself computed, much less sensitive to other processes)."""
    for _ in range(warmup):
        for fn in fns:
            fn()
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, spent in zip(fns, times):
            synchronize(device)
            start = clock()
            fn()
            synchronize(device)
            spent.append(clock() - start)
    return times


def available_memory_bytes(device="cpu"):
    if str(device).startswith("cuda"):
        free, _ = torch.cuda.mem_get_info()
        return free
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def print_table(header, rows):
    cells = [list(map(str, header))] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    line = lambda row: "| " + " | ".join(c.rjust(w) for c, w in zip(row, widths)) + " |"
    print(line(cells[0]))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells[1:]:
        print(line(row))
