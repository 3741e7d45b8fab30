"""Real-browser tests of the "Lazy vs rich" tab: Voilà serves notebooks/dashboard.ipynb on a free loopback port and
headless Debian chromium drives it through Playwright (see tests/test_browser.py and ../shared/ECOSYSTEM.md).  The
cells of the heat map appear while the grid is computed, Stop ends the run within one cell, and a click on a cell
opens the lazy-training tab at that cell's width and output scale.  Without chromium or playwright these tests are
skipped with the reason, except when the environment variable CI is set: then they fail."""
import time

import pytest

from _browser import LAZY, persistent_chromium, voila_server

PHASE = ".ntk-panel-phase"
LOAD_TIMEOUT_MS = 180_000
RUN_TIMEOUT_MS = 180_000
CELLS = """(sel) => {
    // plotly.js's own copy of the heat map (what is drawn): [finished cells, all cells]; a finished cell shows its
    // value (or "diverged") as text, a cell not computed yet shows nothing
    const gd = document.querySelector(sel);
    if (!gd || !gd.data) return null;
    const trace = gd.data.find(t => t.meta === 'cells');
    if (!trace || !trace.text) return null;
    let done = 0, all = 0;
    for (const row of trace.text) for (const v of row) { all++; if (v) done++; }
    return [done, all]; }"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with voila_server(tmp_path_factory.mktemp("voila") / "voila.log") as url:
        yield url


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with persistent_chromium(tmp_path_factory.mktemp("chromium"), viewport={"width": 1280, "height": 900}) as context:
        yield context


def open_phase(browser, url):
    """The dashboard opened on the Lazy vs rich tab (its first display starts a run: Run #1)."""
    page = browser.new_page()
    page.goto(url, timeout=LOAD_TIMEOUT_MS)
    page.wait_for_function(f"() => ({CELLS})({PHASE!r} + ' .js-plotly-plot') !== null", timeout=LOAD_TIMEOUT_MS)
    return page


def cells(page) -> list:
    return page.evaluate(CELLS, f"{PHASE} .js-plotly-plot")


def phase_status(page) -> str:
    return page.locator(f"{PHASE} .ntk-status").first.text_content()


def wait_for_status(page, panel, pattern, timeout=RUN_TIMEOUT_MS):
    page.wait_for_function("([sel, pattern]) => { const el = document.querySelector(sel);"
                           " return el && new RegExp(pattern).test(el.textContent); }",
                           arg=[f"{panel} .ntk-status", pattern], timeout=timeout)


def wait_for_cells(page, condition: str, timeout=RUN_TIMEOUT_MS):
    """Waits until ``condition`` (a JavaScript expression in ``done`` and ``all``) holds for the drawn heat map."""
    page.wait_for_function(f"(sel) => {{ const c = ({CELLS})(sel); if (!c) return false; const [done, all] = c;"
                           f" return {condition}; }}", arg=f"{PHASE} .js-plotly-plot", timeout=timeout)
    return cells(page)


@pytest.fixture(scope="module")
def page(browser, server):
    page = open_phase(browser, server + "?panel=phase")  # the default grid: 4 widths × 5 output scales
    yield page
    page.close()


def test_cells_appear_live_while_the_grid_is_computed(page):
    wait_for_status(page, PHASE, r"Run #1 done: 20 cells")  # the first display's run (it may end before the page
    wait_for_cells(page, "done === all")  # has rendered: Voilà shows the page after the notebook ran)
    page.locator(f"{PHASE} button.jupyter-button", has_text="Run").first.click()
    partial = wait_for_cells(page, "done > 0 && done < all")  # some cells drawn, the run still going
    wait_for_status(page, PHASE, r"Run #2 done: 20 cells")
    final = wait_for_cells(page, "done === all")
    assert final == [20, 20] and 0 < partial[0] < 20
    texts = page.locator(f"{PHASE} .js-plotly-plot .heatmaplayer text").all_text_contents()
    assert len([t for t in texts if t.strip()]) == 20  # every cell shows its value (or "diverged")


def cell_center(page, width: float, scale: float) -> tuple:
    """Page coordinates of the centre of the heat-map cell at (width, α), from plotly.js's axes."""
    return tuple(page.evaluate("""([sel, n, a]) => { const gd = document.querySelector(sel);
        const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, box = gd.getBoundingClientRect();
        return [box.left + xa._offset + xa.d2p(n), box.top + ya._offset + ya.d2p(a)]; }""",
                               [f"{PHASE} .js-plotly-plot", width, scale]))


def readout(page, label: str) -> str:
    return page.locator(f"{LAZY} .widget-inline-hbox:has(label:text-is('{label}')) .widget-readout").first \
        .text_content().strip()


def test_a_click_on_a_cell_opens_the_lazy_tab_at_its_width_and_scale(page):
    wait_for_status(page, PHASE, r"Run #2 done")
    x, y = cell_center(page, 64, 3.0)
    page.mouse.move(x, y)  # plotly reports a click on the point under the pointer
    page.mouse.click(x, y)
    page.wait_for_selector(f"{LAZY} .js-plotly-plot", state="visible", timeout=LOAD_TIMEOUT_MS)
    assert page.locator(f"{PHASE}").first.is_hidden()  # the tab changed
    assert readout(page, "width n") == "64"
    assert float(readout(page, "output scale α")) == 3.0
    assert readout(page, "GD steps") == "300" and readout(page, "hidden layers") == "1"
    wait_for_status(page, LAZY, r"Run #1 (done|diverged)")  # it trained there
    selected = page.locator(".ntk-dashboard .lm-TabBar-tab.lm-mod-current").first.text_content()
    assert "Lazy training" in selected


def test_stop_ends_the_run_within_one_cell(browser, server, page):
    page.close()  # one dashboard kernel at a time on a small machine
    # wide networks: a cell takes longer than a click takes to reach the kernel, so the count the browser shows at
    # the click is the kernel's
    second = open_phase(browser, server + "?panel=phase&min_width=256&max_width=2048&steps=300")
    try:
        wait_for_status(second, PHASE, r"Run #1")
        before = wait_for_cells(second, "done >= 2")
        assert before[1] == 4 * 5
        clicked = time.perf_counter()
        second.locator(f"{PHASE} button.jupyter-button", has_text="Stop").first.click()
        wait_for_status(second, PHASE, r"Run #1 stopped")
        stopped_after = time.perf_counter() - clicked
        second.wait_for_timeout(3000)  # nothing is drawn after the stop
        after = cells(second)
        print(f"Stop: {before[0]} cells drawn at the click, {after[0]} in the end; 'stopped' shown after "
              f"{stopped_after:.2f} s")
        # the cell in training when Stop arrived is dropped (it may have finished while the click was on its way)
        assert before[0] <= after[0] <= before[0] + 1 and after[0] < after[1]
        assert "stopped" in phase_status(second)
    finally:
        second.close()
