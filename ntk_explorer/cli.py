"""The ``ntk-explorer`` command line: ``dashboard`` serves notebooks/dashboard.ipynb with Voilà on 127.0.0.1."""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

from ._version import __version__

REPO_ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = REPO_ROOT / "notebooks" / "dashboard.ipynb"


def voila_command(port, *, open_browser=False, notebook=DASHBOARD, cull_idle_timeout=900):
    """The Voilà invocation: loopback only, a fixed port (no silent fallback), idle kernels culled."""
    voila = shutil.which("voila", path=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    if voila is None:
        raise SystemExit("voila is not installed in this environment: run `make dashboard` (it installs it)")
    return [
        voila, str(notebook),
        f"--port={port}",
        "--Voila.ip=127.0.0.1",
        "--Voila.port_retries=0",
        "--show_tracebacks=False",
        "--MappingKernelManager.cull_interval=60",
        f"--MappingKernelManager.cull_idle_timeout={cull_idle_timeout}",
        "--MappingKernelManager.cull_connected=False",
    ] + ([] if open_browser else ["--no-browser"])


def _dashboard(args):
    if not DASHBOARD.exists():
        raise SystemExit(f"{DASHBOARD} not found: run ntk-explorer from a checkout of the repository")
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", str(args.torch_threads))  # many kernels share few cores
    cmd = voila_command(args.port, open_browser=not args.no_browser)
    print(f"Serving the ntk_explorer dashboard on http://127.0.0.1:{args.port}/ (Ctrl-C to stop)", flush=True)
    try:
        return subprocess.call(cmd, env=env)
    except KeyboardInterrupt:
        return 0


def _port(text):
    value = int(text)
    if not 0 < value < 65536:
        raise argparse.ArgumentTypeError(f"must be between 1 and 65535, got {value}")
    return value


def build_parser():
    parser = argparse.ArgumentParser(
        prog="ntk-explorer",
        description="Interactive teaching environment for Neural Tangent Kernel theory.",
    )
    parser.add_argument("--version", action="version", version=f"ntk-explorer {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    dash = sub.add_parser("dashboard", help="serve the interactive dashboard with Voilà on 127.0.0.1")
    dash.add_argument("--port", type=_port, default=8866, help="TCP port on 127.0.0.1 (default 8866)")
    dash.add_argument("--no-browser", action="store_true", help="do not open a web browser")
    dash.add_argument("--torch-threads", type=int, default=1, help="torch/OpenMP threads per kernel (default 1)")
    dash.set_defaults(func=_dashboard)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
