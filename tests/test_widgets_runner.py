"""The run controller: no stale frames after a newer run started, ≤ 20 fps latest-state-wins, visible errors."""
import contextlib
import threading
import time

import ipywidgets as W
import pytest

from ntk_explorer.widgets.runner import RunController


class FakeFigure:
    def __init__(self):
        self.batches = 0
        self.inside = False

    @contextlib.contextmanager
    def batch_update(self):
        self.batches += 1
        self.inside = True
        try:
            yield
        finally:
            self.inside = False


def make_controller(max_fps=20.0):
    drawn, fig, status = [], FakeFigure(), W.HTML()

    def draw(state):
        assert fig.inside, "frames must be drawn inside batch_update()"
        drawn.append(state)
    return RunController(draw, status, figure=fig, max_fps=max_fps), drawn, fig, status


def endless(tag, started=None):
    def job(ctx):
        i = 0
        if started is not None:
            started.set()
        while not ctx.stop.is_set():
            ctx.frame(lambda: (tag, ctx.run_id, i), status=f"{tag} {i}")
            i += 1
            time.sleep(0.001)
        return None
    return job


def test_no_frame_of_an_older_run_after_a_newer_run_started():
    drawn, fig, status = [], FakeFigure(), W.HTML()
    holder = {}

    def draw(state):  # record which run a frame belongs to and which run was current when it was drawn
        drawn.append((state[0], state[1], holder["controller"].run_id))
    controller = holder["controller"] = RunController(draw, status, figure=fig, max_fps=1000.0)
    for _ in range(5):
        started = threading.Event()
        old = controller.start(endless("old", started))
        started.wait(5)
        time.sleep(0.03)
        new = controller.start(lambda ctx: ctx.frame(lambda: ("new", ctx.run_id, 0), final=True) and None)
        assert controller.wait(10) == "done"
        assert all(frame_run == current for _, frame_run, current in drawn), "a stale frame was drawn"
        assert ("old", old, old) in drawn  # the old run did draw while it was current
        assert drawn[-1] == ("new", new, new) and all(tag == "old" for tag, _, _ in drawn[:-1])
        drawn.clear()


def test_frames_are_throttled_latest_state_wins_and_final_is_drawn():
    controller, drawn, fig, _ = make_controller(max_fps=20.0)

    def job(ctx):
        start = time.perf_counter()
        i = 0
        while time.perf_counter() - start < 0.5:
            ctx.frame(lambda: i)
            i += 1
        ctx.frame(lambda: ("final", i), final=True)
        return f"pushed {i}"
    controller.start(job)
    assert controller.wait(10) == "done"
    pushed = drawn[-1][1]
    assert drawn[-1] == ("final", pushed) and pushed > 100
    assert 2 <= len(drawn) <= 0.5 * 20 + 3  # ≤ 20 frames per second
    assert fig.batches == len(drawn)
    assert drawn[:-1] == sorted(drawn[:-1])  # frames are in order; skipped ones are simply dropped


def test_a_run_sends_no_frame_while_the_page_has_frames_in_flight_to_draw():
    """With a page that reports its drawings (ServedFigureWidget), a frame is dropped while FRAMES_IN_FLIGHT sent
    frames are still undrawn: a slow page sees recent states, not a backlog; the final frame is always sent."""
    import plotly.graph_objects as go
    from ntk_explorer.widgets.figure import DRAWN_MESSAGE, ServedFigureWidget, figure_widget
    window = ServedFigureWidget.FRAMES_IN_FLIGHT
    fig = figure_widget(go.Figure(go.Scatter(x=[0.0], y=[0.0])))
    drawn, status = [], W.HTML()

    def draw(state):
        fig.data[0].y = [float(state if isinstance(state, int) else -1)]
        drawn.append(state)
    controller = RunController(draw, status, figure=fig, max_fps=1000.0)
    fig._handle_custom_msg({"type": DRAWN_MESSAGE}, [])  # a page is showing the figure

    def job(ctx):
        for i in range(50):
            ctx.frame(lambda: i)
            if i == 30:  # the page has drawn one of the frames it was sent
                fig._handle_custom_msg({"type": DRAWN_MESSAGE}, [])
            time.sleep(0.002)
        ctx.frame(lambda: "final", final=True)
    controller.start(job)
    assert controller.wait(10) == "done"
    # `window` frames, one more once the page drew one (at 30), the final one
    assert drawn == [*range(window), 31, "final"]


def test_errors_are_shown_in_the_status_and_kept():
    controller, _, _, status = make_controller()

    def job(ctx):
        raise ValueError("target 'sin(' cannot be parsed")
    run_id = controller.start(job)
    assert controller.wait(10) == "error"
    assert f"Run #{run_id} failed" in status.value and "cannot be parsed" in status.value
    assert "Traceback" not in status.value
    assert isinstance(controller.error, ValueError)
    controller.start(lambda ctx: "fine")
    assert controller.wait(10) == "done" and controller.error is None and "fine" in status.value


def test_stop_ends_the_run_and_wait_times_out_while_running():
    controller, drawn, _, status = make_controller()
    started = threading.Event()
    controller.start(endless("a", started))
    started.wait(5)
    with pytest.raises(TimeoutError):
        controller.wait(0.05)
    assert controller.running
    controller.stop()
    assert controller.wait(10) == "stopped" and "stopped" in status.value
    assert drawn and not controller.running


def test_diverged_outcome_is_a_warning_not_an_error():
    controller, _, _, status = make_controller()
    controller.start(lambda ctx: ("diverged", "training diverged at step 3"))
    assert controller.wait(10) == "diverged"
    assert "diverged at step 3" in status.value and "ntk-status-warning" in status.value


def test_collect_draws_the_growing_list_and_keeps_the_finished_items_when_stopped():
    controller, drawn, fig, status = make_controller(max_fps=1e6)

    def stream_of(n, stop_after=None):
        def job(ctx):
            def items():
                for k in range(n):
                    if stop_after is not None and k == stop_after:
                        ctx.stop.set()  # as Stop does: the stream ends early
                        return
                    yield k
            got = ctx.collect(items(), n, lambda done: tuple(done), lambda k: f"item {k}", status="0 items")
            return f"collected {got}"
        return job

    controller.start(stream_of(3))
    assert controller.wait(10) == "done" and "collected [0, 1, 2]" in status.value
    assert drawn == [(), (0,), (0, 1), (0, 1, 2)]  # empty first, then one frame per finished item
    drawn.clear()
    controller.start(stream_of(4, stop_after=2))
    assert controller.wait(10) == "stopped"
    assert drawn[0] == () and drawn[-1] == (0, 1)  # stopped: the finished items stay drawn
