"""Memory guard for training (issue 8): configurations that would need hundreds of GB are refused instantly,
before anything is allocated, with a message that says which setting to lower.

"Nothing allocated" is checked three ways: the call returns in well under a second, tracemalloc sees no large
Python/numpy allocation, and the functions that would allocate (the model's forward and clone, the empirical
NTK, the data set, the networks of a sweep or an ensemble) are replaced by tripwires that fail the test if
called.  Inputs of millions of rows are expanded views of one row, so the tests themselves allocate nothing.
"""
import time
import tracemalloc

import pytest
import torch

import ntk_explorer as nx
import ntk_explorer.dynamics.engine as engine_module
import ntk_explorer.experiments.config as config_module
import ntk_explorer.experiments.sweeps as sweeps_module
from ntk_explorer.memory import (MemoryBudgetError, estimate_ensemble_bytes, estimate_training_bytes,
                                 memory_budget, set_memory_budget)
from ntk_explorer.models import MLP

GB = 10**9


def _rows(n, d=2):
    """n identical unit-norm rows without allocating them (an expanded view)."""
    return torch.tensor([[0.6, 0.8] + [0.0] * (d - 2)], dtype=torch.float64).expand(n, d)


def _tripwire(name):
    def fail(*args, **kwargs):
        raise AssertionError(f"{name} was called: the guard did not refuse before allocating")
    return fail


@pytest.fixture
def tripwires(monkeypatch):
    monkeypatch.setattr(MLP, "forward", _tripwire("MLP.forward"))
    monkeypatch.setattr(MLP, "clone", _tripwire("MLP.clone"))
    monkeypatch.setattr(engine_module, "empirical_ntk", _tripwire("empirical_ntk"))
    monkeypatch.setattr(config_module, "make_dataset", _tripwire("make_dataset"))
    monkeypatch.setattr(sweeps_module, "train", _tripwire("train"))
    monkeypatch.setattr(config_module.ExperimentConfig, "model", _tripwire("ExperimentConfig.model"))


def _refused(call, advice):
    """Runs ``call``; asserts it raised MemoryBudgetError naming ``advice`` within 0.5 s and < 10 MiB traced."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(MemoryBudgetError, match=advice) as info:
            call()
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert elapsed < 0.5, f"refusal took {elapsed:.2f} s"
    assert peak < 10 * 2**20, f"{peak / 2**20:.1f} MiB allocated before refusing"
    assert "GiB" in str(info.value) or "TiB" in str(info.value)
    return str(info.value)


def _need_at_least(need):
    assert need > 200 * GB, "the test configuration should need hundreds of GB"
    if need <= memory_budget():
        pytest.skip("this machine's memory budget exceeds the test configuration")


# --------------------------------------------------------------------------------------------- training
def test_train_stream_refuses_a_huge_eval_set(tripwires):
    model = nx.MLP(2, 1024, 2, device="cpu")  # built before the tripwires fire on forward/clone only
    n_train, n_eval = 1000, 3_000_000
    _need_at_least(estimate_training_bytes(n_train, n_eval, width=1024, depth=2, in_dim=2))
    message = _refused(lambda: nx.train_stream(model, _rows(n_train), torch.zeros(n_train, dtype=torch.float64),
                                               lr=0.1, steps=10, x_eval=_rows(n_eval)), "n_eval")
    assert "width or depth" in message and "3000000 evaluation points" in message


def test_train_refuses_a_huge_kernel_with_advice_on_the_points(tripwires):
    model = nx.MLP(2, 16, 1, device="cpu")
    n = 200_000  # Θ_0 over 200k points: 2 × 200k² float64 = 640 GB
    _need_at_least(estimate_training_bytes(n, 0, width=16, depth=1, in_dim=2))
    message = _refused(lambda: nx.train(model, _rows(n), torch.zeros(n, dtype=torch.float64), lr=0.1, steps=3),
                       r"fewer training or evaluation points \(n_train, n_eval\)")
    assert "width=16" in message


def test_any_module_is_guarded_by_its_parameter_count(monkeypatch):
    net = torch.nn.Sequential(torch.nn.Linear(2, 64), torch.nn.Tanh(), torch.nn.Linear(64, 1)).double()
    calls = []
    net.register_forward_hook(lambda module, args, out: calls.append(args[0].shape[0]))
    monkeypatch.setattr(engine_module, "empirical_ntk", _tripwire("empirical_ntk"))
    n = 300_000
    _need_at_least(estimate_training_bytes(n, 0, width=0, depth=0, in_dim=2, n_params=257))
    message = _refused(lambda: nx.train(net, _rows(n), torch.zeros(n, dtype=torch.float64), lr=0.1, steps=3),
                       "fewer training")
    assert calls == [1], "only a one-row probe may run before the check"
    assert "257 parameters" in message


def test_the_guard_uses_the_documented_estimate():
    """Budget just below the estimate: refused; just above: the run goes ahead (same estimate, same wiring)."""
    model = nx.MLP(2, 32, 2, out_dim=2, device="cpu")
    x, x_eval = _rows(12).clone(), _rows(5).clone()
    y = torch.zeros(12, 2, dtype=torch.float64)
    for linearization in ("function", "parameter"):
        need = estimate_training_bytes(12, 5, width=32, depth=2, in_dim=2, out_dim=2, linearization=linearization)
        try:
            set_memory_budget(need - 1)
            with pytest.raises(MemoryBudgetError, match="training"):
                nx.train(model, x, y, lr=0.1, steps=2, x_eval=x_eval, linearization=linearization)
            set_memory_budget(need + 1)
            assert len(nx.train(model, x, y, lr=0.1, steps=2, x_eval=x_eval, linearization=linearization)) == 3
        finally:
            set_memory_budget(None)
    # the estimate counts what the engine holds: Θ_0 over (train + eval) × train points at least twice
    parts = estimate_training_bytes(12, 5, width=32, depth=2, in_dim=2, out_dim=2) \
        - estimate_training_bytes(12, 5, width=32, depth=2, in_dim=2, out_dim=2, n_params=0)
    assert parts == nx.memory.mlp_parameter_count(2, 32, 2, 2) * 5 * 8  # θ, θ_0, θ_{t−1}, ∇θ, update


# -------------------------------------------------------------------------------- sweeps and ensembles
def test_width_sweep_refuses_its_widest_run_before_training_any(tripwires):
    widths = [8, 2**17]  # depth 2 at width 131072: 1.7e10 parameters, 4 copies: 550 GB
    _need_at_least(estimate_training_bytes(32, 128, width=2**17, depth=2, in_dim=2))
    message = _refused(lambda: nx.width_sweep(widths, 2, depth=2, n_train=32, n_eval=128, steps=5,
                                              progress=False), "lower width or depth")
    assert "width=131072" in message


def test_width_sweep_refuses_a_huge_eval_set_before_generating_it(tripwires):
    _need_at_least(estimate_training_bytes(32, 10**9, width=64, depth=1, in_dim=2))
    _refused(lambda: nx.width_sweep([64], 1, depth=1, n_train=32, n_eval=10**9, steps=5, progress=False),
             "n_eval")


def test_ensemble_refuses_too_many_wide_networks(tripwires):
    config = nx.ExperimentConfig(width=4096, depth=2, n_train=32, n_eval=128, steps=5, device="cpu")
    seeds = range(2000)  # 2000 networks of 1.7e7 parameters, 4 copies each: 1 TB
    _need_at_least(estimate_ensemble_bytes(2000, 32, 128, width=4096, depth=2, in_dim=2))
    message = _refused(lambda: nx.ensemble(config, seeds), "fewer seeds")
    assert "2000 networks" in message


def test_small_sweeps_and_ensembles_still_run():
    sweep = nx.width_sweep([8, 16], 1, depth=1, n_train=4, n_eval=6, steps=3, record_every=1, kernel_every=1,
                           progress=False, device="cpu")
    assert sweep.values["discrepancy"].shape == (2, 1)
    result = nx.ensemble(nx.ExperimentConfig(width=8, depth=1, n_train=4, n_eval=6, steps=3, record_every=1,
                                             device="cpu"), 2)
    assert result.f_eval.shape == (4, 2, 6)


# ------------------------------------------------------------------------------------ analytic kernels
def test_analytic_kernels_and_gp_prediction_refuse_huge_inputs():
    _need_at_least(80 * 300_000**2)
    _refused(lambda: nx.analytic_kernels(_rows(300_000), depth=2), "fewer inputs")
    _refused(lambda: nx.gp_prediction(_rows(10), torch.zeros(10, dtype=torch.float64), _rows(300_000), lr=0.1,
                                      depth=1), "fewer inputs")
