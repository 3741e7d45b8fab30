"""Tests for the width-sweep stream and its summary: the stream gives the runs width_sweep tabulates, a stop signal
ends it within one (width, seed), and the summary of a partial table equals an independent computation."""
import math
import queue
import threading

import numpy as np
import pytest
from scipy import stats

import ntk_explorer as nx
from ntk_explorer.dynamics import train
from ntk_explorer.experiments import (SWEEP_METRICS, ExperimentConfig, SweepRun, summarize_runs, summarize_sweep,
                                      width_sweep, width_sweep_stream)

TINY = dict(depth=1, activation="erf", n_train=6, n_eval=10, steps=30, record_every=5, kernel_every=10, device="cpu")


def test_stream_yields_the_runs_width_sweep_tabulates_in_width_major_order():
    # lr = 6 is close to the critical rate 2N/λ_max: some runs diverge, so the NaN path is exercised too
    stream = width_sweep_stream([32, 8, 16], [0, 5], lr=6.0, **TINY)
    assert stream.widths.tolist() == [8, 16, 32] and stream.seeds == (0, 5) and len(stream) == 6
    runs = list(stream)
    assert [(r.width, r.seed, r.width_index, r.seed_index) for r in runs] == \
        [(w, s, i, j) for i, w in enumerate([8, 16, 32]) for j, s in enumerate([0, 5])]
    sweep = width_sweep([8, 16, 32], [0, 5], progress=False, lr=6.0, **TINY)
    for m in SWEEP_METRICS:
        table = np.array([r.values[m] for r in runs]).reshape(3, 2)
        np.testing.assert_array_equal(table, sweep.values[m])  # NaN where diverged, in the same places
    for run in runs:
        assert run.diverged == all(math.isnan(v) for v in run.values.values())
        assert run.diverged == bool(run.message)


def test_a_run_is_the_sup_over_its_own_training():
    config = ExperimentConfig(width=16, lr=1.0, **TINY)
    (run,) = width_sweep_stream([16], [4], **{**TINY, "lr": 1.0})
    data = config.dataset()
    trajectory = train(config.model(4), data.x_train, data.y_train, lr=1.0, steps=30, x_eval=data.x_eval,
                       record_every=5, kernel_every=10)
    assert not run.diverged and run.message == ""
    assert run.values["discrepancy"] == trajectory.discrepancy.max()
    assert run.values["param_distance"] == trajectory.param_distance.max()
    assert run.values["kernel_drift"] == np.nanmax(trajectory.kernel_drift)


def counting_stop(k):
    """A callable that returns True from its k-th call on, recording its calls."""
    calls = []

    def stop():
        calls.append(len(calls) + 1 >= k)
        return calls[-1]
    return stop, calls


def test_a_callable_stop_is_checked_between_runs_and_inside_training():
    steps = TINY["steps"]
    per_run = 1 + steps  # one check before the run, one per GD step after step 0 (train_stream)
    # True at the 5th check inside the second run's training: that run ends there and is not yielded
    stop, calls = counting_stop(per_run + 1 + 5)
    runs = list(width_sweep_stream([8, 16, 32], 1, stop=stop, lr=1.0, **TINY))
    assert [r.width for r in runs] == [8] and len(calls) == per_run + 1 + 5 and calls[-1]
    # True at the check before the third run: two runs, the third never starts
    stop, calls = counting_stop(2 * per_run + 1)
    runs = list(width_sweep_stream([8, 16, 32], 1, stop=stop, lr=1.0, **TINY))
    assert [r.width for r in runs] == [8, 16] and len(calls) == 2 * per_run + 1


def test_an_event_set_by_the_consumer_ends_the_stream_after_the_current_run():
    event = threading.Event()
    runs = []
    for run in width_sweep_stream([8, 16], [0, 1, 2], stop=event, lr=1.0, **TINY):
        runs.append(run)
        if len(runs) == 2:
            event.set()
    assert [(r.width, r.seed) for r in runs] == [(8, 0), (8, 1)]


def test_an_event_set_from_another_thread_stops_the_run_in_progress():
    event, received, checks = threading.Event(), queue.Queue(), []

    def stop():  # the event, with a record of every check
        checks.append(event.is_set())
        return checks[-1]

    def consume():
        try:
            for run in width_sweep_stream([8, 16, 32, 64], 1, stop=stop, lr=1.0,
                                          **{**TINY, "steps": 3000, "kernel_every": None}):
                received.put(run)
        finally:  # an error in the worker must not leave the test waiting
            received.put(None)

    worker = threading.Thread(target=consume)
    worker.start()
    first = received.get()
    assert first is not None
    event.set()  # while the worker trains the second width
    worker.join()
    rest = []
    while (item := received.get()) is not None:
        rest.append(item)
    assert first.width == 8 and len(rest) <= 1  # within one (width, seed) of the event
    assert checks.count(True) == 1 and checks[-1]  # nothing ran after the first check that saw the event
    assert checks.count(False) > 1 + 3000  # the second run's training consulted it step by step


def test_stop_must_be_an_event_or_a_callable():
    with pytest.raises(TypeError, match="stop"):
        width_sweep_stream([8], 1, stop="now", **TINY)


def partial_table(rng):
    """(4 widths, 3 seeds) positive values, power laws with noise; a width not yet run, a lone finished seed."""
    widths = np.array([16, 32, 64, 128])
    values = {m: 2.0 * widths[:, None] ** -p * np.exp(0.1 * rng.standard_normal((4, 3)))
              for m, p in zip(SWEEP_METRICS, (0.5, 1.0, 0.7))}
    for v in values.values():
        v[3] = np.nan          # the last width has not run yet
        v[2, 1:] = np.nan      # one seed of the third width so far
        v[0, 2] = np.nan       # a diverged run
    return widths, values


def test_summary_of_a_partial_sweep_equals_an_independent_computation():
    widths, values = partial_table(np.random.default_rng(0))
    sweep = summarize_sweep(widths, 3, values)
    assert sweep.seeds == (0, 1, 2) and sweep.widths.tolist() == widths.tolist()
    for m, v in values.items():
        for i in range(4):
            finite = [x for x in v[i] if not math.isnan(x)]
            mean = sum(finite) / len(finite) if finite else math.nan
            std = math.sqrt(sum((x - mean) ** 2 for x in finite) / (len(finite) - 1)) if len(finite) > 1 \
                else math.nan
            np.testing.assert_allclose(sweep.mean[m][i], mean, rtol=1e-14)
            np.testing.assert_allclose(sweep.std[m][i], std, rtol=1e-12)
        keep = ~np.isnan(v)
        x, y = np.log(np.broadcast_to(widths[:, None], v.shape)[keep]), np.log(v[keep])
        reference = stats.linregress(x, y)
        assert sweep.slopes[m].slope == pytest.approx(reference.slope, rel=1e-12)
        assert sweep.slopes[m].stderr == pytest.approx(reference.stderr, rel=1e-10)
        np.testing.assert_array_equal(sweep.values[m], v)
    assert "slope" in str(sweep) and math.isnan(sweep.rows()[3]["discrepancy_mean"])


def test_summary_copies_its_input_and_checks_it():
    widths, values = partial_table(np.random.default_rng(1))
    sweep = summarize_sweep(widths, 3, values)
    values["discrepancy"][3] = 1.0  # the caller keeps filling its table
    assert np.isnan(sweep.values["discrepancy"][3]).all()
    with pytest.raises(ValueError, match="increasing"):
        summarize_sweep(widths[::-1], 3, values)
    with pytest.raises(ValueError, match="shape"):
        summarize_sweep(widths, 2, values)
    with pytest.raises(ValueError, match="keys"):
        summarize_sweep(widths, 3, {"discrepancy": values["discrepancy"]})


def test_summary_of_runs_received_so_far():
    widths, values = partial_table(np.random.default_rng(2))
    runs = [SweepRun(int(w), j, i, j, {m: float(values[m][i, j]) for m in SWEEP_METRICS})
            for i, w in enumerate(widths) for j in range(3) if not np.isnan(values["discrepancy"][i, j])]
    from_runs, from_table = summarize_runs(widths, 3, runs), summarize_sweep(widths, 3, values)
    for m in SWEEP_METRICS:
        np.testing.assert_array_equal(from_runs.values[m], from_table.values[m])
        np.testing.assert_array_equal(from_runs.mean[m], from_table.mean[m])
        assert from_runs.slopes[m] == from_table.slopes[m]
    with pytest.raises(ValueError, match="not part of"):
        summarize_runs([16, 32], 3, runs)


def test_the_stream_and_summary_are_public():
    for name in ("width_sweep_stream", "SweepRun", "SweepStream", "summarize_sweep", "summarize_runs"):
        assert name in nx.__all__ and getattr(nx, name) is getattr(nx.experiments, name)
