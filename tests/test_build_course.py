"""``make course`` (tools/build_course.py): a tiny course of two lessons and one solution is executed and rendered to
self-contained pages — an index with the titles, plotly.js and MathJax inline once per page, no script or stylesheet
from the network, widgets replaced by the panel note, links between notebooks rewritten to the pages."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NETWORK_RESOURCE = re.compile(r"<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*[\"']?(?:https?:)?//", re.I)


def _notebook(path: Path, cells):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell(text) if kind == "md" else nbformat.v4.new_code_cell(text)
                for kind, text in cells]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("course")
    notebooks = root / "notebooks"
    _notebook(notebooks / "01_tiny.ipynb", [
        ("md", "# Lesson 1 — A *tiny* lesson\n\nThe kernel $\\Theta(x,x')$ and\n\n$$f_t=f_0-\\tfrac{\\eta}{N}\\Theta r$$\n\n"
               "Next: [lesson 2](02_other.ipynb), [solutions](solutions/01_tiny_solutions.ipynb), "
               "[dashboard](dashboard.ipynb), [references](../docs/references.md)."),
        ("code", "import plotly.graph_objects as go\ngo.Figure(go.Scatter(y=[1, 3, 2], name='first'))"),
        ("code", "go.Figure(go.Bar(y=[2, 1], name='second'))"),
        ("code", "import ipywidgets\nipywidgets.IntSlider(description='width')"),
        ("code", "print('answer', 6 * 7)"),
    ])
    _notebook(notebooks / "02_other.ipynb", [("md", "# Lesson 2 — Other\n\nNo figures here."),
                                             ("code", "1 + 1")])
    _notebook(notebooks / "solutions" / "01_tiny_solutions.ipynb",
              [("md", "# Lesson 1 — worked solutions\n\n[back](../01_tiny.ipynb)"), ("code", "2 + 2")])
    _notebook(notebooks / "dashboard.ipynb", [("md", "# Not a lesson")])
    (root / "docs").mkdir()
    (root / "docs" / "references.md").write_text("# References\n\n- Jacot et al. 2018, arXiv:1806.07572\n")
    out = root / "build"
    run = subprocess.run([sys.executable, str(ROOT / "tools" / "build_course.py"), "--notebooks", str(notebooks),
                          "--out", str(out), "--jobs", "2"], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    return out


def test_index_lists_lessons_with_titles_and_solutions(course):
    index = (course / "index.html").read_text(encoding="utf-8")
    assert '<a href="01_tiny.html">Lesson 1 — A tiny lesson</a>' in index
    assert '<a href="02_other.html">Lesson 2 — Other</a>' in index
    assert 'href="solutions/01_tiny_solutions.html"' in index and 'href="references.html"' in index
    assert "dashboard" not in index and not NETWORK_RESOURCE.search(index)
    assert (course / "references.html").exists() and (course / "solutions" / "01_tiny_solutions.html").exists()


def test_page_is_self_contained(course):
    page = (course / "01_tiny.html").read_text(encoding="utf-8")
    assert not NETWORK_RESOURCE.search(page), NETWORK_RESOURCE.search(page).group(0)
    assert page.count("* plotly.js v") == 1                      # the bundle, inline, once
    assert page.count("Plotly.newPlot(") == 2                    # both figures drawn from it
    assert "application/vnd.plotly.v1+json" not in page
    assert page.count("window.MathJax = {") == 1 and page.count("MathJax") > 100   # MathJax inline, configured once
    assert "Interactive panel" in page and "application/vnd.jupyter.widget-view+json" not in page
    assert "answer 42" in page                                   # executed


def test_links_point_at_pages(course):
    page = (course / "01_tiny.html").read_text(encoding="utf-8")
    assert 'href="02_other.html"' in page and 'href="solutions/01_tiny_solutions.html"' in page
    assert 'href="references.html"' in page and 'href="dashboard.ipynb"' not in page
    solution = (course / "solutions" / "01_tiny_solutions.html").read_text(encoding="utf-8")
    assert 'href="../01_tiny.html"' in solution


def test_page_without_figures_has_no_plotly(course):
    page = (course / "02_other.html").read_text(encoding="utf-8")
    assert "* plotly.js v" not in page and not NETWORK_RESOURCE.search(page)


def test_page_renders_offline_in_a_browser(course, tmp_path):
    """Chromium opens the page from disk with every http(s) request refused: the equations are typeset, the
    figures drawn, and nothing is requested from the network."""
    sys.path.insert(0, str(ROOT / "tests"))
    from _browser import CHROMIUM, CHROMIUM_ARGS, sync_playwright

    start = sync_playwright()
    requested = []
    with start() as playwright:
        context = playwright.chromium.launch_persistent_context(str(tmp_path / "chromium"), executable_path=CHROMIUM,
                                                                headless=True, args=CHROMIUM_ARGS)
        try:
            context.route(re.compile(r"^(https?|wss?)://"), lambda route: (requested.append(route.request.url),
                                                                           route.abort()))
            page = context.new_page()
            page.goto((course / "01_tiny.html").as_uri())
            page.wait_for_selector("mjx-container svg", state="attached", timeout=60_000)
            page.wait_for_selector(".js-plotly-plot .scatterlayer .trace", state="attached", timeout=60_000)
            figures = page.locator(".js-plotly-plot").count()
            equations = page.locator("mjx-container").count()
        finally:
            context.close()
    assert figures == 2 and equations >= 2
    assert requested == [], requested


def test_a_failing_lesson_fails_the_build_and_says_where(tmp_path):
    notebooks = tmp_path / "notebooks"
    _notebook(notebooks / "01_broken.ipynb", [("md", "# Broken"), ("code", "raise ValueError('the claim no longer holds')")])
    run = subprocess.run([sys.executable, str(ROOT / "tools" / "build_course.py"), "--notebooks", str(notebooks),
                          "--out", str(tmp_path / "out"), "--jobs", "1"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 1
    assert "FAILED" in run.stderr and "01_broken.ipynb" in run.stderr and "the claim no longer holds" in run.stderr
    assert not (tmp_path / "out" / "01_broken.html").exists()
