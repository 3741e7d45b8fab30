"""plotly's widget bundle served over HTTP (ntk_explorer_server) and the figures that load it
(ntk_explorer.widgets.figure): the assumptions about the installed plotly, the route, its caching, the state a new
view starts from, and the environment the package installs.  The real browsers are in tests/test_frontends.py.

The plotly assumptions are what an upgrade could break (hence the pinned plotly range in pyproject.toml): the
bundle's file, its default export (one widget state per call), and the names of the two traits its JavaScript
model starts a view from.  Each fails here with a message saying what changed.
"""
import json
import re
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import time

import plotly
import plotly.graph_objects as go
import pytest

import ntk_explorer_server
from ntk_explorer.widgets.figure import (DRAWN_MESSAGE, LOADER_ESM, SYNC_MESSAGE, SYNC_TRAIT, VIEW_STATE_TRAITS,
                                         ServedFigureWidget, bundle_url_path, figure_widget, sync_view_state)

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------------- plotly's assumptions
def test_plotly_figurewidget_loads_the_bundle_file_we_serve():
    esm = go.FigureWidget().get_state("_esm")["_esm"]  # what plotly's own figure sends as its module
    assert esm == ntk_explorer_server.bundle_path().read_text(encoding="utf-8"), (
        f"plotly {plotly.__version__}'s FigureWidget module is not the file ntk_explorer_server serves "
        f"({ntk_explorer_server.bundle_path()}): update ntk_explorer_server.BUNDLE_NAME/bundle_directory and the "
        f"plotly pin in pyproject.toml")


def test_plotly_bundle_default_export_is_a_widget_factory_reading_the_view_state_traits():
    text = ntk_explorer_server.bundle_path().read_text(encoding="utf-8")
    tail = text[-20000:]
    exports = re.search(r"export\s*\{([^}]*)\}", tail)
    assert exports, f"plotly {plotly.__version__}'s widget bundle is no longer an ES module with named exports"
    default = re.search(r"(\w+)\s+as\s+default", exports.group(1))
    assert default, "the bundle has no default export: the loader re-exports it"
    factory = re.search(rf"var {re.escape(default.group(1))}\s*=\s*\(\)\s*=>", text)
    assert factory, "the bundle's default export is not a factory `() => ...` (one state per figure)"
    for trait in VIEW_STATE_TRAITS.values():
        assert f'model.get("{trait}")' in text, f"plotly's JavaScript model no longer reads {trait}"


def test_plotly_view_state_traits_are_synced_with_serializers():
    fig = go.FigureWidget()
    for trait in VIEW_STATE_TRAITS.values():
        assert fig.has_trait(trait), f"plotly {plotly.__version__}'s FigureWidget has no trait {trait}"
        assert fig.trait_metadata(trait, "sync") is True
        assert callable(fig.trait_metadata(trait, "to_json"))


def test_pins_agree_between_pyproject_and_binder():
    """binder/requirements.txt pins versions inside pyproject.toml's ranges (plotly and voila above all)."""
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    from packaging.requirements import Requirement
    ranges = {Requirement(d).name.lower().replace("_", "-"): Requirement(d).specifier for d in
              tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]}
    pins = {}
    for line in (ROOT / "binder" / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            requirement = Requirement(line)
            pins[requirement.name.lower().replace("_", "-")] = next(iter(requirement.specifier)).version
    outside = {name: (pins[name], str(spec)) for name, spec in ranges.items() if name in pins
               and not spec.contains(pins[name], prereleases=True)}
    assert not outside, f"binder pins outside pyproject's ranges: {outside}"
    assert str(ranges["plotly"]) and str(ranges["voila"]), "plotly and voila must carry a version range"


# ------------------------------------------------------------------------------------------ the figures
def test_served_figure_carries_a_small_loader_not_plotly():
    fig = figure_widget(go.Figure(go.Scatter(x=[0.0, 1.0], y=[1.0, 2.0])))
    state = fig.get_state()
    assert state["_esm"] == LOADER_ESM and len(LOADER_ESM) < 4000
    assert len(json.dumps(state["_esm"])) < 4000  # was ~5 MB per figure with plotly's own _esm
    assert f'"{bundle_url_path()}"' in LOADER_ESM and f"v={plotly.__version__}" in bundle_url_path()
    assert "jupyter-config-data" in LOADER_ESM and "baseUrl" in LOADER_ESM
    assert "module.default()" in LOADER_ESM  # one plotly widget per figure, from the bundle's factory
    assert "await import" not in LOADER_ESM  # the module returns at once (anywidget's 2 s limit)
    assert isinstance(fig, go.FigureWidget) and fig.layout.width == 445 and fig.layout.autosize is False


def _buffer_values(entry):
    """The numbers of a serialized numpy array (plotly's {buffer, dtype, shape}) or of a list."""
    if isinstance(entry, dict) and "buffer" in entry:
        return np.frombuffer(bytes(entry["buffer"]), dtype=entry["dtype"]).reshape(entry["shape"])
    return np.asarray(entry, dtype=float)


def test_a_new_view_starts_from_the_current_figure():
    """What a front end receives when it asks for the state (a page loaded after the figure was drawn) is the
    figure as it is now, compared with a plain go.Figure that received the same edits."""
    x = np.linspace(0.0, 1.0, 5)
    built = go.Figure(go.Scatter(x=x, y=np.zeros(5)))
    fig = figure_widget(go.Figure(built))
    before = fig.get_state()
    assert np.array_equal(_buffer_values(before["_widget_data"][0]["y"]), np.zeros(5))
    new_y = np.sin(3 * x)
    with fig.batch_update():
        fig.data[0].y = new_y
        fig.layout.title.text = "after"
    reference = go.Figure(built)
    reference.data[0].y = new_y
    state = fig.get_state()
    assert np.array_equal(_buffer_values(state["_widget_data"][0]["y"]), reference.data[0].y)
    assert np.array_equal(_buffer_values(state["_widget_data"][0]["x"]), x)
    assert state["_widget_data"][0]["uid"] == fig.data[0].uid
    assert state["_widget_layout"]["title"] == {"text": "after"}
    assert fig.get_state("_widget_data").keys() == {"_widget_data"}  # one key asked, one key answered
    sync_view_state(fig)  # kept for callers: nothing to do for served figures
    with pytest.raises(TypeError, match="figure_widget"):
        sync_view_state(go.FigureWidget())


def test_resync_request_is_answered_with_one_state_message_of_the_current_figure(monkeypatch):
    """The loader's handshake: once plotly's model exists in the page it sends {"type": SYNC_MESSAGE}; the figure
    answers with one message holding its current data and layout (edits made before included) and a new counter
    value, which is what the page waits for before drawing."""
    assert json.dumps(SYNC_MESSAGE) in LOADER_ESM and json.dumps(SYNC_TRAIT) in LOADER_ESM
    fig = figure_widget(go.Figure(go.Scatter(x=[0.0, 1.0, 2.0], y=[0.0, 0.0, 0.0])))
    sent = []
    monkeypatch.setattr(fig, "_send", lambda msg, buffers=None: sent.append((msg, buffers)))
    fig.data[0].y = [3.0, 4.0, 5.0]  # an edit the page may have missed while plotly.js was loading
    sent.clear()
    fig._handle_custom_msg({"type": "something else"}, [])  # ipywidgets' dispatch of a custom message
    assert sent == []
    for expected in (1, 2):
        fig._handle_custom_msg({"type": SYNC_MESSAGE}, [])
        assert len(sent) == 1
        msg, buffers = sent.pop()
        assert msg["method"] == "update" and set(msg["state"]) == {*VIEW_STATE_TRAITS.values(), SYNC_TRAIT}
        assert msg["state"][SYNC_TRAIT] == expected  # a new value every time: the page's change event fires
        trace = msg["state"]["_widget_data"][0]
        assert list(_buffer_values(trace["y"])) == [3.0, 4.0, 5.0] and not buffers  # the current y
        assert msg["state"]["_widget_layout"]["width"] == 445


def test_a_frame_waits_while_the_views_have_frames_in_flight_to_draw(monkeypatch):
    """Back-pressure: once a view has reported drawings (DRAWN_MESSAGE, on plotly_afterplot), at most
    FRAMES_IN_FLIGHT frames may be sent and not yet drawn; the next waits for a report, or for ``patience``."""
    assert json.dumps(DRAWN_MESSAGE) in LOADER_ESM and "plotly_afterplot" in LOADER_ESM
    window = ServedFigureWidget.FRAMES_IN_FLIGHT
    fig = figure_widget(go.Figure(go.Scatter(x=[0.0, 1.0], y=[0.0, 0.0])))
    for _ in range(window + 1):
        fig.frame_sent()
    assert fig.ready_for_frame()  # no view has ever reported: a notebook without a page never waits
    fig._handle_custom_msg({"type": DRAWN_MESSAGE}, [])
    assert fig.drawings_reported == 1
    for _ in range(window - 1):
        fig.frame_sent()
        assert fig.ready_for_frame()
    fig.frame_sent()
    assert not fig.ready_for_frame() and fig.ready_for_frame(patience=0.0)  # `window` frames undrawn: wait
    now = time.monotonic()
    monkeypatch.setattr(time, "monotonic", lambda: now + 1.5)
    assert fig.ready_for_frame(patience=1.0)  # a closed page or frames that drew nothing hold nothing forever
    monkeypatch.setattr(time, "monotonic", lambda: now)
    fig._handle_custom_msg({"type": DRAWN_MESSAGE}, [])
    assert fig.drawings_reported == 2 and fig.ready_for_frame()
    for _ in range(2 * window):  # e.g. two views of one figure report each frame: never below zero
        fig._handle_custom_msg({"type": DRAWN_MESSAGE}, [])
    fig.frame_sent()
    assert fig.ready_for_frame()


def test_served_figure_keeps_plotly_update_api():
    fig = figure_widget(go.Figure([go.Scatter(y=[0.0, 1.0]), go.Scatter(y=[2.0, 3.0])]))
    clicks = []
    fig.data[0].on_click(lambda trace, points, state: clicks.append(points.point_inds))
    with fig.batch_update():
        fig.data[1].y = [5.0, 6.0]
    assert list(fig.data[1].y) == [5.0, 6.0] and isinstance(fig, ServedFigureWidget)


# ------------------------------------------------------------------------------------------- the route
@contextmanager
def _app(base_url):
    """A tornado application with only the bundle route, on a free loopback port, in a thread."""
    import asyncio

    import tornado.httpserver
    import tornado.netutil
    import tornado.web

    from ntk_explorer_server.handlers import bundle_handlers
    ready, state = threading.Event(), {}
    sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")

    def serve():
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        server = tornado.httpserver.HTTPServer(tornado.web.Application(bundle_handlers(base_url)))
        server.add_sockets(sockets)
        state.update(port=sockets[0].getsockname()[1], loop=loop, server=server)
        ready.set()
        loop.run_forever()
        server.stop()
        loop.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    ready.wait(10)
    try:
        yield f"http://127.0.0.1:{state['port']}"
    finally:
        state["loop"].call_soon_threadsafe(state["loop"].stop)
        thread.join(10)


def _get(url):
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), b""


def test_bundle_route_serves_plotlys_file_under_the_base_url_and_nothing_else():
    with _app("/user/demo/") as origin:
        status, headers, body = _get(f"{origin}/user/demo/{bundle_url_path()}")
        assert status == 200 and body == ntk_explorer_server.bundle_path().read_bytes()
        assert headers["Content-Type"].startswith("text/javascript")
        assert headers["Cache-Control"] == "max-age=31536000"  # a year: the URL changes with plotly's version
        status, headers, _ = _get(f"{origin}/user/demo/{ntk_explorer_server.BUNDLE_ROUTE}?v=0.0.0")
        assert status == 200 and "Cache-Control" not in headers  # another version: revalidate (ETag)
        assert "Etag" in headers or "ETag" in headers
        for path in ("ntk-explorer/plotly/plotly.min.js", "ntk-explorer/plotly/../__init__.py",
                     "ntk-explorer/plotly/%2e%2e/__init__.py", f"{ntk_explorer_server.BUNDLE_ROUTE}x"):
            assert _get(f"{origin}/user/demo/{path}")[0] == 404, path
        assert _get(f"{origin}/{bundle_url_path()}")[0] == 404  # only under the server's base URL


def test_environment_has_the_server_extension_and_the_template():
    """`make setup` (or a wheel install) put the extension switch and the Voilà template in place, and Jupyter
    sees the extension enabled."""
    check = subprocess.run([sys.executable, "-m", "ntk_explorer_server", "check"], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    listed = subprocess.run([sys.executable, "-m", "jupyter", "server", "extension", "list"], capture_output=True,
                            text=True, timeout=120)
    text = re.sub(r"\x1b\[[0-9;]*m", "", listed.stdout + listed.stderr)  # without colours
    assert re.search(r"ntk_explorer_server\s+enabled", text), text
    from voila.paths import collect_template_paths
    paths = collect_template_paths(["voila", "nbconvert"], "ntk")
    assert any(Path(p, "index.html.j2").is_file() and "ntk" in p for p in paths), paths
