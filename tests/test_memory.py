import time
import tracemalloc

import pytest
import torch

from ntk_explorer import MLP, empirical_ntk, memory
from ntk_explorer.memory import (MemoryBudgetError, check_memory, estimate_mlp_bytes, memory_budget,
                                 mlp_parameter_count, set_memory_budget)


def test_parameter_count_matches_module():
    m = MLP(3, 17, 2, out_dim=4)
    assert mlp_parameter_count(3, 17, 2, 4) == sum(p.numel() for p in m.parameters())


def test_huge_network_refused_instantly_without_allocating():
    tracemalloc.start()
    start = time.perf_counter()
    with pytest.raises(MemoryBudgetError, match="lower width or depth"):
        MLP(2, 10**6, 3)  # ~3e12 parameters: tens of TB
    elapsed = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < 0.5 and peak < 10 * 2**20
    assert estimate_mlp_bytes(2, 10**6, 3) > 10**13


def test_kernel_too_large_refused_with_advice():
    m = MLP(2, 8, 1)
    x = torch.zeros(200_000, 2, dtype=torch.float64)  # a 200k x 200k kernel: 320 GB
    with pytest.raises(MemoryBudgetError, match="fewer inputs"):
        empirical_ntk(m, x)


def test_budget_override_and_environment(monkeypatch):
    try:
        set_memory_budget(10_000)
        with pytest.raises(MemoryBudgetError):
            MLP(2, 64, 2)
    finally:
        set_memory_budget(None)
    monkeypatch.setenv("NTK_EXPLORER_MEMORY_BUDGET", "2K")
    assert memory_budget() == 2048
    monkeypatch.setenv("NTK_EXPLORER_MEMORY_BUDGET", "lots")
    with pytest.raises(ValueError, match="NTK_EXPLORER_MEMORY_BUDGET"):
        memory_budget()
    monkeypatch.delenv("NTK_EXPLORER_MEMORY_BUDGET")
    assert memory_budget() > 2**20
    with pytest.raises(ValueError, match="n_bytes"):
        set_memory_budget(-5)


def test_a_recent_reading_serves_requests_far_below_it_and_a_refusal_reads_again(monkeypatch):
    """check_memory re-reads the available memory unless a reading of the last second is ≥ 8× the request; the
    configured budget is never cached."""
    readings = iter([800 * 2**20, 150 * 2**20, 900 * 2**20])
    calls = []

    def half_available(device):
        calls.append(device)
        return next(readings)
    monkeypatch.setattr(memory, "_half_available", half_available)
    monkeypatch.setattr(memory, "_readings", {})
    check_memory(10 * 2**20, "a", "lower it")              # reads 800 MiB
    check_memory(100 * 2**20, "b", "lower it")             # 8 × 100 MiB ≤ 800 MiB: served by that reading
    assert len(calls) == 1
    with pytest.raises(MemoryBudgetError, match="150.0 MiB"):  # 8 × 200 MiB > 800 MiB: read again, 150 MiB
        check_memory(200 * 2**20, "c", "lower it")
    assert len(calls) == 2
    taken, budget = memory._readings["cpu"]
    memory._readings["cpu"] = (taken - memory.READING_TTL, budget)  # a second later: stale
    check_memory(1, "d", "lower it")
    assert len(calls) == 3 and memory._readings["cpu"][1] == 900 * 2**20
    try:
        set_memory_budget(1000)
        with pytest.raises(MemoryBudgetError):
            check_memory(1001, "e", "lower it")
        check_memory(1000, "f", "lower it")
    finally:
        set_memory_budget(None)
    assert len(calls) == 3
