import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from ntk_explorer import __version__
from ntk_explorer.cli import voila_command


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
                             "--no-browser"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
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
