"""Many users on one dashboard server (issue 8): `ntk-explorer dashboard` on a free loopback port and N concurrent
browser sessions (Playwright contexts of one headless chromium), as a class opening the link at once.

Each session loads the page, waits for the first plot (the lazy-training panel draws the network at
initialisation), presses Train and waits until that default run reports "done".  Reported: time to first plot
and time of the default run (median, max), and the memory of every kernel (RSS once all runs are done, and its
peak), with the torch threads each kernel reports in the dashboard header and its OMP_NUM_THREADS.  Optionally
(``--linger``) the sessions are then closed without a word to the server, and the kernels left behind are counted
while the server's culler removes them.  Note that the browsers run on the same cores as the kernels here.

Usage: python -m benchmarks.bench_load [--users 8] [--torch-threads 1] [--json out.json] [--cull-idle-timeout S
--linger S].  Needs chromium (NTK_EXPLORER_CHROMIUM, default /usr/bin/chromium) and playwright.  The server
helpers (``dashboard_server``, ``kernel_processes``, ``kernel_memory``) are reused by tests/_browser.py.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("NTK_EXPLORER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
LAZY = ".ntk-panel-lazy"
FIRST_LINE = f"{LAZY} .js-plotly-plot .scatterlayer .trace path.js-line"
STATUS = f"{LAZY} .ntk-status"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, log_path=None, timeout: float = 60.0) -> None:
    """Polls the TCP port until it accepts (a GET would start a kernel); raises if the server exits first."""
    deadline = time.time() + timeout
    while True:
        if proc.poll() is not None:
            text = Path(log_path).read_text(errors="replace")[-3000:] if log_path else ""
            raise RuntimeError(f"the dashboard server exited with code {proc.returncode}:\n{text}")
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
def dashboard_server(log_path, *, torch_threads: int = 1, cull_idle_timeout: int = 900, env=None):
    """`ntk-explorer dashboard --no-browser` (the CLI, so its Voilà flags and environment are what is measured) on
    a free loopback port; yields a :class:`Server`; always stopped (SIGTERM, then SIGKILL of its process group)."""
    port, log_path = free_port(), Path(log_path)
    cmd = [sys.executable, "-m", "ntk_explorer.cli", "dashboard", "--port", str(port), "--no-browser",
           "--torch-threads", str(torch_threads), "--cull-idle-timeout", str(cull_idle_timeout)]
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True,
                                env=dict(os.environ if env is None else env))
    try:
        wait_for_port(port, proc, log_path)
        yield Server(f"http://127.0.0.1:{port}/", port, proc, log_path)
    finally:
        proc.terminate()  # voila shuts its kernels down on SIGTERM
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the process group started above: voila and its kernels
            proc.wait(timeout=10)


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


RECORDER_JS = """(() => {
  // Installed in every document of a context: records, with epoch-millisecond timestamps taken in the page, when
  // the first plotted line appears and every text the lazy panel's status line shows (with its CSS class).
  if (window.__ntk) return;
  const rec = window.__ntk = {firstPlot: null, statuses: []};
  let last = null;
  const now = () => performance.timeOrigin + performance.now();
  const check = () => {
    if (rec.firstPlot === null && document.querySelector(%(first)r)) rec.firstPlot = now();
    const el = document.querySelector(%(status)r);
    if (el && el.textContent !== last) {
      last = el.textContent;
      rec.statuses.push({t: now(), text: last, cls: el.className});
    }
  };
  new MutationObserver(check).observe(document, {subtree: true, childList: true, characterData: true});
})();""" % dict(first=FIRST_LINE, status=STATUS)
FINISHED = re.compile(r"Run #(\d+) (done|diverged|stopped|failed)")


def recorded(page) -> dict:
    """What RECORDER_JS has seen in the page so far ({} while the page is between documents)."""
    try:
        return page.evaluate("() => window.__ntk ? {firstPlot: window.__ntk.firstPlot, "
                             "statuses: window.__ntk.statuses} : null") or {}
    except Exception:  # the execution context is replaced while navigating
        return {}


class Session:
    """One student: a fresh browser context that loads the dashboard, waits for the panel to be ready, presses
    Train and waits for that default run to finish.  Steps advance in :meth:`poll`, so many sessions progress at
    once from one thread; times come from the page's own clock (epoch ms), not from when they were polled."""

    def __init__(self, browser, url: str):
        self.url, self.state, self.marks, self.kernel_ids, self.error = url, "new", {}, [], None
        self.context = browser.new_context(viewport={"width": 1280, "height": 800})
        self.context.add_init_script(RECORDER_JS)
        self.page = self.context.new_page()
        self.page.on("websocket", lambda ws: self.kernel_ids.extend(
            re.findall(r"/api/kernels/([0-9a-f-]{36})/channels", ws.url)))
        self.torch_threads = self.final_status = None

    def start(self) -> None:
        self.marks["start"] = time.time() * 1000
        self.page.evaluate("url => { setTimeout(() => { window.location.href = url; }, 0); }", self.url)
        self.state = "loading"

    def poll(self) -> None:
        if self.state not in ("loading", "training"):
            return
        rec = recorded(self.page)
        statuses = rec.get("statuses", [])
        if self.state == "loading":
            ready = [s for s in statuses if "Run #1 ready" in s["text"]]
            failed = [s for s in statuses if "failed" in s["text"]]
            if failed:
                self.state, self.error = "failed", failed[0]["text"]
            elif ready and rec.get("firstPlot"):
                self.marks["first_plot"], self.marks["ready"] = rec["firstPlot"], ready[0]["t"]
                self.torch_threads = self.page.locator(".ntk-threads").first.get_attribute("data-torch-threads")
                self.marks["click"] = time.time() * 1000
                self.page.locator(f"{LAZY} button.jupyter-button", has_text="Train").first.click()
                self.state = "training"
        else:
            for s in statuses:
                found = FINISHED.search(s["text"])
                if found and int(found.group(1)) >= 2:
                    self.marks["done"], self.final_status = s["t"], s["text"].strip()
                    self.state = "finished" if found.group(2) == "done" else "failed"
                    self.error = None if self.state == "finished" else s["text"]
                    break

    def result(self) -> dict:
        m = self.marks
        if self.state != "finished":
            return dict(error=self.error or f"did not finish (still {self.state})", kernel_ids=self.kernel_ids)
        return dict(first_plot_s=(m["first_plot"] - m["start"]) / 1000, ready_s=(m["ready"] - m["start"]) / 1000,
                    run_s=(m["done"] - m["click"]) / 1000, status=self.final_status,
                    torch_threads=self.torch_threads, kernel_ids=self.kernel_ids)


def drive(browser, url: str, users: int, timeout_s: float = 300.0, measure=None, keep_open: int = 0) -> dict:
    """``users`` sessions at once on a Playwright (sync API) browser; ``measure()`` is called once every session
    finished, while all pages are still open (so every kernel is alive).  Returns {"sessions", "measured",
    "kept"}: the last ``keep_open`` sessions are left open (the caller closes their ``context``)."""
    sessions = [Session(browser, url) for _ in range(users)]
    kept = sessions[len(sessions) - keep_open:] if keep_open else []
    try:
        for session in sessions:
            session.start()
        deadline = time.time() + timeout_s
        while time.time() < deadline and any(s.state in ("loading", "training") for s in sessions):
            for session in sessions:
                session.poll()
            time.sleep(0.1)
        measured = measure() if measure else None
        return dict(sessions=[s.result() for s in sessions], measured=measured, kept=kept)
    finally:
        for session in sessions:
            if session not in kept:
                session.context.close()


def count_kernels_over_time(server_pid: int, seconds: float, every: float = 1.0) -> list:
    """(seconds since the call, kernels alive) every ``every`` s for ``seconds`` s, stopping early at zero."""
    start, samples = time.perf_counter(), []
    while True:
        elapsed = time.perf_counter() - start
        alive = len(kernel_processes(server_pid))
        samples.append((round(elapsed, 1), alive))
        if alive == 0 or elapsed > seconds:
            return samples
        time.sleep(every)


def cpu_seconds(server_pid: int) -> dict:
    """CPU seconds (user + system) used so far by the kernels, the Voilà server itself and the browser processes
    this process started (chromium renders all the pages on the same cores here; in a class it would not)."""
    import psutil

    def total(processes):
        seconds = 0.0
        for p in processes:
            with contextlib.suppress(psutil.Error):
                t = p.cpu_times()
                seconds += t.user + t.system
        return seconds
    mine = psutil.Process(os.getpid()).children(recursive=True)
    browsers = [p for p in mine if "chrom" in (p.name() or "").lower() or "headless_shell" in (p.name() or "")]
    return dict(kernels_s=total(kernel_processes(server_pid)), server_s=total([psutil.Process(server_pid)]),
                browsers_s=total(browsers))


def niced(chromium: str, niceness: int) -> str:
    """A wrapper script that runs chromium at the given niceness (the kernels get the CPU first, roughly as when
    every student's browser runs on the student's own machine)."""
    wrapper = Path(tempfile.mkdtemp(prefix="ntk-chromium-")) / "chromium"
    wrapper.write_text(f'#!/bin/sh\nexec nice -n {int(niceness)} "{chromium}" "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)


def load_test(users: int, *, torch_threads: int = 1, timeout_s: float = 300.0, cull_idle_timeout: int = 900,
              linger: float = 0.0, log_path=None, chromium: str = CHROMIUM, browser_nice: int = 0) -> dict:
    """Starts the server, drives ``users`` sessions, measures the kernels; with ``linger`` > 0, then counts the
    kernels left after the pages closed for up to ``linger`` s (the culler's work)."""
    import psutil
    from playwright.sync_api import sync_playwright
    log_path = log_path or Path(tempfile.mkdtemp(prefix="ntk-load-")) / "voila.log"
    with dashboard_server(log_path, torch_threads=torch_threads, cull_idle_timeout=cull_idle_timeout) as server, \
            sync_playwright() as playwright:
        executable = niced(chromium, browser_nice) if browser_nice else chromium
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        cpu = {}

        def measure():
            cpu.update(cpu_seconds(server.proc.pid))
            return [kernel_memory(k) for k in kernel_processes(server.proc.pid)]
        start = time.perf_counter()
        try:
            result = drive(browser, server.url, users, timeout_s, measure=measure)
        finally:
            browser.close()
        result["cpu"] = dict(cpu, wall_s=time.perf_counter() - start)
        result["server_cmdline"] = psutil.Process(server.proc.pid).cmdline()
        if linger > 0:
            result["kernels_after_close"] = count_kernels_over_time(server.proc.pid, linger)
    result.update(users=users, torch_threads=torch_threads, cpus=os.cpu_count(), log=str(log_path),
                  browser_nice=browser_nice)
    return result


def summary(result: dict) -> dict:
    ok = [s for s in result["sessions"] if "error" not in s]
    stats = {}
    for key in ("first_plot_s", "ready_s", "run_s"):
        values = [s[key] for s in ok]
        stats[key] = (statistics.median(values), max(values)) if values else (float("nan"), float("nan"))
    memory = result["measured"] or []
    rss = [m["rss_mib"] for m in memory]
    peak = [m["peak_mib"] for m in memory]
    return dict(completed=len(ok), failed=len(result["sessions"]) - len(ok), kernels=len(memory),
                rss_mib=(statistics.median(rss), max(rss)) if rss else None,
                peak_mib=(statistics.median(peak), max(peak)) if peak else None, **stats)


def report(result: dict) -> None:
    s = summary(result)
    print(f"{result['users']} concurrent sessions, {result['cpus']} CPUs, torch threads per kernel "
          f"{result['torch_threads']}, browsers at niceness {result['browser_nice']}; median (max)")
    print(f"{'sessions that completed a default run':<46}{s['completed']} of {result['users']}")
    for key, label in (("first_plot_s", "time to first plot (page load → first line)"),
                       ("ready_s", "time until the panel reports ready"), ("run_s", "default run, Train → done")):
        print(f"{label:<46}{s[key][0]:8.1f} s  ({s[key][1]:.1f} s)")
    if s["rss_mib"]:
        print(f"{'memory per kernel, RSS with its page open':<46}{s['rss_mib'][0]:8.0f} MiB "
              f"({s['rss_mib'][1]:.0f} MiB)")
        print(f"{'memory per kernel, peak RSS':<46}{s['peak_mib'][0]:8.0f} MiB ({s['peak_mib'][1]:.0f} MiB)")
        total = sum(m["rss_mib"] for m in result["measured"])
        print(f"{'all kernels together':<46}{total:8.0f} MiB ({s['kernels']} kernels)")
        threads = sorted({str(x.get('torch_threads')) for x in result["sessions"] if "error" not in x})
        omp = sorted({str(m["OMP_NUM_THREADS"]) for m in result["measured"]})
        print(f"{'torch threads reported by the kernels':<46}{', '.join(threads)} (OMP_NUM_THREADS {', '.join(omp)})")
    if result.get("cpu"):
        c = result["cpu"]
        print(f"{'CPU seconds until all runs were done':<46}kernels {c['kernels_s']:.0f}, Voilà server "
              f"{c['server_s']:.0f}, browsers {c['browsers_s']:.0f} (wall {c['wall_s']:.0f} s × "
              f"{result['cpus']} CPUs)")
    for i, session in enumerate(result["sessions"]):
        if "error" in session:
            print(f"session {i} failed: {session['error']}")
    if "kernels_after_close" in result:
        print("kernels alive after the pages closed (s, count):", result["kernels_after_close"])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=8, help="concurrent browser sessions (default 8)")
    parser.add_argument("--torch-threads", type=int, default=1, help="threads per kernel (default 1)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per step of a session (300)")
    parser.add_argument("--cull-idle-timeout", type=int, default=900, help="the server's culling timeout (900 s)")
    parser.add_argument("--browser-nice", type=int, default=0,
                        help="run chromium at this niceness (19: the kernels first, as if browsers ran elsewhere)")
    parser.add_argument("--linger", type=float, default=0.0, help="watch the kernels this long after closing")
    parser.add_argument("--json", help="also write the raw results to this file")
    args = parser.parse_args(argv)
    if not os.path.exists(CHROMIUM):
        print(f"skipped: {CHROMIUM} not found (apt-get install -y chromium)")
        return 0
    result = load_test(args.users, torch_threads=args.torch_threads, timeout_s=args.timeout,
                       cull_idle_timeout=args.cull_idle_timeout, linger=args.linger, browser_nice=args.browser_nice)
    report(result)
    if args.json:
        Path(args.json).write_text(json.dumps(dict(result, summary=summary(result)), indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
