"""Robustness in the real browser (issue 8), against the server exactly as `ntk-explorer dashboard` starts it.

* Many users (smoke version of benchmarks/bench_load.py): two browser contexts at once each render the dashboard
  and complete a default run, each on a kernel of its own (the server also keeps kernels waiting in its pool); each
  kernel runs with one torch thread (checked inside the kernel through the dashboard header and in the kernel
  process's environment), and the server's command line culls idle kernels.
* Keyboard storm: 50 ArrowRight/ArrowLeft presses on the width slider with "live" on → no status line ever shows
  an error, and the plotted f, f^lin and f_0 are those of the final slider value (computed headless here).
* Voilà's front end cannot run code: an execute_request sent over the page's own kernel websocket (both wire
  protocols, shell and control channels) gets no reply and creates no file, while an allowed kernel_info_request
  on the same socket is answered; the server logs that it ignored the message.
* The kernels of closed pages are culled (closing a tab leaves its kernel running otherwise); the open page's kernel
  stays.
Without chromium or playwright these tests are skipped, or fail when CI is set (see tests/_browser.py).
"""
import json
import random
import re
import time
import uuid

import numpy as np
import pytest

from _browser import (LAZY, RECORDER_JS, dashboard_server, function_data, kernel_memory, kernel_processes,
                      open_dashboard, wait_for_status)
from benchmarks.bench_load import drive, summary
from ntk_explorer.plots.panels import trace_keys
from ntk_explorer.widgets import LazyTrainingPanel
from ntk_explorer.widgets.lazy import WIDTHS

CULL_IDLE_TIMEOUT = 20  # long enough that no kernel is culled while its page is still loading
KEY_PRESSES = 50
SMOKE = {}  # what the many-users test leaves for the culling test


def kernel_id(process) -> str:
    """The id of a kernel process (from its connection file, kernel-<id>.json), "" when it has none."""
    found = re.search(r"kernel-([0-9a-f-]{36})\.json", " ".join(process.cmdline()))
    return found.group(1) if found else ""


@pytest.fixture(scope="module")
def server(playwright, tmp_path_factory):
    with dashboard_server(tmp_path_factory.mktemp("voila") / "voila.log", cull_idle_timeout=CULL_IDLE_TIMEOUT) as s:
        yield s


def test_two_users_at_once_each_get_a_plot_and_a_run_with_one_torch_thread(server, browser):
    result = drive(browser, server.url, users=2, timeout_s=240, keep_open=1,
                   measure=lambda: [dict(kernel_memory(k), kernel_id=kernel_id(k))
                                    for k in kernel_processes(server.proc.pid)])
    SMOKE["kept"] = result["kept"][0]  # its page goes on to the keyboard and websocket tests
    SMOKE["kernel_ids"] = [i for s in result["sessions"] for i in s.get("kernel_ids", [])]
    SMOKE["closed"] = [i for s in result["sessions"][:1] for i in s.get("kernel_ids", [])]
    SMOKE["closed_at"] = time.time()
    errors = [s["error"] for s in result["sessions"] if "error" in s]
    assert errors == [], errors
    for session in result["sessions"]:
        assert re.search(r"Run #2 done", session["status"]), session
        assert 0 < session["first_plot_s"] < 240 and session["run_s"] > 0
        assert session["torch_threads"] == "1"  # torch.get_num_threads() inside the kernel, shown in the header
    assert len(set(SMOKE["kernel_ids"])) == 2  # one kernel per page (the others wait in the server's pool)
    kernels = [m for m in result["measured"] if m["kernel_id"] in SMOKE["kernel_ids"]]
    assert len(kernels) == 2, result["measured"]
    for kernel in kernels:
        assert kernel["OMP_NUM_THREADS"] == "1" and kernel["NTK_EXPLORER_TORCH_THREADS"] == "1", kernel
        assert 100 < kernel["rss_mib"] < 2000, kernel
    cmdline = " ".join(__import__("psutil").Process(server.proc.pid).cmdline())
    assert f"--MappingKernelManager.cull_idle_timeout={CULL_IDLE_TIMEOUT}" in cmdline
    assert "--MappingKernelManager.cull_connected=False" in cmdline and "--Voila.ip=127.0.0.1" in cmdline
    s = summary(result)
    print(f"\n2 users: time to first plot median {s['first_plot_s'][0]:.1f} s (max {s['first_plot_s'][1]:.1f} s), "
          f"default run {s['run_s'][0]:.1f} s, kernel RSS {s['rss_mib'][0]:.0f} MiB")


@pytest.fixture(scope="module")
def page(server, browser):
    """The dashboard page the many-users test left open (or a new one when that test did not run);
    ``page.kernel_ids``: the kernel its websocket connected to; RECORDER_JS records every status line it shows."""
    session = SMOKE.get("kept")
    if session is None:
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        context.add_init_script(RECORDER_JS)
        kernel_ids = []
        context.on("page", lambda new: new.on("websocket", lambda ws: kernel_ids.extend(
            re.findall(r"/api/kernels/([0-9a-f-]{36})/channels", ws.url))))
        page = open_dashboard(context, server.url)
        page.kernel_ids = kernel_ids
    else:
        context, page = session.context, session.page
        page.kernel_ids = session.kernel_ids
    yield page
    context.close()


def reference_traces(width: int) -> dict:
    """f, f^lin and f_0 of the lazy panel's default run at this width, computed headless in this process."""
    panel = LazyTrainingPanel(width=width)
    panel.run()
    assert panel.wait(120) == "done", panel.status.value
    return {k: np.asarray(t.y, dtype=float) for k, t in trace_keys(panel.figure).items()}


def test_fifty_keyboard_moves_on_the_width_slider_end_on_the_final_width(page):
    assert page.locator(f"{LAZY} input[type=checkbox]").first.is_checked()  # "live: retrain on release" is on
    before = int(re.search(r"Run #(\d+)", page.locator(f"{LAZY} .ntk-status").first.text_content()).group(1))
    page.evaluate("() => { window.__ntk.statuses = []; }")  # record only what the storm causes
    handle = page.locator(f"{LAZY} .widget-slider .noUi-handle").first
    handle.focus()
    rng, index = random.Random(50), WIDTHS.index(256)
    low, high = WIDTHS.index(32), WIDTHS.index(256)
    for _ in range(KEY_PRESSES):
        step = rng.choice([-1, 1]) if low < index < high else (1 if index == low else -1)
        page.keyboard.press("ArrowRight" if step > 0 else "ArrowLeft")
        index += step
        page.wait_for_timeout(rng.choice([0, 10, 40, 80, 150]))
    width = WIDTHS[index]
    readout = page.locator(f"{LAZY} .widget-slider .widget-readout").first
    assert readout.text_content().strip() == str(width)
    expected = reference_traces(width)
    deadline = time.time() + 90
    while True:  # the last run may still be training: wait for a "done" that stays, then compare what is drawn
        wait_for_status(page, r"Run #\d+ done", timeout=90_000)
        run = re.search(r"Run #(\d+) done", page.locator(f"{LAZY} .ntk-status").first.text_content()).group(1)
        page.wait_for_timeout(1500)
        settled = re.search(rf"Run #{run} done", page.locator(f"{LAZY} .ntk-status").first.text_content())
        drawn = function_data(page)
        if settled and len(drawn["f"]) == len(expected["f"]) and \
                np.allclose(drawn["f"], expected["f"], rtol=1e-9, atol=1e-12):
            break
        assert time.time() < deadline, f"the plot never showed width {width}: {drawn['f'][:3]} …"
    for key in ("f", "flin", "f0", "target"):
        np.testing.assert_allclose(drawn[key], expected[key], rtol=1e-9, atol=1e-12, err_msg=key)
    statuses = page.evaluate("() => window.__ntk.statuses")
    runs = {int(m.group(1)) for s in statuses for m in [re.search(r"Run #(\d+)", s["text"])] if m}
    bad = [s["text"] for s in statuses if "failed" in s["text"] or "error" in s["cls"]]
    assert bad == [], bad[:3]
    assert int(run) == max(runs) and int(run) >= before + 2, (before, sorted(runs), run)  # the last run won
    print(f"\n{KEY_PRESSES} key presses → runs #{before + 1}…#{run} in the kernel ({len(runs)} seen in the page; "
          f"the front end sends the latest value while the kernel is busy), final width {width}")


def _kernel_socket(server, page, kernel_id, subprotocol=None):
    import websocket  # websocket-client
    cookies = "; ".join(f"{c['name']}={c['value']}" for c in page.context.cookies())
    url = f"ws://127.0.0.1:{server.port}/api/kernels/{kernel_id}/channels?session_id={uuid.uuid4()}"
    return websocket.create_connection(url, timeout=5, origin=f"http://127.0.0.1:{server.port}",
                                       cookie=cookies or None, subprotocols=[subprotocol] if subprotocol else None)


def _message(msg_type, content):
    header = dict(msg_id=uuid.uuid4().hex, username="student", session=uuid.uuid4().hex, msg_type=msg_type,
                  version="5.3", date=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    return dict(header=header, parent_header={}, metadata={}, content=content, buffers=[])


def _send(ws, msg, channel, v1):
    if v1:
        from jupyter_server.services.kernels.connection.base import serialize_msg_to_ws_v1
        ws.send_binary(serialize_msg_to_ws_v1(msg, channel, pack=lambda part: json.dumps(part).encode()))
    else:
        ws.send(json.dumps(dict(msg, channel=channel)))


def _receive(ws, v1, seconds, until=None, grace=1.0):
    """(msg_type, parent msg_id) of every message the server sends within ``seconds``, or until ``grace`` s after
    a message whose parent is ``until`` arrived (the kernel handles shell requests in order: a reply to an
    earlier request would have come before it)."""
    from jupyter_server.services.kernels.connection.base import deserialize_msg_from_ws_v1
    import websocket
    out, deadline = [], time.time() + seconds
    while time.time() < deadline:
        ws.settimeout(max(0.05, deadline - time.time()))
        try:
            data = ws.recv()
        except websocket.WebSocketTimeoutException:
            break
        if v1 and isinstance(data, bytes):
            _, parts = deserialize_msg_from_ws_v1(data)
            header, parent = json.loads(parts[0]), json.loads(parts[1])
        else:
            msg = json.loads(data)
            header, parent = msg["header"], msg.get("parent_header") or {}
        out.append((header.get("msg_type"), parent.get("msg_id")))
        if until is not None and parent.get("msg_id") == until:
            deadline, until = min(deadline, time.time() + grace), None
    return out


@pytest.mark.parametrize("v1", [False, True], ids=["json-protocol", "v1-binary-protocol"])
def test_an_execute_request_over_the_kernel_websocket_is_ignored(server, page, tmp_path, v1):
    kernel_id = page.kernel_ids[0]
    sentinel = tmp_path / "executed"
    code = f"open({str(sentinel)!r}, 'w').write('the front end ran code in the kernel')"
    before = server.log().count('Received message of type "execute_request", which is not allowed. Ignoring.')
    ws = _kernel_socket(server, page, kernel_id, "v1.kernel.websocket.jupyter.org" if v1 else None)
    try:
        requests = [_message("execute_request", dict(code=code, silent=False, store_history=False,
                                                     user_expressions={}, allow_stdin=False, stop_on_error=True))
                    for _ in range(2)]
        _send(ws, requests[0], "shell", v1)
        _send(ws, requests[1], "control", v1)
        info = _message("kernel_info_request", {})
        _send(ws, info, "shell", v1)  # allowed: proves the socket reaches the kernel
        received = _receive(ws, v1, seconds=20, until=info["header"]["msg_id"])
    finally:
        ws.close()
    ids = {r["header"]["msg_id"] for r in requests}
    assert ("kernel_info_reply", info["header"]["msg_id"]) in received, received
    assert [r for r in received if r[1] in ids] == []  # no execute_reply, no busy/idle status, no output
    assert not sentinel.exists()
    time.sleep(0.5)
    ignored = server.log().count('Received message of type "execute_request", which is not allowed. Ignoring.')
    assert ignored - before == 2


def test_the_kernel_of_a_closed_page_is_culled_and_an_open_page_keeps_its_own(server, page):
    assert SMOKE.get("closed"), "runs after the many-users test"
    deadline = SMOKE["closed_at"] + CULL_IDLE_TIMEOUT + CULL_IDLE_TIMEOUT // 3 + 30
    while True:
        log = server.log()
        culled = [k for k in SMOKE["closed"] if re.search(rf"Culling 'idle' kernel .*{k}.* with 0 connections", log)]
        if len(culled) == len(SMOKE["closed"]) or time.time() > deadline:
            break
        time.sleep(1)
    assert culled == SMOKE["closed"], log[-2000:]
    assert not re.search(rf"Culling .*{page.kernel_ids[0]}", log)  # the page still open keeps its kernel
    def alive():
        return {kernel_id(k) for k in kernel_processes(server.proc.pid)}
    while set(SMOKE["closed"]) & alive() and time.time() < deadline:  # the culled one is exiting
        time.sleep(0.5)
    assert not set(SMOKE["closed"]) & alive() and page.kernel_ids[0] in alive()
