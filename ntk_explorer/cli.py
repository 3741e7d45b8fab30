"""The ``ntk-explorer`` command line: ``dashboard`` serves notebooks/dashboard.ipynb with Voilà (on 127.0.0.1 by
default, kernels started ahead of users); ``sweep`` runs a width sweep headless (a class handout, a cluster job) and writes its table and log-log plot."""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from ._version import __version__

REPO_ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = REPO_ROOT / "notebooks" / "dashboard.ipynb"


IOPUB_TIMEOUT = 120
KERNEL_MIB = 360  # resident memory of one dashboard kernel (measured: benchmarks/bench_load.py, README)
POOL_CAP = 8  # at most a class of eight kernels waiting for users
POOL_MEMORY_FRACTION = 0.25  # of the memory available at start, for kernels waiting for users
# Seconds before a used pre-started kernel is replaced.  Starting one costs about 5 s of CPU (imports, the dashboard
# and its first run); a class arriving at once must load its pages first: with 2 s, 8 pages arriving together on
# two cores reached their first plot after 60 s (median), with 30 s after 25 s (RESULTS §6).
FILL_DELAY = 30.0
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def preheat_pool_size(available_bytes: int, *, kernel_bytes: int = KERNEL_MIB * 2**20, cap: int = POOL_CAP) -> int:
    """How many kernels to start ahead of users: as many as a quarter of the available memory holds at
    ``kernel_bytes`` each, at most ``cap`` (0 when not even one fits)."""
    return max(0, min(cap, int(available_bytes * POOL_MEMORY_FRACTION // kernel_bytes)))


def available_memory_bytes() -> int:
    """MemAvailable from /proc/meminfo (Linux), else the physical memory."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def voila_command(port, *, open_browser=False, notebook=DASHBOARD, cull_idle_timeout=900, ip="127.0.0.1",
                  pool_size=0):
    """The Voilà invocation: ``ip`` (loopback by default), a fixed port (no silent fallback), idle kernels culled,
    ``pool_size`` kernels started ahead of users (0: none), plotly's widget bundle served over HTTP.

    It runs :mod:`ntk_explorer_server.voila_app`, Voilà plus the route that serves plotly's widget bundle to the
    figures (one cacheable file per page instead of ~5 MB per figure over the websocket).
    Pre-started kernels (Voilà's kernel pool): each runs the dashboard notebook, builds the dashboard and starts
    its first tab's first run at the default settings, then waits for a page's query string
    (``voila.utils.get_query_string``) and applies it (``Dashboard.open_link``), so the server answers a page in
    tens of milliseconds; a used kernel is replaced ``FILL_DELAY`` s later.  The pool serves only this notebook.
    Culling: a kernel whose page was closed (Voilà's shutdown request can fail, leaving it behind) and that has
    been idle for ``cull_idle_timeout`` seconds is shut down, checked every min(60, timeout/3) s; a kernel with
    an open page is kept however long the student reads (cull_connected=False), a busy one too (cull_busy);
    kernels waiting in the pool are never culled.
    IOPUB_TIMEOUT: how long Voilà waits for a cell's output after the kernel replied; at its default (4 s) a
    class loading the page at once on a small server got a page without the dashboard (the output was dropped
    with "Timeout waiting for IOPub output"); waiting longer costs nothing when the output arrives sooner."""
    cmd = [
        sys.executable, "-m", "ntk_explorer_server.voila_app", str(notebook),
        f"--port={port}",
        f"--Voila.ip={ip}",
        "--Voila.port_retries=0",
        "--show_tracebacks=False",
        f"--MappingKernelManager.cull_interval={max(1, min(60, int(cull_idle_timeout) // 3))}",
        f"--MappingKernelManager.cull_idle_timeout={cull_idle_timeout}",
        "--MappingKernelManager.cull_connected=False",
        "--MappingKernelManager.cull_busy=False",
        f"--VoilaExecutor.iopub_timeout={IOPUB_TIMEOUT}",
    ]
    if pool_size > 0:
        cmd += ["--preheat_kernel=True", f"--pool_size={int(pool_size)}",
                f"--VoilaKernelManager.fill_delay={FILL_DELAY}"]
    return cmd + ([] if open_browser else ["--no-browser"])


THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def dashboard_environment(torch_threads=1, base=None, memory_budget=None, ip="127.0.0.1") -> dict:
    """The environment of the Voilà server, inherited by every kernel it starts: torch, OpenMP and BLAS limited
    to ``torch_threads`` threads per kernel (eight users on two cores: one thread each, not two each fighting for
    the cores).  NTK_EXPLORER_TORCH_THREADS makes the Dashboard call torch.set_num_threads in the kernel; the
    OpenMP/BLAS variables also cover numpy/scipy and take effect when torch is imported.  Variables the caller
    already set are kept.  ``memory_budget`` (e.g. "2G"): NTK_EXPLORER_MEMORY_BUDGET, the most one configuration
    may allocate in a kernel (ntk_explorer.memory; default there: half of the memory available at that moment).
    ``ip``: a pre-started kernel asks the server for its page's query string at VOILA_APP_IP (Voilà's default
    127.0.0.1), so a server bound to one other address is reached there."""
    env = dict(os.environ if base is None else base)
    env["NTK_EXPLORER_TORCH_THREADS"] = str(torch_threads)
    if memory_budget is not None:
        env["NTK_EXPLORER_MEMORY_BUDGET"] = str(memory_budget)
    for name in THREAD_VARIABLES:
        env.setdefault(name, str(torch_threads))
    if ip not in LOOPBACK + ("0.0.0.0", "::", ""):
        env["VOILA_APP_IP"] = ip
    return env


def _pool_size(args) -> int:
    if args.no_preheat:
        return 0
    if args.pool_size is not None:
        return args.pool_size
    return preheat_pool_size(available_memory_bytes())


def _dashboard(args):
    if not DASHBOARD.exists():
        raise SystemExit(f"{DASHBOARD} not found: run ntk-explorer from a checkout of the repository")
    env = dashboard_environment(args.torch_threads, memory_budget=args.memory_budget, ip=args.ip)
    pool = _pool_size(args)
    cmd = voila_command(args.port, open_browser=not args.no_browser, cull_idle_timeout=args.cull_idle_timeout,
                        ip=args.ip, pool_size=pool)
    host = f"[{args.ip}]" if ":" in args.ip else args.ip
    print(f"Serving the ntk_explorer dashboard on http://{host}:{args.port}/ (Ctrl-C to stop)", flush=True)
    print(f"Kernels started ahead of users: {pool}" + (" (--no-preheat)" if args.no_preheat else
          f" (about {KERNEL_MIB} MiB each; change with --pool-size N or --no-preheat)"), flush=True)
    if args.ip not in LOOPBACK:
        print(f"WARNING: listening on {args.ip}: anyone who can reach port {args.port} of this machine can use "
              f"the dashboard (no password); each visitor gets a kernel on this machine. Use it on a network "
              f"you trust, e.g. a classroom's.", file=sys.stderr, flush=True)
    return run_server(cmd, env)


def run_server(cmd, env) -> int:
    """Runs the server command; on POSIX it replaces this process (Ctrl-C and SIGTERM reach Voilà, no orphaned
    server)."""
    if os.name == "posix":
        os.execve(cmd[0], cmd, env)
    try:
        return subprocess.call(cmd, env=env)
    except KeyboardInterrupt:
        return 0


def _sweep(args):
    import csv

    from .experiments import SWEEP_METRICS, width_sweep
    sweep = width_sweep(args.widths, args.seeds, progress=not args.quiet, activation=args.activation,
                        parameterization=args.parameterization, depth=args.depth, steps=args.steps, lr=args.lr,
                        n_train=args.n_train, target=args.target, sigma_b=args.sigma_b)
    print(sweep, flush=True)
    if args.out:
        rows = sweep.rows()
        with open(args.out, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        print(f"wrote {args.out}")
    if args.html:
        from .plots.panels import width_scaling_figure  # plotly only when a plot is asked for
        fig = width_scaling_figure(sweep.widths, sweep.mean, sweep.std,
                                   {m: tuple(sweep.slopes[m]) for m in SWEEP_METRICS})
        fig.update_layout(title_text=f"Width scaling: {args.activation}, {args.parameterization}, depth {args.depth}, "
                                     f"{len(sweep.seeds)} seeds, {args.steps} steps, lr {args.lr:g}")
        fig.write_html(args.html, include_plotlyjs=True, full_html=True)  # self-contained: opens offline
        print(f"wrote {args.html}")
    return 0


def _widths(text):
    try:
        widths = [int(w) for w in text.split(",") if w.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers like 64,256,1024, got {text!r}")
    if not widths or min(widths) < 1:
        raise argparse.ArgumentTypeError(f"widths must be positive integers, got {text!r}")
    return widths


def _positive(kind):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {kind.__name__}, got {text!r}")
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return value
    return parse


def _add_sweep_parser(sub):
    from .models import ACTIVATIONS, PARAMETERIZATIONS
    sweep = sub.add_parser("sweep", help="run a width sweep headless; write a CSV table and an HTML log-log plot",
                           description="Trains an MLP at every width and seed and tabulates sup_t of the three "
                                       "Theorem 2.1 quantities (Lee et al. 2019) with fitted log-log slopes.")
    sweep.add_argument("--widths", type=_widths, required=True, help="comma-separated widths, e.g. 64,256,1024")
    sweep.add_argument("--seeds", type=_positive(int), default=5, help="seeds per width (default 5)")
    sweep.add_argument("--activation", choices=sorted(ACTIVATIONS), default="erf", help="default erf")
    sweep.add_argument("--parameterization", choices=PARAMETERIZATIONS, default="ntk", help="default ntk")
    sweep.add_argument("--depth", type=_positive(int), default=2, help="hidden layers (default 2)")
    sweep.add_argument("--steps", type=_positive(int), default=1000, help="GD steps (default 1000)")
    sweep.add_argument("--lr", type=_positive(float), default=1.0, help="base learning rate (× lr_scale; default 1)")
    sweep.add_argument("--n-train", type=_positive(int), default=32, help="training points on the circle (32)")
    sweep.add_argument("--target", default="sin(3*t)", help="target expression of the angle t (sin(3*t))")
    sweep.add_argument("--sigma-b", type=float, default=0.1, help="bias scale σ_b (default 0.1)")
    sweep.add_argument("--out", help="write the table as CSV to this path")
    sweep.add_argument("--html", help="write the log-log plot as a self-contained HTML page to this path")
    sweep.add_argument("--quiet", action="store_true", help="no progress bar")
    sweep.set_defaults(func=_sweep)


def _size(text):
    """A size NTK_EXPLORER_MEMORY_BUDGET understands (``ntk_explorer.memory.parse_bytes``), e.g. 512M or 2G."""
    from .memory import parse_bytes  # imported here: torch loads only when the option is used
    try:
        parse_bytes(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text.strip()


def _count(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}")
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _ip(text):
    import ipaddress
    text = text.strip()
    if text == "localhost":
        return text
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an IP address such as 127.0.0.1 or 0.0.0.0, got {text!r}")


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
    dash = sub.add_parser("dashboard", help="serve the interactive dashboard with Voilà (on 127.0.0.1 by default)")
    dash.add_argument("--port", type=_port, default=8866, help="TCP port (default 8866)")
    dash.add_argument("--ip", type=_ip, default="127.0.0.1",
                      help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0: every network "
                           "of this machine, e.g. a classroom's; anyone who can reach the port can use it)")
    dash.add_argument("--pool-size", type=_count, default=None,
                      help=f"kernels started ahead of users (default: as many as a quarter of the available "
                           f"memory holds at {KERNEL_MIB} MiB each, at most {POOL_CAP})")
    dash.add_argument("--no-preheat", action="store_true", help="start each kernel only when a page asks for it")
    dash.add_argument("--no-browser", action="store_true", help="do not open a web browser")
    dash.add_argument("--torch-threads", type=_positive(int), default=1,
                      help="torch/OpenMP/BLAS threads per kernel (default 1)")
    dash.add_argument("--cull-idle-timeout", type=_positive(int), default=900,
                      help="shut down a kernel whose page is closed after this many idle seconds (default 900)")
    dash.add_argument("--memory-budget", type=_size, default=None,
                      help="the most one configuration may allocate per kernel, e.g. 2G (default: half of the "
                           "memory available when it is checked)")
    dash.set_defaults(func=_dashboard)
    _add_sweep_parser(sub)
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
