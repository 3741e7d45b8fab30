"""The course notebooks are committed clean, link to each other correctly, and Binder installs what the package needs.

Executing the notebooks is nbval's job (``pytest --nbval-lax --nbval-current-env notebooks``); these tests only read
files, so they are fast and catch what nbval does not: saved outputs and widget state (a saved FigureWidget is
~5 MB of plotly.js in ``metadata.widgets``), broken relative links, and a drift between ``pyproject.toml`` and
``binder/requirements.txt``.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
LESSONS = ["00_index", "01_linearization", "02_width_scaling", "03_infinite_width", "04_learnability",
           "05_learning_rate_spectral_bias", "06_beyond_lazy", "07_kernel_regression", "08_wide_networks_are_linear",
           "09_vector_outputs", "10_lazy_vs_rich"]
NOTEBOOKS = sorted(p for p in NOTEBOOK_DIR.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
LINK = re.compile(r"\]\(([^)\s]+\.ipynb)(?:#[^)]*)?\)")


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _markdown(nb: dict) -> str:
    return "\n".join("".join(c["source"]) if isinstance(c["source"], list) else c["source"]
                     for c in nb["cells"] if c["cell_type"] == "markdown")


def test_course_notebooks_exist():
    names = {p.stem for p in NOTEBOOKS}
    missing = [name for name in LESSONS if name not in names]
    missing += [f"solutions/{name}_solutions" for name in LESSONS[1:]
                if not (NOTEBOOK_DIR / "solutions" / f"{name}_solutions.ipynb").exists()]
    assert not missing, f"missing notebooks: {missing}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(NOTEBOOK_DIR)))
def test_notebook_committed_without_outputs_or_widget_state(path):
    nb = _load(path)
    problems = []
    if nb.get("nbformat") != 4:
        problems.append(f"nbformat {nb.get('nbformat')} (expected 4)")
    if "widgets" in nb.get("metadata", {}):
        problems.append("notebook metadata holds saved widget state ('widgets')")
    if nb.get("metadata", {}).get("kernelspec", {}).get("name") != "python3":
        problems.append("kernelspec is not python3")
    for index, cell in enumerate(nb["cells"]):
        if "widgets" in cell.get("metadata", {}):
            problems.append(f"cell {index}: metadata holds widget state")
        if cell["cell_type"] != "code":
            continue
        if cell.get("outputs"):
            problems.append(f"cell {index}: has {len(cell['outputs'])} saved output(s)")
        if cell.get("execution_count") is not None:
            problems.append(f"cell {index}: execution_count = {cell['execution_count']} (expected null)")
    assert not problems, f"{path.relative_to(ROOT)}: clear it before committing " \
                         f"(jupyter nbconvert --clear-output --inplace, then drop metadata.widgets): {problems}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(NOTEBOOK_DIR)))
def test_relative_notebook_links_resolve(path):
    targets = LINK.findall(_markdown(_load(path)))
    broken = [t for t in targets if "://" not in t and not (path.parent / unquote(t)).resolve().exists()]
    assert not broken, f"{path.relative_to(ROOT)} links to missing notebooks: {broken}"


def test_index_links_every_lesson_and_solution():
    links = set(LINK.findall(_markdown(_load(NOTEBOOK_DIR / "00_index.ipynb"))))
    expected = {f"{name}.ipynb" for name in LESSONS[1:]} | {f"solutions/{name}_solutions.ipynb" for name in LESSONS[1:]}
    assert expected <= links, f"00_index does not link to {sorted(expected - links)}"


def test_lessons_link_their_solutions():
    missing = [name for name in LESSONS[1:] if f"solutions/{name}_solutions.ipynb"
               not in LINK.findall(_markdown(_load(NOTEBOOK_DIR / f"{name}.ipynb")))]
    assert not missing, f"lessons without a link to their solutions: {missing}"


# ------------------------------------------------------------------------------------------------- Binder
def _normalize(name: str) -> str:
    """PEP 503 name normalisation: case-insensitive, runs of -, _ and . are equivalent."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(line: str) -> str | None:
    line = line.split("#", 1)[0].strip()
    if not line or line.startswith("-"):  # blank, comment, or an option such as --extra-index-url
        return None
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", line)
    return _normalize(match.group(0)) if match else None


def _runtime_dependencies() -> list[str]:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: the [project] dependencies array, read directly
        block = re.search(r"^dependencies\s*=\s*\[(.*?)\]", text, re.S | re.M)
        assert block, "pyproject.toml has no [project] dependencies array"
        return re.findall(r"[\"']([^\"']+)[\"']", block.group(1))
    return tomllib.loads(text)["project"]["dependencies"]


def test_requirement_name_parser():
    assert _requirement_name("torch==2.13.0") == "torch"
    assert _requirement_name("Plotly>=6 ; python_version > '3.9'") == "plotly"
    assert _requirement_name("jupyter_server[all]~=2.0") == "jupyter-server"
    assert _requirement_name("--extra-index-url https://download.pytorch.org/whl/cpu") is None
    assert _requirement_name("# a comment") is None


def test_binder_requirements_cover_runtime_dependencies():
    dependencies = {_requirement_name(d) for d in _runtime_dependencies()}
    assert dependencies, "no runtime dependencies found in pyproject.toml"
    pinned = {_requirement_name(line) for line in
              (ROOT / "binder" / "requirements.txt").read_text(encoding="utf-8").splitlines()} - {None}
    missing = sorted(dependencies - pinned)
    assert not missing, f"binder/requirements.txt lacks runtime dependencies of pyproject.toml: {missing}"


def test_binder_files_complete():
    runtime = (ROOT / "binder" / "runtime.txt").read_text(encoding="utf-8").strip()
    assert re.fullmatch(r"python-3\.\d+", runtime), f"binder/runtime.txt must read python-3.X, got {runtime!r}"
    post_build = (ROOT / "binder" / "postBuild").read_text(encoding="utf-8")
    assert "pip install" in post_build and " -e ." in post_build, "binder/postBuild must install the package"
