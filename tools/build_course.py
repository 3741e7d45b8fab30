"""Render the course — every lesson notebook ``NN_*.ipynb`` and its worked solutions — executed, to self-contained
HTML pages with an index, viewable with no network (``make course``).

Each notebook is executed top to bottom (nbclient, with the Python running this script), then exported with
nbconvert's ``lab`` template through a small template of our own that

* embeds plotly.js once per page (inline) when the page has figures: the static plotly figures, which the kernel
  emits as ``application/vnd.plotly.v1+json``, become ``<div>`` + ``Plotly.newPlot`` snippets without a bundle;
* embeds MathJax 3 (``tex-svg-full.js`` from the ``django-static-mathjax`` package, SVG output, so no font files)
  inline for the equations, instead of nbconvert's CDN link;
* drops require.js, the widget manager and mermaid, which nbconvert loads from CDNs.

Interactive panels (ipywidgets) cannot run without a kernel: each widget output is replaced by a note saying so.
Links between notebooks become links between pages; ``../docs/references.md`` becomes ``references.html``.

Usage: ``python tools/build_course.py [--notebooks notebooks] [--out build/course] [--jobs 2] [--no-solutions]``.
Exit status 1 (with the failing notebook and cell) if any notebook fails to execute.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import html
import importlib.resources
import os
import re
import sys
import time
from pathlib import Path

import jinja2
import nbformat
from nbconvert import HTMLExporter
from nbconvert.filters import markdown2html
from nbconvert.preprocessors import CellExecutionError, ExecutePreprocessor

PLOTLY_MIME = "application/vnd.plotly.v1+json"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
LESSON = re.compile(r"^\d\d_.*\.ipynb$")
PANEL_NOTE = ('<div class="course-panel-note" style="border:1px solid #e69f00;background:#fff8e6;padding:0.6em 1em;'
              'border-radius:4px;margin:0.4em 0"><b>Interactive panel</b> — run this lesson in JupyterLab or on Binder '
              'to use it: widgets need a running Python kernel.</div>')
MATHJAX_CONFIG = ("window.MathJax = {tex: {inlineMath: [['$', '$'], ['\\\\(', '\\\\)']], displayMath: [['$$', '$$'], "
                  "['\\\\[', '\\\\]']], processEscapes: true, processEnvironments: true}, svg: {fontCache: 'global'}, "
                  "options: {enableMenu: false}};")
TEMPLATE = r"""{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{{ resources.course_head_js }}{%- endblock html_head_js -%}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
{%- block html_head_js_mathjax -%}{{ resources.course_mathjax }}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""


def inline_script(code: str) -> str:
    """A <script> element holding ``code`` (any "</script" inside is escaped so it cannot close the element)."""
    return "<script type=\"text/javascript\">" + code.replace("</script", "<\\/script") + "</script>"


def mathjax_bundle() -> str:
    try:
        path = importlib.resources.files("mathjax") / "static" / "mathjax" / "es5" / "tex-svg-full.js"
        return path.read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError) as error:
        raise SystemExit("MathJax is missing: install the test extra (`make setup`, or "
                         "`pip install django-static-mathjax`) to build the course") from error


def first_heading(nb) -> str:
    """The text of the notebook's first Markdown heading (without #, emphasis or math markers)."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("#"):
                    return re.sub(r"[*_`$]", "", line.lstrip("#").strip())
    return "Untitled"


def execute(path: Path, timeout: int):
    """Runs the notebook in its own folder with the current Python (its kernelspec says just "python")."""
    nb = nbformat.read(path, as_version=4)
    ExecutePreprocessor(timeout=timeout, kernel_name="python3").preprocess(nb, {"metadata": {"path": str(path.parent)}})
    return nb


def plotly_div(figure: dict) -> str:
    import plotly.io as pio

    return pio.to_html(figure, include_plotlyjs=False, full_html=False, validate=False)


def static_outputs(nb) -> int:
    """Plotly figures → HTML snippets, widget views → the panel note, widget state dropped; returns the figure count."""
    figures = 0
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("widgets", None)
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if PLOTLY_MIME in data:
                output["data"] = {"text/html": plotly_div(data[PLOTLY_MIME])}
                figures += 1
            elif WIDGET_MIME in data:
                output["data"] = {"text/html": PANEL_NOTE}
    return figures


def rewrite_links(page: str, rendered: dict, here: Path) -> str:
    """Links to rendered notebooks point at their pages; links to other notebooks become plain text; the
    references page (docs/references.md) becomes references.html at the top of the course."""
    def link(match):
        target, anchor = match.group(2), match.group(3) or ""
        if target.endswith("docs/references.md"):
            return f'{match.group(1)}{os.path.relpath("references.html", here)}{anchor}"'
        resolved = os.path.normpath(here / target)
        if target.endswith(".ipynb") and "://" not in target:
            if resolved in rendered:
                return f'{match.group(1)}{os.path.relpath(rendered[resolved], here)}{anchor}"'
            return f'{match.group(1)}#" title="{html.escape(target)}: open it in JupyterLab or on Binder"'
        return match.group(0)

    return re.sub(r'(href=")([^"#]+)(#[^"]*)?"', link, page)


def export(nb, title: str, figures: int, mathjax: str) -> str:
    import plotly.offline

    exporter = HTMLExporter(template_name="lab", extra_loaders=[jinja2.DictLoader({"course.html.j2": TEMPLATE})],
                            template_file="course.html.j2")
    nb.metadata["title"] = title
    resources = {"course_head_js": inline_script(plotly.offline.get_plotlyjs()) if figures else "",
                 "course_mathjax": inline_script(MATHJAX_CONFIG) + inline_script(mathjax)}
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    return body


def render_one(source: Path, notebooks: Path, out: Path, rendered: dict, mathjax: str, timeout: int):
    """Executes and exports one notebook; returns (relative page path, title, seconds)."""
    start = time.perf_counter()
    relative = source.relative_to(notebooks)
    nb = execute(source, timeout)
    figures = static_outputs(nb)
    title = first_heading(nb)
    page = rewrite_links(export(nb, title, figures, mathjax), rendered, relative.parent)
    target = out / relative.with_suffix(".html")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(page, encoding="utf-8")
    return relative.with_suffix(".html"), title, time.perf_counter() - start


def references_page(notebooks: Path, out: Path) -> bool:
    source = notebooks.parent / "docs" / "references.md"
    if not source.exists():
        return False
    body = markdown2html(source.read_text(encoding="utf-8"))
    out.joinpath("references.html").write_text(standalone("References", body), encoding="utf-8")
    return True


def standalone(title: str, body: str) -> str:
    style = ("body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:52em;margin:2em auto;"
             "padding:0 1em;line-height:1.5;color:#222}a{color:#0072b2}li{margin:0.3em 0}")
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{html.escape(title)}</title>\n'
            f"<style>{style}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n")


def index_page(lessons: list, solutions: dict, has_references: bool) -> str:
    items = []
    for page, title in lessons:
        solution = solutions.get(page.stem)
        extra = f' · <a href="{solution.as_posix()}">worked solutions</a>' if solution else ""
        items.append(f'<li><a href="{page.as_posix()}">{html.escape(title)}</a>{extra}</li>')
    references = '<p><a href="references.html">References</a>: the papers and notes the lessons cite.</p>' \
        if has_references else ""
    body = ("<h1>Neural Tangent Kernels: a classroom course</h1>\n<p>Every lesson below was executed when this "
            "course was built; figures and equations work offline. The interactive panels need a running Python "
            "kernel: open the notebooks in JupyterLab or on Binder for them.</p>\n<ol>\n" + "\n".join(items)
            + f"\n</ol>\n{references}")
    return standalone("Neural Tangent Kernels: a classroom course", body)


def build(notebooks: Path, out: Path, jobs: int, timeout: int, solutions: bool) -> int:
    lessons = sorted(p for p in notebooks.glob("*.ipynb") if LESSON.match(p.name))
    answers = sorted(p for p in (notebooks / "solutions").glob("*.ipynb") if LESSON.match(p.name)) if solutions else []
    if not lessons:
        raise SystemExit(f"no lesson notebooks NN_*.ipynb in {notebooks}")
    sources = lessons + answers
    rendered = {os.path.normpath(p.relative_to(notebooks)): p.relative_to(notebooks).with_suffix(".html")
                for p in sources}
    out.mkdir(parents=True, exist_ok=True)
    os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
    mathjax, results, failures = mathjax_bundle(), {}, []
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(render_one, p, notebooks, out, rendered, mathjax, timeout): p for p in sources}
        for future in concurrent.futures.as_completed(futures):
            source = futures[future]
            try:
                page, title, seconds = future.result()
            except CellExecutionError as error:  # a cell raised: nbclient's message names the cell and the error
                failures.append(source)
                print(f"FAILED {source}:\n{str(error)[:3000]}", file=sys.stderr, flush=True)
                continue
            except Exception as error:  # the kernel died, a cell timed out, the export failed: say which notebook
                failures.append(source)
                print(f"FAILED {source}: {type(error).__name__}: {error}", file=sys.stderr, flush=True)
                continue
            results[source] = (page, title)
            print(f"{seconds:6.1f} s  {page}  ({title})", flush=True)
    has_references = references_page(notebooks, out)
    lesson_pages = [results[p] for p in lessons if p in results]
    solution_pages = {results[p][0].stem.removesuffix("_solutions"): results[p][0] for p in answers if p in results}
    (out / "index.html").write_text(index_page(lesson_pages, solution_pages, has_references), encoding="utf-8")
    if failures:
        print(f"{len(failures)} notebook(s) failed: {', '.join(map(str, failures))}", file=sys.stderr)
        return 1
    print(f"course written to {out / 'index.html'} ({len(results)} pages)")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notebooks", type=Path, default=Path("notebooks"), help="folder with the NN_*.ipynb lessons")
    parser.add_argument("--out", type=Path, default=Path("build/course"), help="output folder")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="notebooks executed at once")
    parser.add_argument("--timeout", type=int, default=600, help="seconds allowed per cell")
    parser.add_argument("--no-solutions", dest="solutions", action="store_false", help="lessons only")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    return build(args.notebooks.resolve(), args.out.resolve(), args.jobs, args.timeout, args.solutions)


if __name__ == "__main__":
    sys.exit(main())
