"""Helpers shared by the real-browser tests (tests/test_browser.py, test_phase_browser.py, test_frontends.py,
test_robustness_browser.py): chromium discovery, the skip-or-fail rule, a Voilà server and chromium browsers that
are always stopped, and page helpers for the dashboard's lazy-training panel.  The lower-level server helpers
(free port, port polling, the CLI-started server, kernel processes) live in benchmarks/bench_load.py, which the
load benchmark shares.  Without chromium or playwright a browser test is skipped with the reason, except when the
environment variable CI is set: then it fails (CI must run them)."""
import contextlib
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `pytest` (not `python -m pytest`) does not put the repository root on sys.path
    sys.path.insert(0, str(ROOT))

from benchmarks.bench_load import (CHROMIUM, CHROMIUM_ARGS, RECORDER_JS, dashboard_server,  # noqa: E402,F401
                                   free_port, kernel_memory, kernel_processes, wait_for_port)

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "RECORDER_JS", "dashboard_server", "free_port", "kernel_memory",
           "kernel_processes", "wait_for_port", "ROOT", "LAZY", "unavailable", "sync_playwright", "open_dashboard",
           "status", "run_number", "wait_for_status", "wait_for_run_done", "function_traces", "function_data",
           "wait_for_lines_to_change", "wait_for_traces", "TRACE_DATA", "voila_server", "persistent_chromium",
           "launched_chromium"]

LOAD_TIMEOUT_MS = 120_000
RUN_TIMEOUT_MS = 60_000
LAZY = ".ntk-panel-lazy"


def unavailable(reason):
    if os.environ.get("CI"):
        pytest.fail(f"{reason} — CI is set, so the browser tests must run", pytrace=False)
    pytest.skip(reason)


def sync_playwright():
    """playwright.sync_api.sync_playwright, after checking that chromium and playwright are there."""
    if not os.path.exists(CHROMIUM):
        unavailable(f"{CHROMIUM} not found: install it with `apt-get update && apt-get install -y chromium`")
    try:
        from playwright.sync_api import sync_playwright as start
    except ImportError:
        unavailable("playwright is not installed: pip install -e '.[test]'")
    return start


@contextlib.contextmanager
def voila_server(log_path):
    """Voilà on 127.0.0.1:<free port> serving the dashboard, started like `ntk-explorer dashboard` but with
    tracebacks shown; yields its URL and always stops it (and its kernels)."""
    from ntk_explorer.cli import voila_command
    port = free_port()
    cmd = [("--show_tracebacks=True" if c.startswith("--show_tracebacks") else c) for c in voila_command(port)]
    with open(log_path, "w+") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                env=dict(os.environ, OMP_NUM_THREADS="1"), start_new_session=True)
        try:
            wait_for_port(port, proc, log.name)
            yield f"http://127.0.0.1:{port}/"
        finally:
            proc.terminate()  # voila shuts its kernels down on SIGTERM
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)  # the process group started here (voila and its kernels)
                proc.wait(timeout=10)


@contextlib.contextmanager
def persistent_chromium(user_data_dir, viewport):
    """A headless chromium browser context with its own user-data folder (skips, or fails under CI, without
    chromium or playwright)."""
    start = sync_playwright()
    with start() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(user_data_dir), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, viewport=viewport)
        try:
            yield context
        finally:
            context.close()


@contextlib.contextmanager
def launched_chromium(playwright):
    """A headless chromium browser (new contexts are made per page by the caller); always closed."""
    instance = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    try:
        yield instance
    finally:
        instance.close()


def open_dashboard(browser, url):
    page = browser.new_page()
    page.goto(url, timeout=LOAD_TIMEOUT_MS)
    page.wait_for_selector(f"{LAZY} .js-plotly-plot .scatterlayer .trace path.js-line", state="attached",
                           timeout=LOAD_TIMEOUT_MS)
    wait_for_status(page, r"Run #1 ready")
    return page


def status(page) -> str:
    return page.locator(f"{LAZY} .ntk-status").first.text_content()


def run_number(page) -> int:
    match = re.search(r"Run #(\d+)", status(page))
    return int(match.group(1)) if match else 0


def wait_for_status(page, pattern, timeout=RUN_TIMEOUT_MS):
    page.wait_for_function("([sel, pattern]) => { const el = document.querySelector(sel);"
                           " return el && new RegExp(pattern).test(el.textContent); }",
                           arg=[f"{LAZY} .ntk-status", pattern], timeout=timeout)


def wait_for_run_done(page, after: int):
    """Waits until a run numbered > after reports done (tagging runs, so an earlier "done" never satisfies it)."""
    page.wait_for_function("([sel, after]) => { const el = document.querySelector(sel); if (!el) return false;"
                           " const m = /Run #(\\d+) done/.exec(el.textContent); return m && Number(m[1]) > after; }",
                           arg=[f"{LAZY} .ntk-status", after], timeout=RUN_TIMEOUT_MS)


FUNCTION_TRACES = """(sel) => {
    // One figure per panel: the lazy panel's subplots share one plot; each drawn trace group carries its calcdata,
    // whose trace.index points into gd.data, where the trace's key (meta) is.
    const gd = document.querySelector(sel);
    const out = {};
    gd.querySelectorAll('.scatterlayer .trace').forEach(el => {
        const cd = el.__data__; const trace = cd && cd[0] && cd[0].trace;
        if (!trace || !gd.data[trace.index]) return;
        const p = el.querySelector('path.js-line');
        out[gd.data[trace.index].meta] = p ? p.getAttribute('d') : null; });
    return out; }"""
TRACE_DATA = """(sel) => { const out = {}; document.querySelector(sel).data.forEach(t => {
    out[t.meta] = t.y ? Array.from(t.y) : []; }); return out; }"""


def function_traces(page) -> dict:
    """trace key (meta) → the `d` attribute of its drawn line in the lazy panel's figure (f, flin, loss, …)."""
    return page.evaluate(FUNCTION_TRACES, f"{LAZY} .js-plotly-plot")


def function_data(page) -> dict:
    """trace key (meta) → the y values plotly.js holds for it in the lazy panel's figure (what is drawn)."""
    return page.evaluate(TRACE_DATA, f"{LAZY} .js-plotly-plot")


def wait_for_traces(page, keys, min_points: int, timeout=60_000):
    """Waits until the traces ``keys`` of the lazy panel's figure hold more than ``min_points`` y values each."""
    page.wait_for_function("([sel, keys, n]) => { const gd = document.querySelector(sel); return gd && gd.data &&"
                           " keys.every(k => gd.data.some(t => t.meta === k && t.y && t.y.length > n)); }",
                           arg=[f"{LAZY} .js-plotly-plot", list(keys), min_points], timeout=timeout)


def wait_for_lines_to_change(page, before: dict, keys=("f", "flin"), timeout=45_000):
    """The status line can arrive before plotly.js has applied the last frame: give the plot a moment to redraw."""
    page.wait_for_function(f"""([sel, before, keys]) => {{ const now = ({FUNCTION_TRACES})(sel);
        return keys.every(k => now[k] && now[k] !== before[k]); }}""", arg=[f"{LAZY} .js-plotly-plot", before,
                                                                         list(keys)], timeout=timeout)
    return function_traces(page)
