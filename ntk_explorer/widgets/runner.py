"""The run controller shared by all panels: one worker thread per run, cancellation by run id, throttled frames.

Rules it enforces (see ../shared/ECOSYSTEM.md for why):
* The notebook kernel is never blocked: a job runs in a daemon thread; a new run first stops the previous one and
  waits for its thread to end (it stops within one training step), so at most one job uses the CPU per panel.
* Every run has an increasing id.  Drawing happens under a lock and only if the frame's run id is still the
  current one, and :meth:`RunController.start` bumps the id under the same lock: once ``start()`` returned, no
  frame of an older run can be drawn.
* Frames are pushed at most ``max_fps`` times per second, latest state wins: a frame that arrives too soon after
  the previous one, or while the page still has frames to draw (``view_ready``), is dropped (never queued), and
  the final frame of a run is always drawn.  Drawing happens
  inside one ``batch_update()`` of the panel's one figure (FigureWidget updates from a thread reach the browser),
  so a frame is one plotly update message.
* Errors end up in the status widget as one readable line (never a traceback dump) and are logged with their
  traceback by the ``ntk_explorer.widgets`` logger; :attr:`RunController.error` keeps the exception.
"""
from __future__ import annotations

import html
import logging
import threading
import time
from typing import Callable, Optional

__all__ = ["RunController", "RunContext", "Cancelled", "format_status"]

log = logging.getLogger("ntk_explorer.widgets")

_STYLES = {"idle": "#444444", "running": "#0072B2", "done": "#009E73", "stopped": "#444444",
           "warning": "#B35900", "error": "#B00020"}
_ICONS = {"idle": "", "running": "⏳ ", "done": "✔ ", "stopped": "■ ", "warning": "⚠ ", "error": "✖ "}


def format_status(kind: str, text: str) -> str:
    """HTML for the status line: an icon and a colour per kind, and the (escaped) text."""
    return (f'<div class="ntk-status ntk-status-{kind}" role="status" aria-live="polite" '
            f'style="color:{_STYLES[kind]};font-weight:600">{_ICONS[kind]}{html.escape(text)}</div>')


class Cancelled(Exception):
    """Raised inside a job by :meth:`RunContext.check` when its run was stopped or superseded."""


class RunContext:
    """What a job sees: ``stop`` (a threading.Event to hand to ``train_stream``), ``frame()`` to push a state,
    ``check()`` to bail out between expensive steps, ``status()`` to report progress."""

    def __init__(self, controller: "RunController", run_id: int):
        self.controller, self.run_id = controller, run_id
        self.stop = threading.Event()
        self.started = time.perf_counter()
        self.frames_drawn = 0
        self.frames_dropped = 0
        self._last_draw = -float("inf")

    @property
    def cancelled(self) -> bool:
        return self.stop.is_set() or self.run_id != self.controller.run_id

    def check(self) -> None:
        if self.cancelled:
            raise Cancelled()

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def frame(self, make_state: Callable[[], object], *, final: bool = False, status: Optional[str] = None) -> bool:
        """Draws ``make_state()`` now if at least 1/max_fps s passed since the last frame (or ``final``); else
        drops it.  ``make_state`` is called only for frames that are drawn.  Returns whether it was drawn."""
        now = time.perf_counter()
        if not final and (now - self._last_draw < self.controller.min_interval or not self.controller.view_ready()):
            self.frames_dropped += 1
            return False
        if self.cancelled and not final:
            return False
        state = make_state()
        drawn = self.controller._draw(self.run_id, state, status)
        if drawn:
            self._last_draw = time.perf_counter()
            self.frames_drawn += 1
        return drawn

    def status(self, kind: str, text: str) -> bool:
        return self.controller._set_status(self.run_id, kind, text)

    def collect(self, stream, total: int, make_frame: Callable[[list], object], describe: Callable[[object], str],
                status: str) -> list:
        """Drains a stream of finished items (runs, cells) into a list and draws ``make_frame(items)`` as it
        grows: once empty (with ``status``), after each item (status ``describe(item)`` and the count; the last
        one final), and once more when the stream stopped early so that the finished items stay drawn.  Then
        :meth:`check` (a stopped run ends as stopped).  Returns the items."""
        items = []

        def frame():
            return make_frame(items)
        self.frame(frame, final=True, status=status)
        for item in stream:
            items.append(item)
            self.frame(frame, final=len(items) == total, status=f"{describe(item)} ({len(items)}/{total})")
        if len(items) < total:
            self.frame(frame, final=True)
        self.check()
        return items


class RunController:
    """Owns the worker thread of one panel.

    ``draw(state)`` is called (in the worker thread, under the draw lock, inside ``figure.batch_update()`` when a
    figure is given) for every frame that is drawn; ``status`` is an ipywidgets HTML whose value is replaced by
    :func:`format_status` lines prefixed with "Run #id".
    """

    def __init__(self, draw: Callable[[object], None], status, figure=None, max_fps: float = 20.0):
        self._draw_fn, self._status, self._figure = draw, status, figure
        self.min_interval = 1.0 / max_fps
        self._lock = threading.RLock()
        self.run_id = 0
        self._context: Optional[RunContext] = None
        self._thread: Optional[threading.Thread] = None
        self._done = threading.Event()
        self._done.set()
        self.error: Optional[BaseException] = None
        self.outcome = "idle"

    # ---------------------------------------------------------------------------------------- control
    def start(self, job: Callable[[RunContext], Optional[str]], label: str = "run") -> int:
        """Stops the current run and starts ``job(ctx)`` in a new thread; returns the new run id.  The job
        returns None, a message for the final status line, or ("diverged", message)."""
        with self._lock:
            previous_context, previous_thread = self._context, self._thread
            if previous_context is not None:
                previous_context.stop.set()
            self.run_id += 1
            context = self._context = RunContext(self, self.run_id)
            self._done = done = threading.Event()
            self.error, self.outcome = None, "running"
            self._write_status("running", f"Run #{context.run_id}: {label}…")
            thread = self._thread = threading.Thread(target=self._work, name=f"ntk-run-{context.run_id}",
                                                     args=(job, context, previous_thread, done), daemon=True)
        thread.start()
        return context.run_id

    def stop(self) -> None:
        """Stops the run in flight (it ends within one training step); its last drawn frame stays."""
        with self._lock:
            if self._context is not None and not self._done.is_set():
                self._context.stop.set()

    def wait(self, timeout: Optional[float] = None) -> str:
        """Blocks until the current run has finished and its last frame is drawn; returns its outcome
        ("done", "stopped", "diverged", "error", "cancelled").  Raises TimeoutError after ``timeout`` s."""
        with self._lock:
            done = self._done
        if not done.wait(timeout):
            raise TimeoutError(f"the run did not finish within {timeout} s")
        return self.outcome

    @property
    def running(self) -> bool:
        return not self._done.is_set()

    # ---------------------------------------------------------------------------------------- worker
    def _work(self, job, context: RunContext, previous: Optional[threading.Thread], done: threading.Event):
        try:
            if previous is not None:
                previous.join()
            context.check()
            result = job(context)
            outcome, text = result if isinstance(result, tuple) else ("done", result)
            if context.stop.is_set() and context.run_id == self.run_id:
                self._finish(context, "stopped", f"Run #{context.run_id} stopped after {context.elapsed():.1f} s.")
            else:
                text = text or f"done in {context.elapsed():.1f} s."
                self._finish(context, outcome, f"Run #{context.run_id} {text}",
                             kind="warning" if outcome == "diverged" else "done")
        except Cancelled:
            self._finish(context, "stopped" if context.run_id == self.run_id else "cancelled",
                         f"Run #{context.run_id} stopped after {context.elapsed():.1f} s.")
        except Exception as error:  # shown in the status line, logged with its traceback; never swallowed
            log.exception("run #%d failed", context.run_id)
            with self._lock:
                if context.run_id == self.run_id:
                    self.error = error
            self._finish(context, "error", f"Run #{context.run_id} failed: {_describe(error)}", kind="error")
        finally:
            done.set()

    def _finish(self, context, outcome, text, kind=None):
        with self._lock:
            if context.run_id != self.run_id:
                return
            self.outcome = outcome
            self._write_status(kind or ("stopped" if outcome in ("stopped", "cancelled") else "done"), text)

    def view_ready(self) -> bool:
        """Whether the page can take another frame (``ServedFigureWidget.ready_for_frame``; always True for other
        figures and without one)."""
        ready = getattr(self._figure, "ready_for_frame", None)
        return True if ready is None else ready()

    def _draw(self, run_id: int, state, status: Optional[str]) -> bool:
        with self._lock:
            if run_id != self.run_id:
                return False
            if self._figure is None:
                self._draw_fn(state)
            else:  # a view opened later starts from the current figure (figure.ServedFigureWidget.get_state)
                with self._figure.batch_update():
                    self._draw_fn(state)
                sent = getattr(self._figure, "frame_sent", None)
                if sent is not None:
                    sent()
            if status:
                self._write_status("running", f"Run #{run_id}: {status}")
            return True

    def _set_status(self, run_id: int, kind: str, text: str) -> bool:
        with self._lock:
            if run_id != self.run_id:
                return False
            self._write_status(kind, f"Run #{run_id}: {text}")
            return True

    def _write_status(self, kind: str, text: str) -> None:
        self._status.value = format_status(kind, text)


def _describe(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    if isinstance(error, (ValueError, TypeError)):
        return text
    return f"{type(error).__name__}: {text}"
