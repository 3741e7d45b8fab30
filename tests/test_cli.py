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
