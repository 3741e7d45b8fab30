"""Page weight and load of the dashboard (issue 11): `ntk-explorer dashboard` on a free loopback port and real
headless Chromium pages on the same cores, measured in the browser.

One table: websocket bytes received before the first plot and after visiting every tab; how often plotly's
widget bundle was fetched; time to first plot for one user with a pre-started kernel and with a cold one, and
for 2 and 8 users arriving at once; frames drawn per second in the browser during a default Train run for one
user and per user for 4 users training at once; kernel memory.  Targets from the issue are printed beside them.
Then where the CPU goes, without targets (``CpuMeter``, from /proc via psutil): the CPU seconds all Chromium
processes used until one page's first plot was ready (times the users over the cores: the least time that many
arriving pages can take on this machine) and per frame drawn during the Train runs, beside the kernels' CPU.

Measured in the page (RECORDER_JS): the first plotted line of the lazy-training panel; the websocket bytes
(every message the page's websockets receive, counted as they arrive); every redraw of the panel's first plot
(a MutationObserver callback with changes inside its traces counts as one frame drawn).  Selectors
stay generic: the first ``.js-plotly-plot`` inside ``.ntk-panel-lazy`` and the Train button by its text.

Usage: python -m benchmarks.bench_load [--quick] [--users 8] [--pool-size N] [--json out.json].  ``--quick``: one user only
(pre-started and cold).  Needs chromium (NTK_EXPLORER_CHROMIUM, default /usr/bin/chromium) and playwright.
The server helpers (``dashboard_server``, ``jupyter_server``, ``kernel_processes``, ``kernel_memory``) and the
page recorder (``RECORDER_JS``, ``PageLog``) are reused by the browser tests (tests/_browser.py,
tests/test_frontends.py).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("NTK_EXPLORER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
LAZY = ".ntk-panel-lazy"
FIRST_PLOT = f"{LAZY} .js-plotly-plot"
FIRST_LINE = f"{FIRST_PLOT} .scatterlayer .trace path.js-line"
STATUS = f"{LAZY} .ntk-status"
BUNDLE_ROUTE = "ntk-explorer/plotly/widgetbundle.js"  # ntk_explorer_server.BUNDLE_ROUTE (kept literal: no import)
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
MB = 1e6


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, log_path=None, timeout: float = 90.0) -> None:
    """Polls the TCP port until it accepts (a GET would start a kernel); raises if the server exits first."""
    deadline = time.time() + timeout
    while True:
        if proc.poll() is not None:
            text = Path(log_path).read_text(errors="replace")[-3000:] if log_path else ""
            raise RuntimeError(f"the server exited with code {proc.returncode}:\n{text}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.time() > deadline:
                raise TimeoutError(f"nothing listened on 127.0.0.1:{port} within {timeout:.0f} s")
            time.sleep(0.25)


@dataclass
class Server:
    url: str
    port: int
    proc: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextlib.contextmanager
def _serving(cmd, log_path, url_path="/", env=None, cwd=ROOT):
    """Runs ``cmd`` (which must listen on the port in ``cmd``'s ``{port}``) in its own process group; yields a
    :class:`Server` once the port accepts; always stopped (SIGTERM, then SIGKILL of the whole group)."""
    port, log_path = free_port(), Path(log_path)
    cmd = [part.format(port=port) for part in cmd]
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=cwd, start_new_session=True,
                                env=dict(os.environ if env is None else env))
    try:
        wait_for_port(port, proc, log_path)
        yield Server(f"http://127.0.0.1:{port}{url_path}", port, proc, log_path)
    finally:
        proc.terminate()  # voila and jupyter shut their kernels down on SIGTERM
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # anything left in the group (kernels of a stuck server)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)


@contextlib.contextmanager
def dashboard_server(log_path, *, torch_threads: int = 1, cull_idle_timeout: int = 900, env=None, pool_size=0):
    """`ntk-explorer dashboard --no-browser` (the CLI, so its Voilà flags and environment are what is measured) on
    a free loopback port; yields a :class:`Server`.  ``pool_size``: kernels started ahead of users; 0 (default,
    as the browser tests want: one kernel per page, nothing else) passes --no-preheat, None the CLI's default
    (sized to the available memory), an int --pool-size."""
    cmd = [sys.executable, "-m", "ntk_explorer.cli", "dashboard", "--port", "{port}", "--no-browser",
           "--torch-threads", str(torch_threads), "--cull-idle-timeout", str(cull_idle_timeout)]
    if pool_size == 0:
        cmd.append("--no-preheat")
    elif pool_size is not None:
        cmd += ["--pool-size", str(int(pool_size))]
    with _serving(cmd, log_path, env=env) as server:
        yield server


@contextlib.contextmanager
def jupyter_server(log_path, root_dir, *, lab: bool = False, base_url: str = "/", env=None):
    """``jupyter lab`` (lab=True) or ``jupyter server`` on a free loopback port, without a token, serving
    ``root_dir`` under ``base_url``, with its own config, runtime, settings and workspace folders inside
    ``root_dir``'s parent (nothing of the user's Jupyter setup is read or written); yields a :class:`Server`
    whose url is the base URL.  The package's server extension (plotly's bundle) and Voilà's are enabled by the
    installed jupyter_server_config.d files."""
    state = Path(tempfile.mkdtemp(prefix="ntk-jupyter-", dir=Path(root_dir).parent))
    env = dict(os.environ if env is None else env, JUPYTER_CONFIG_DIR=str(state / "config"),
               JUPYTER_RUNTIME_DIR=str(state / "runtime"))
    jupyter = str(Path(sys.executable).parent / "jupyter")
    cmd = [jupyter, "lab" if lab else "server", "--no-browser", "--port={port}", "--ServerApp.port_retries=0",
           "--ServerApp.ip=127.0.0.1", f"--ServerApp.base_url={base_url}", f"--ServerApp.root_dir={root_dir}",
           "--IdentityProvider.token=", "--ServerApp.password=", "--allow-root"]
    if lab:
        cmd += [f"--LabApp.user_settings_dir={state / 'settings'}", f"--LabApp.workspaces_dir={state / 'workspaces'}",
                "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    with _serving(cmd, log_path, url_path=base_url, env=env, cwd=root_dir) as server:
        yield server


def copy_notebooks(target: Path) -> Path:
    """A copy of notebooks/dashboard.ipynb at ``target``/notebooks/ (a front end may save into its copy)."""
    (target / "notebooks").mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "notebooks" / "dashboard.ipynb", target / "notebooks" / "dashboard.ipynb")
    return target


def kernel_processes(server_pid: int) -> list:
    """The kernel processes (ipykernel) the server started, as psutil.Process objects."""
    import psutil
    try:
        children = psutil.Process(server_pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    kernels = []
    for child in children:
        with contextlib.suppress(psutil.Error):
            if any("ipykernel" in part for part in child.cmdline()):
                kernels.append(child)
    return kernels


def kernel_memory(process) -> dict:
    """RSS now and its peak (VmHWM) in MiB, thread count, and the thread-limiting variables of a kernel."""
    status = Path(f"/proc/{process.pid}/status").read_text()
    peak = re.search(r"VmHWM:\s+(\d+) kB", status)
    env = process.environ()
    return dict(pid=process.pid, rss_mib=process.memory_info().rss / 2**20,
                peak_mib=int(peak.group(1)) / 1024 if peak else float("nan"), os_threads=process.num_threads(),
                **{name: env.get(name) for name in ("OMP_NUM_THREADS", "NTK_EXPLORER_TORCH_THREADS")})


def waiting_for_a_page(process, port: int) -> bool:
    """True when a pre-started kernel waits for its page: it holds the websocket Voilà's
    ``voila.utils.get_query_string`` opens to the server (port ``port``) to receive the page's query string."""
    import psutil
    with contextlib.suppress(psutil.Error):
        return any(c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED
                   for c in process.net_connections(kind="tcp"))
    return False


def wait_for_pool(server: "Server", pool: int, timeout: float = 600.0) -> float:
    """Waits until ``pool`` kernels wait for a page (they ran the dashboard notebook up to the query string);
    returns the seconds waited, raises TimeoutError."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if sum(waiting_for_a_page(k, server.port) for k in kernel_processes(server.proc.pid)) >= pool:
            return time.perf_counter() - start
        time.sleep(1.0)
    raise TimeoutError(f"{pool} pre-started kernels waiting for a page not reached within {timeout:.0f} s")


def process_cpu(match: str) -> dict:
    """{pid: CPU seconds (user + system) so far} of every process whose command line contains ``match``."""
    import psutil
    out = {}
    for process in psutil.process_iter():
        if match in " ".join(_cmdline(process)):
            with contextlib.suppress(psutil.Error):
                times = process.cpu_times()
                out[process.pid] = times.user + times.system
    return out


def cpu_used(before: dict, after: dict) -> float:
    """CPU seconds used between two :func:`process_cpu` snapshots by the processes alive at the second one (those
    that exited in between are not counted: a lower bound)."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


class CpuMeter:
    """CPU seconds that Chromium (all its processes: renderers, GPU, browser) and the kernels (every ipykernel on
    the machine; idle pool kernels add ~0) used since :meth:`start`."""

    def start(self) -> "CpuMeter":
        self.browser, self.kernels = process_cpu(Path(CHROMIUM).name), process_cpu("ipykernel")
        return self

    def read(self) -> dict:
        return dict(browser_cpu_s=cpu_used(self.browser, process_cpu(Path(CHROMIUM).name)),
                    kernel_cpu_s=cpu_used(self.kernels, process_cpu("ipykernel")))


def _cmdline(process) -> list:
    import psutil
    with contextlib.suppress(psutil.Error):
        return process.cmdline()
    return []


RECORDER_JS = """(() => {
  // Installed in every document of a context; timestamps are epoch milliseconds taken in the page.
  // firstPlot: when the lazy panel's first plotted line appears; statuses: every text (and CSS class) its status
  // line shows; wsBytes: bytes received so far by the page's websockets (wsBytesAtFirstPlot: at the first plot);
  // frames: every redraw of the panel's first plot (a batch of mutations inside its traces: a line's d attribute
  // changed, or trace elements replaced).
  if (window.__ntk) return;
  const rec = window.__ntk = {firstPlot: null, statuses: [], wsBytes: 0, wsMessages: 0, wsBytesAtFirstPlot: null,
                              frames: []};
  let last = null;
  const now = () => performance.timeOrigin + performance.now();
  const encoder = new TextEncoder();
  const NativeWebSocket = window.WebSocket;
  window.WebSocket = class extends NativeWebSocket {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (event) => {
        const d = event.data;
        rec.wsBytes += typeof d === "string" ? encoder.encode(d).length : (d.byteLength ?? d.size ?? 0);
        rec.wsMessages += 1;
      });
    }
  };
  const check = () => {
    if (rec.firstPlot === null && document.querySelector(%(first)r)) {
      rec.firstPlot = now();
      rec.wsBytesAtFirstPlot = rec.wsBytes;
    }
    const el = document.querySelector(%(status)r);
    if (el && el.textContent !== last) {
      last = el.textContent;
      rec.statuses.push({t: now(), text: last, cls: el.className});
    }
  };
  const start = () => {
    new MutationObserver(check).observe(document, {subtree: true, childList: true, characterData: true});
    new MutationObserver((mutations) => {
      const plot = document.querySelector(%(plot)r);
      const traces = plot && plot.querySelector(".scatterlayer");
      if (traces && mutations.some((m) => traces.contains(m.target))) rec.frames.push(now());
    }).observe(document, {subtree: true, childList: true, attributes: true, attributeFilter: ["d"]});
  };
  start();
})();""" % dict(first=FIRST_LINE, status=STATUS, plot=FIRST_PLOT)
FINISHED = re.compile(r"Run #(\d+) (done|diverged|stopped|failed)")


def recorded(page) -> dict:
    """What RECORDER_JS has seen in the page so far ({} while the page is between documents)."""
    try:
        return page.evaluate("() => window.__ntk ? {firstPlot: window.__ntk.firstPlot, "
                             "statuses: window.__ntk.statuses, wsBytes: window.__ntk.wsBytes, "
                             "wsMessages: window.__ntk.wsMessages, wsBytesAtFirstPlot: window.__ntk.wsBytesAtFirstPlot,"
                             " frames: window.__ntk.frames} : null") or {}
    except Exception:  # the execution context is replaced while navigating
        return {}


def frame_rate(frames, start_ms: float, end_ms: float) -> tuple:
    """(frames drawn, frames per second) between ``start_ms`` and ``end_ms`` (epoch ms): the intervals between
    the first and the last frame in that window."""
    inside = [t for t in frames if start_ms <= t <= end_ms]
    if len(inside) < 2:
        return len(inside), 0.0
    return len(inside), (len(inside) - 1) / ((inside[-1] - inside[0]) / 1000)


def is_loopback(url: str) -> bool:
    """True for URLs served by this machine (and for data:, blob:, about: URLs, which fetch nothing)."""
    parsed = urlparse(url)
    if parsed.scheme in ("data", "blob", "about", "chrome-error", ""):
        return True
    return (parsed.hostname or "") in LOOPBACK_HOSTS


MIME_EXTENSION_CODE = re.compile(r"/jupyterlab-plotly/static/(?!remoteEntry)")  # plotly's Lab renderer + plotly.js


@dataclass
class PageLog:
    """Network facts of one browser context, from Playwright's events: responses for plotly's widget bundle (URL,
    status, Cache-Control), responses for the code of plotly's JupyterLab extension (jupyterlab-plotly: its own
    copy of plotly.js), and requests to hosts other than this machine."""
    bundle: list = field(default_factory=list)
    mime_extension: list = field(default_factory=list)
    external: list = field(default_factory=list)

    def attach(self, context) -> "PageLog":
        context.on("request", lambda r: None if is_loopback(r.url) else self.external.append(r.url))
        context.on("response", self._response)
        return self

    def _response(self, response) -> None:
        if BUNDLE_ROUTE in response.url:
            self.bundle.append((response.url, response.status, response.headers.get("cache-control")))
        elif MIME_EXTENSION_CODE.search(response.url):
            self.mime_extension.append(response.url)


class Session:
    """One student: a fresh browser context that loads the dashboard, waits for the panel to be ready, presses
    Train and waits for that default run to finish.  Steps advance in :meth:`poll`, so many sessions progress at
    once from one thread; times come from the page's own clock (epoch ms), not from when they were polled.
    ``train=False``: stops once the panel is ready (the caller presses Train, e.g. many users at once)."""

    def __init__(self, browser, url: str, train: bool = True):
        self.url, self.state, self.marks, self.kernel_ids, self.error = url, "new", {}, [], None
        self.train = train
        self.context = browser.new_context(viewport={"width": 1280, "height": 800})
        self.context.add_init_script(RECORDER_JS)
        self.network = PageLog().attach(self.context)
        self.page = self.context.new_page()
        self.page.on("websocket", lambda ws: self.kernel_ids.extend(
            re.findall(r"/api/kernels/([0-9a-f-]{36})/channels", ws.url)))
        self.torch_threads = self.final_status = None
        self.recording = {}

    def start(self) -> None:
        self.marks["start"] = time.time() * 1000
        self.page.evaluate("url => { setTimeout(() => { window.location.href = url; }, 0); }", self.url)
        self.state = "loading"

    def press_train(self) -> None:
        self.marks["click"] = time.time() * 1000
        # Train starts no navigation: do not wait for one (eight loaded pages can keep Playwright's check for
        # "scheduled navigations" from completing within its 30 s timeout, after the click itself happened).
        self.page.locator(f"{LAZY} button.jupyter-button", has_text="Train").first.click(
            no_wait_after=True, timeout=120_000)
        self.state = "training"

    def poll(self) -> None:
        if self.state not in ("loading", "training"):
            return
        rec = self.recording = recorded(self.page) or self.recording
        statuses = rec.get("statuses", [])
        if self.state == "loading":
            ready = [s for s in statuses if "Run #1 ready" in s["text"]]
            failed = [s for s in statuses if "failed" in s["text"]]
            if failed:
                self.state, self.error = "failed", failed[0]["text"]
            elif ready and rec.get("firstPlot"):
                self.marks["first_plot"], self.marks["ready"] = rec["firstPlot"], ready[0]["t"]
                self.torch_threads = self.page.locator(".ntk-threads").first.get_attribute("data-torch-threads")
                if self.train:
                    self.press_train()
                else:
                    self.state = "ready"
        else:
            for s in statuses:
                found = FINISHED.search(s["text"])
                if found and int(found.group(1)) >= 2:
                    self.marks["done"], self.final_status = s["t"], s["text"].strip()
                    self.state = "finished" if found.group(2) == "done" else "failed"
                    self.error = None if self.state == "finished" else s["text"]
                    break

    def result(self) -> dict:
        m, rec = self.marks, self.recording
        if self.state not in ("finished", "ready"):
            return dict(error=self.error or f"did not finish (still {self.state})", kernel_ids=self.kernel_ids)
        out = dict(first_plot_s=(m["first_plot"] - m["start"]) / 1000, ready_s=(m["ready"] - m["start"]) / 1000,
                   torch_threads=self.torch_threads, kernel_ids=self.kernel_ids,
                   ws_bytes_first_plot=rec.get("wsBytesAtFirstPlot"), bundle_fetches=len(self.network.bundle),
                   other_plotly_copies=len(self.network.mime_extension), external=list(self.network.external))
        if self.state == "finished":
            frames, fps = frame_rate(rec.get("frames", []), m["click"], m["done"] + 1000)
            out.update(run_s=(m["done"] - m["click"]) / 1000, status=self.final_status, frames=frames, fps=fps)
        return out


def drive(browser, url: str, users: int, timeout_s: float = 300.0, measure=None, keep_open: int = 0,
          train: bool = True, ids=None) -> dict:
    """``users`` sessions at once on a Playwright (sync API) browser; ``measure()`` is called once every session
    finished, while all pages are still open (so every kernel is alive).  Returns {"sessions", "measured",
    "kept"}: the last ``keep_open`` sessions are left open (the caller closes their ``context``).  ``ids``: a
    list that receives the kernel ids the pages connected to (before ``measure`` runs)."""
    sessions = [Session(browser, url, train=train) for _ in range(users)]
    kept = sessions[len(sessions) - keep_open:] if keep_open else []
    try:
        for session in sessions:
            session.start()
        _advance(sessions, timeout_s)
        if ids is not None:
            ids.extend(i for s in sessions for i in s.kernel_ids)
        measured = measure() if measure else None
        return dict(sessions=[s.result() for s in sessions], measured=measured, kept=kept)
    finally:
        for session in sessions:
            if session not in kept:
                session.context.close()


def _advance(sessions, timeout_s: float) -> None:
    deadline = time.time() + timeout_s
    while time.time() < deadline and any(s.state in ("loading", "training") for s in sessions):
        for session in sessions:
            session.poll()
        time.sleep(0.1)


def train_at_once(browser, url: str, users: int, timeout_s: float = 300.0) -> dict:
    """``users`` pages loaded and ready, then Train pressed on all of them within a few milliseconds; returns
    {"sessions": each session's result (frames drawn and frames per second during its run), "cpu": the CPU
    seconds Chromium and the kernels used from the presses until every run finished}."""
    sessions = [Session(browser, url, train=False) for _ in range(users)]
    try:
        for session in sessions:
            session.start()
        _advance(sessions, timeout_s)
        meter = CpuMeter().start()
        for session in sessions:
            if session.state == "ready":
                session.press_train()
        _advance(sessions, timeout_s)
        return dict(sessions=[s.result() for s in sessions], cpu=meter.read())
    finally:
        for session in sessions:
            session.context.close()


TABS = ".ntk-dashboard .lm-TabBar-tab"
SHOWN_PANEL_SETTLED = """() => {
  const panels = Array.from(document.querySelectorAll('[class*="ntk-panel-"]'))
      .filter((p) => p.getClientRects().length > 0);
  return panels.length > 0 && panels.every((p) => {
    const status = p.querySelector('.ntk-status');
    return p.querySelector('.js-plotly-plot') && status && !status.classList.contains('ntk-status-running');
  });
}"""


def visit_tabs(page, timeout_ms: int = 240_000) -> list:
    """Opens every tab of the dashboard in turn, waiting each time until the shown panel has a plot and its
    status is no longer "running"; returns the tab titles."""
    titles = page.locator(TABS).all_text_contents()
    for index in range(len(titles)):
        page.locator(TABS).nth(index).click()
        page.wait_for_timeout(300)
        page.wait_for_function(SHOWN_PANEL_SETTLED, timeout=timeout_ms)
    return titles


def one_user(browser, url: str, *, tabs: bool = True, timeout_s: float = 300.0) -> dict:
    """One page: first plot (time, websocket bytes, CPU used until then), every tab in turn (websocket bytes once
    all have settled), back to the first tab and a default Train run (frames drawn per second, CPU used)."""
    session = Session(browser, url, train=False)
    try:
        meter = CpuMeter().start()
        session.start()
        _advance([session], timeout_s)
        if session.state != "ready":
            return session.result()
        extra = dict(cpu_to_ready=meter.read())
        if tabs:
            extra["tabs"] = visit_tabs(session.page)
            rec = recorded(session.page)
            extra.update(ws_bytes_all_tabs=rec.get("wsBytes"), ws_messages_all_tabs=rec.get("wsMessages"))
            session.page.locator(TABS).first.click()
            session.page.wait_for_function(SHOWN_PANEL_SETTLED, timeout=60_000)
        meter.start()
        session.press_train()
        _advance([session], timeout_s)
        result = session.result()
        result.update(extra, cpu_run=meter.read(), bundle_cache_control=[b[2] for b in session.network.bundle])
        return result
    finally:
        session.context.close()


def summary(result: dict) -> dict:
    ok = [s for s in result["sessions"] if "error" not in s]
    stats = {}
    for key in ("first_plot_s", "ready_s", "run_s", "fps"):
        values = [s[key] for s in ok if key in s]
        stats[key] = (statistics.median(values), max(values)) if values else (float("nan"), float("nan"))
    memory = result["measured"] or []
    rss = [m["rss_mib"] for m in memory]
    peak = [m["peak_mib"] for m in memory]
    return dict(completed=len(ok), failed=len(result["sessions"]) - len(ok), kernels=len(memory),
                rss_mib=(statistics.median(rss), max(rss)) if rss else None,
                peak_mib=(statistics.median(peak), max(peak)) if peak else None, **stats)


def _load_average() -> str:
    with contextlib.suppress(OSError):
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    return "?"


def measure(args, browser) -> dict:
    """Every row of the table: the default server (kernels started ahead of users, pool sized by the CLI), then a
    server without a pool.  Before each step the pool is full again (its kernels wait for a page); the kernels of
    closed pages stay until the server stops (idle, they cost memory, not CPU)."""
    out = dict(cpus=os.cpu_count(), load_before=_load_average(), users=args.users)
    log_dir = Path(tempfile.mkdtemp(prefix="ntk-load-"))
    with dashboard_server(log_dir / "voila-pool.log", pool_size=args.pool_size) as server:
        pool = int(re.search(r"Kernels started ahead of users: (\d+)", _wait_for_text(server, "ahead")).group(1))
        out["pool"] = pool
        out["pool_fill_s"] = wait_for_pool(server, pool)
        out["one_prestarted"] = one_user(browser, server.url, tabs=True)
        if not args.quick:
            for users in (2, args.users):
                wait_for_pool(server, pool)
                ids = []
                result = drive(browser, server.url, users, measure=lambda: [
                    kernel_memory(k) for k in kernel_processes(server.proc.pid)
                    if any(i in " ".join(_cmdline(k)) for i in ids)], ids=ids)
                out[f"arrive_{users}"] = dict(sessions=result["sessions"], summary=summary(result),
                                              kernels=result["measured"])
            wait_for_pool(server, pool)
            out["train_4"] = train_at_once(browser, server.url, 4)
    with dashboard_server(log_dir / "voila-cold.log", pool_size=0) as server:
        out["one_cold"] = one_user(browser, server.url, tabs=False)
        out["kernel_rss_mib"] = [kernel_memory(k)["rss_mib"] for k in kernel_processes(server.proc.pid)]
    out["load_after"] = _load_average()
    return out


def _wait_for_text(server: Server, text: str, timeout: float = 30.0) -> str:
    deadline = time.time() + timeout
    while time.time() < deadline:
        log = server.log()
        if text in log:
            return log
        time.sleep(0.2)
    raise TimeoutError(f"{text!r} not in the server's log")


def _fmt_mb(value) -> str:
    return "n/a" if value is None else f"{value / MB:.2f} MB"


def _times(entry) -> str:
    s = entry["summary"]
    return f"median {s['first_plot_s'][0]:.1f} s, max {s['first_plot_s'][1]:.1f} s ({s['completed']} of " \
           f"{s['completed'] + s['failed']} completed)"


def table(out: dict) -> list:
    """(what, measured, target) rows."""
    one, cold = out["one_prestarted"], out["one_cold"]
    rows = [
        ("websocket bytes before the first plot (1 user)", _fmt_mb(one.get("ws_bytes_first_plot")), "≤ 1 MB"),
        ("… after visiting all tabs", _fmt_mb(one.get("ws_bytes_all_tabs")), "≤ 3 MB"),
        ("plotly.js per page: widget bundle fetched over HTTP", f"{one.get('bundle_fetches')} × (Cache-Control "
         f"{', '.join(sorted(set(str(c) for c in one.get('bundle_cache_control', []))))}), other copies "
         f"{one.get('other_plotly_copies')}", "≤ 1"),
        ("requests to hosts other than this machine", str(len(one.get("external", [])) + len(cold.get("external", []))),
         "0"),
        (f"time to first plot, 1 user, pre-started kernel (pool {out['pool']})", f"{one.get('first_plot_s', 0):.1f} s",
         "≤ 2 s"),
        ("time to first plot, 1 user, cold kernel (--no-preheat)", f"{cold.get('first_plot_s', 0):.1f} s", "≤ 5 s"),
    ]
    if "arrive_2" in out:
        rows.append(("time to first plot, 2 users arriving at once", _times(out["arrive_2"]), ""))
        big = out[f"arrive_{out['users']}"]
        rows.append((f"time to first plot, {out['users']} users arriving at once", _times(big),
                     "median ≤ 10 s, max ≤ 15 s"))
    rows.append(("frames drawn per second, default Train run, 1 user",
                 f"{one.get('fps', 0):.1f} fps ({one.get('frames')} frames in {one.get('run_s', 0):.1f} s)", "≥ 15"))
    if "train_4" in out:
        fps = [r.get("fps", 0.0) for r in out["train_4"]["sessions"]]
        runs = [r.get("run_s", float("nan")) for r in out["train_4"]["sessions"]]
        rows.append(("… per user, 4 users training at once", f"min {min(fps):.1f}, median {statistics.median(fps):.1f} "
                     f"fps (runs {statistics.median(runs):.1f} s)", "≥ 8"))
    rows += _cpu_rows(out)
    if f"arrive_{out['users']}" in out:
        rss = [k["rss_mib"] for k in out[f"arrive_{out['users']}"]["kernels"]]
        rows.append(("memory per kernel (RSS, pages open)", f"median {statistics.median(rss):.0f} MiB, "
                     f"{sum(rss) / 1024:.1f} GiB for {len(rss)} kernels", ""))
    return rows


def _per_frame(cpu: dict, frames: int) -> str:
    if not frames:
        return "n/a"
    return (f"{1000 * cpu['browser_cpu_s'] / frames:.0f} ms per frame drawn ({cpu['browser_cpu_s']:.2f} CPU-s for "
            f"{frames} frames; kernels {cpu['kernel_cpu_s']:.2f} CPU-s)")


def _cpu_rows(out: dict) -> list:
    """Where the CPU goes (no targets: these explain the time and frame-rate rows on a machine whose cores the
    browsers share with the server)."""
    one, rows = out["one_prestarted"], []
    if "cpu_to_ready" in one:
        rows.append(("browser CPU until the first plot is ready, 1 user pre-started (all Chromium processes)",
                     f"{one['cpu_to_ready']['browser_cpu_s']:.2f} CPU-s "
                     f"(× {out['users']} users / {out['cpus']} cores ≥ "
                     f"{one['cpu_to_ready']['browser_cpu_s'] * out['users'] / out['cpus']:.1f} s)", ""))
    if "cpu_run" in one:
        rows.append(("browser CPU per frame, default Train run, 1 user", _per_frame(one["cpu_run"], one.get("frames")),
                     ""))
    if "train_4" in out:
        frames = sum(r.get("frames", 0) for r in out["train_4"]["sessions"])
        rows.append(("… 4 users training at once (all pages)", _per_frame(out["train_4"]["cpu"], frames), ""))
    return rows


def report(out: dict) -> None:
    print(f"ntk-explorer dashboard, {out['cpus']} CPUs, browsers on the same cores; load average before "
          f"{out['load_before']}, after {out['load_after']}; kernels started ahead: {out['pool']}")
    rows = [("what", "measured", "target")] + table(out)
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for i, row in enumerate(rows):
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |")
        if i == 0:
            print("| " + " | ".join("-" * w for w in widths) + " |")
    for key in ("one_prestarted", "one_cold"):
        if "error" in out[key]:
            print(f"{key} failed: {out[key]['error']}")
    for key in [k for k in out if k.startswith("arrive_")]:
        for i, session in enumerate(out[key]["sessions"]):
            if "error" in session:
                print(f"{key}: session {i} failed: {session['error']}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=8, help="users arriving at once in the largest row (8)")
    parser.add_argument("--quick", action="store_true", help="one user only (pre-started and cold)")
    parser.add_argument("--pool-size", type=int, default=None,
                        help="kernels started ahead of users (default: the CLI's, sized to the available memory)")
    parser.add_argument("--json", help="also write the raw results to this file")
    args = parser.parse_args(argv)
    if not os.path.exists(CHROMIUM):
        print(f"skipped: {CHROMIUM} not found (apt-get install -y chromium)")
        return 0
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            out = measure(args, browser)
        finally:
            browser.close()
    report(out)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
