"""Real-browser tests: Voilà serves notebooks/dashboard.ipynb on a free loopback port and headless Debian chromium
drives it through Playwright (see ../shared/ECOSYSTEM.md).  Without chromium or playwright these tests are skipped
with the reason, except when the environment variable CI is set: then they fail (CI must run them)."""
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from ntk_explorer.cli import voila_command

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("NTK_EXPLORER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
SCREENSHOT = ROOT / "assets" / "dashboard.png"
LOAD_TIMEOUT_MS = 120_000
RUN_TIMEOUT_MS = 60_000
LAZY = ".ntk-panel-lazy"


def unavailable(reason):
    if os.environ.get("CI"):
        pytest.fail(f"{reason} — CI is set, so the browser tests must run", pytrace=False)
    pytest.skip(reason)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Voilà on 127.0.0.1:<free port>, started like `ntk-explorer dashboard` (tracebacks on); always stopped."""
    port = free_port()
    cmd = [("--show_tracebacks=True" if c.startswith("--show_tracebacks") else c) for c in voila_command(port)]
    log = open(tmp_path_factory.mktemp("voila") / "voila.log", "w+")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ, OMP_NUM_THREADS="1"),
                            start_new_session=True)
    try:
        deadline = time.time() + 60
        while True:  # poll the TCP port: a GET would start a kernel
            if proc.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"voila exited with code {proc.returncode}:\n{log.read()[-3000:]}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.time() > deadline:
                    raise TimeoutError(f"voila did not listen on port {port} within 60 s")
                time.sleep(0.25)
        yield f"http://127.0.0.1:{port}/"
    finally:
        proc.terminate()  # voila shuts its kernels down on SIGTERM
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the process group this fixture created (voila and its kernels)
            proc.wait(timeout=10)
        log.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not os.path.exists(CHROMIUM):
        unavailable(f"{CHROMIUM} not found: install it with `apt-get update && apt-get install -y chromium`")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed: pip install -e '.[test]'")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium")), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 800})
        try:
            yield context
        finally:
            context.close()


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
    const gd = document.querySelector(sel);
    const traces = Array.from(gd.querySelectorAll('.scatterlayer .trace'));
    const out = {};
    gd.data.forEach((t, i) => { const p = traces[i] && traces[i].querySelector('path.js-line');
                                 out[t.meta] = p ? p.getAttribute('d') : null; });
    return out; }"""


def function_traces(page) -> dict:
    """trace key (meta) → the `d` attribute of its line in the f / f^lin figure (the first plot of the panel)."""
    return page.evaluate(FUNCTION_TRACES, f"{LAZY} .js-plotly-plot")


def wait_for_lines_to_change(page, before: dict, keys=("f", "flin"), timeout=15_000):
    """The status line can arrive before plotly.js has applied the last frame: give the plot a moment to redraw."""
    page.wait_for_function(f"""([sel, before, keys]) => {{ const now = ({FUNCTION_TRACES})(sel);
        return keys.every(k => now[k] && now[k] !== before[k]); }}""", arg=[f"{LAZY} .js-plotly-plot", before,
                                                                         list(keys)], timeout=timeout)
    return function_traces(page)


@pytest.fixture(scope="module")
def page(browser, server):
    page = open_dashboard(browser, server)
    yield page
    page.close()


def test_train_updates_f_and_flin_and_saves_a_screenshot(page):
    before = function_traces(page)
    assert before["f"] and before["flin"], before  # f = f^lin = f_0 before training
    run = run_number(page)
    page.locator(f"{LAZY} button.jupyter-button", has_text="Train").first.click()
    wait_for_run_done(page, run)
    after = wait_for_lines_to_change(page, before)  # f and f^lin exist and moved away from f_0
    assert after["f"] != after["flin"]
    page.wait_for_function("(sel) => document.querySelectorAll(sel)[1].data.every(t => t.y && t.y.length > 10)",
                           arg=f"{LAZY} .js-plotly-plot", timeout=15_000)  # the loss curves were drawn
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))
    assert SCREENSHOT.stat().st_size > 20_000


def test_keyboard_moves_the_width_slider_and_the_plot_follows(page):
    before = function_traces(page)
    run = run_number(page)
    handle = page.locator(f"{LAZY} .widget-slider .noUi-handle").first
    handle.focus()
    page.keyboard.press("ArrowRight")  # width 256 → 512; "live" is on: it retrains on release
    wait_for_run_done(page, run)
    assert page.locator(f"{LAZY} .widget-slider .widget-readout").first.text_content().strip() == "512"
    wait_for_lines_to_change(page, before)


def test_query_string_sets_the_controls(browser, server, page):
    page.close()  # one dashboard kernel at a time on a small machine
    query = ("?panel=lazy&width=1024&lr=0.5&steps=500&depth=3&activation=relu&parameterization=mup"
             "&target=sin(2*t)+cos(t)&hide=seed&n=oops")
    second = open_dashboard(browser, server + query)
    try:
        readouts = second.locator(f"{LAZY} .widget-slider .widget-readout").all_text_contents()
        assert readouts[:4] == ["1024", "0.500", "500", "3"], readouts
        selects = second.locator(f"{LAZY} select").evaluate_all("els => els.map(e => e.value)")
        assert selects[:2] == ["relu", "mup"]
        texts = second.locator(f"{LAZY} input[type=text]").evaluate_all("els => els.map(e => e.value)")
        assert "sin(2*t)+cos(t)" in texts
        assert second.locator(f"{LAZY} .widget-inline-hbox:has(label:text-is('seed'))").is_hidden()
        notice = second.locator(".ntk-guards").first.text_content()
        assert "n='oops' ignored" in notice
    finally:
        second.close()
