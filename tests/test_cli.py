import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from ntk_explorer import __version__
from ntk_explorer.cli import (DASHBOARD, KERNEL_MIB, POOL_CAP, dashboard_environment, preheat_pool_size,
                              voila_command)


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "ntk_explorer.cli", *args], capture_output=True, text=True,
                          timeout=60)


def test_version_and_help():
    out = run_cli("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"ntk-explorer {__version__}"
    out = run_cli("--help")
    assert out.returncode == 0 and "dashboard" in out.stdout
    out = run_cli("dashboard", "--port", "70000")
    assert out.returncode == 2 and "65535" in out.stderr


def test_voila_command_is_loopback_with_culling():
    cmd = voila_command(8123)
    assert "--Voila.ip=127.0.0.1" in cmd and "--port=8123" in cmd and "--Voila.port_retries=0" in cmd
    assert any(c.startswith("--MappingKernelManager.cull_idle_timeout=") for c in cmd)
    assert "--no-browser" in cmd
    assert cmd[1:3] == ["-m", "ntk_explorer_server.voila_app"]  # Voilà plus the route serving plotly's bundle
    assert not any("preheat" in c for c in cmd)  # pool_size=0: no kernel pool


def test_voila_command_starts_kernels_ahead_only_for_the_dashboard():
    cmd = voila_command(8123, pool_size=3, ip="0.0.0.0")
    assert "--preheat_kernel=True" in cmd and "--pool_size=3" in cmd and "--Voila.ip=0.0.0.0" in cmd
    assert str(DASHBOARD) in cmd  # one notebook served: Voilà's pool holds kernels for that notebook only
    assert any(c.startswith("--VoilaKernelManager.fill_delay=") for c in cmd)


def test_pool_size_follows_the_available_memory():
    kernel = KERNEL_MIB * 2**20
    # a quarter of the available memory at KERNEL_MIB each, floored, capped at POOL_CAP
    assert preheat_pool_size(0) == 0
    assert preheat_pool_size(4 * kernel - 1) == 0
    assert preheat_pool_size(4 * kernel) == 1
    assert preheat_pool_size(4 * 3 * kernel + 5) == 3
    assert preheat_pool_size(10**15) == POOL_CAP
    assert preheat_pool_size(8 * 2**30, kernel_bytes=2**30, cap=100) == 2


def test_pool_and_ip_options(capsys):
    from ntk_explorer.cli import build_parser
    args = build_parser().parse_args(["dashboard"])
    assert (args.ip, args.pool_size, args.no_preheat) == ("127.0.0.1", None, False)
    args = build_parser().parse_args(["dashboard", "--ip", "0.0.0.0", "--pool-size", "2", "--no-preheat"])
    assert (args.ip, args.pool_size, args.no_preheat) == ("0.0.0.0", 2, True)
    assert build_parser().parse_args(["dashboard", "--ip", "::1"]).ip == "::1"
    for option, bad, message in [("--ip", "my-laptop", "IP address"), ("--ip", "300.1.1.1", "IP address"),
                                 ("--pool-size", "-1", ">= 0"), ("--pool-size", "two", "integer")]:
        with pytest.raises(SystemExit):
            build_parser().parse_args(["dashboard", f"{option}={bad}"])
        assert message in capsys.readouterr().err, (option, bad)


def test_a_server_on_one_address_is_reached_there_by_pre_started_kernels():
    assert "VOILA_APP_IP" not in dashboard_environment(1, base={}, ip="127.0.0.1")
    assert "VOILA_APP_IP" not in dashboard_environment(1, base={}, ip="0.0.0.0")  # 127.0.0.1 reaches it
    assert dashboard_environment(1, base={}, ip="192.168.1.20")["VOILA_APP_IP"] == "192.168.1.20"


def test_network_address_prints_a_warning(monkeypatch, capsys):
    """``--ip`` other than loopback warns that anyone who can reach the port can use the dashboard; the command
    that would run is captured instead of executed."""
    import ntk_explorer.cli as cli
    ran = []
    monkeypatch.setattr(cli, "run_server", lambda cmd, env: ran.append((cmd, env)) or 0)
    assert cli.main(["dashboard", "--ip", "0.0.0.0", "--port", "8999", "--no-browser", "--pool-size", "2"]) == 0
    out = capsys.readouterr()
    assert "anyone who can reach port 8999" in out.err and "http://0.0.0.0:8999/" in out.out
    assert "Kernels started ahead of users: 2" in out.out
    cmd, env = ran[0]
    assert "--Voila.ip=0.0.0.0" in cmd and "--pool_size=2" in cmd and env["NTK_EXPLORER_TORCH_THREADS"] == "1"
    cli.main(["dashboard", "--no-browser", "--no-preheat"])
    out = capsys.readouterr()
    assert "WARNING" not in out.err and "Kernels started ahead of users: 0" in out.out
    assert not any("preheat" in c for c in ran[1][0])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, proc, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early with code {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.25)
    raise TimeoutError(f"nothing listened on port {port} within {timeout}s")


@pytest.fixture
def dashboard_server():
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "ntk_explorer.cli", "dashboard", "--port", str(port),
                             "--no-browser", "--no-preheat"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, proc)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_dashboard_serves_the_notebook(dashboard_server):
    with urllib.request.urlopen(f"http://127.0.0.1:{dashboard_server}/", timeout=60) as response:
        assert response.status == 200
        page = response.read().decode()
    assert "ntk_explorer dashboard" in page


def test_sweep_writes_the_table_and_the_plot(tmp_path):
    import csv

    from ntk_explorer.experiments import width_sweep
    out, page = tmp_path / "sweep.csv", tmp_path / "sweep.html"
    result = run_cli("sweep", "--widths", "16,32", "--seeds", "2", "--steps", "20", "--depth", "1", "--quiet",
                     "--out", str(out), "--html", str(page))
    assert result.returncode == 0, result.stderr
    assert "slope" in result.stdout
    rows = list(csv.DictReader(out.open()))
    expected = width_sweep([16, 32], 2, progress=False, activation="erf", parameterization="ntk", depth=1, steps=20,
                           lr=1.0, n_train=32, target="sin(3*t)", sigma_b=0.1)
    assert [int(r["width"]) for r in rows] == [16, 32]
    for metric in ("discrepancy", "kernel_drift", "param_distance"):
        assert [float(r[f"{metric}_mean"]) for r in rows] == pytest.approx(expected.mean[metric], rel=1e-12)
    html = page.read_text()
    assert "Width scaling" in html and f"slope {expected.slopes['discrepancy'].slope:.2f}" in html


def test_sweep_rejects_bad_arguments():
    out = run_cli("sweep", "--widths", "16,x")
    assert out.returncode == 2 and "comma-separated integers" in out.stderr
    out = run_cli("sweep", "--widths", "16", "--seeds", "0")
    assert out.returncode == 2 and "must be > 0" in out.stderr


def test_dashboard_limits_threads_and_memory_per_kernel_and_culls_closed_pages(capsys):
    from ntk_explorer.cli import build_parser, dashboard_environment
    env = dashboard_environment(1, base={"PATH": "/bin", "MKL_NUM_THREADS": "3"})
    assert env["NTK_EXPLORER_TORCH_THREADS"] == "1" and env["OMP_NUM_THREADS"] == "1"
    assert env["OPENBLAS_NUM_THREADS"] == "1" and env["MKL_NUM_THREADS"] == "3"  # what the caller set is kept
    cmd = voila_command(8123, cull_idle_timeout=12)
    assert "--MappingKernelManager.cull_idle_timeout=12" in cmd and "--MappingKernelManager.cull_interval=4" in cmd
    assert "--MappingKernelManager.cull_interval=60" in voila_command(8123)  # default timeout 900 s
    assert "--VoilaExecutor.iopub_timeout=120" in cmd  # under load the dashboard's output must not be dropped
    args = build_parser().parse_args(["dashboard", "--torch-threads", "2", "--cull-idle-timeout", "30"])
    assert (args.torch_threads, args.cull_idle_timeout) == (2, 30)
    from ntk_explorer.memory import parse_bytes
    for size in ("2G", "512M", "1.5GB", "4096"):
        budget = build_parser().parse_args(["dashboard", "--memory-budget", size]).memory_budget
        assert dashboard_environment(1, base={}, memory_budget=budget)["NTK_EXPLORER_MEMORY_BUDGET"] == size
        assert parse_bytes(size) > 0  # the kernels understand it
    assert "NTK_EXPLORER_MEMORY_BUDGET" not in dashboard_environment(1, base={})
    for option, bad, message in [("--memory-budget", "0", "positive size"),
                                 ("--memory-budget", "2GiB", "positive size"),
                                 ("--memory-budget", "-1G", "positive size"), ("--torch-threads", "0", "must be > 0"),
                                 ("--cull-idle-timeout", "-5", "must be > 0")]:
        with pytest.raises(SystemExit):
            build_parser().parse_args(["dashboard", f"{option}={bad}"])
        assert message in capsys.readouterr().err, (option, bad)
