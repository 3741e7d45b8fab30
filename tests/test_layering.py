"""The package is layered one way, and the core never loads the UI stack.

Every module of ntk_explorer (found with pkgutil.walk_packages) has a declared layer in LAYERS below; a module
without one, or a declared module that no longer exists, fails the test, so a new or renamed module cannot slip
through.  Layers, earliest first:

    validation, memory, _version → models, data → kernels → dynamics, spectra → experiments (and exercises)
    → ntk_explorer (the package's public face) → plots → widgets → cli

An import (at module level or inside a function) may name a module of an earlier layer, or of the same layer
only inside one family: the same subpackage (``dynamics.engine`` → ``dynamics.losses``, ``plots.figures`` →
``plots.panels``, a package's ``__init__`` → its own modules).  No other same-layer import is allowed: not
``memory`` ↔ ``validation``, ``models`` ↔ ``data``, ``dynamics`` ↔ ``spectra``, ``experiments`` ↔ ``exercises``.

The core (every layer before plots) imports only torch, numpy and scipy: in an interpreter where nothing of
ntk_explorer is loaded yet, importing any core module alone loads none of plotly, ipywidgets, anywidget,
tqdm.notebook, tqdm.auto or tqdm.autonotebook (torch itself loads plain ``tqdm``; ``tqdm.auto`` would bring
ipywidgets in a notebook, so the core imports it only when a progress bar is asked for).
"""
import ast
import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import ntk_explorer

PACKAGE = "ntk_explorer"
ROOT = Path(ntk_explorer.__file__).parent

LAYERS = [
    ("foundation", ["validation", "memory", "_version"]),
    ("models and data", ["models", "data", "data.dataset", "data.digits", "data.expression", "data.synthetic"]),
    ("kernels", ["kernels", "kernels.alignment", "kernels.analytic", "kernels.empirical", "kernels.jacobian",
                 "kernels.linearize", "kernels.vector_outputs"]),
    ("dynamics and spectra", ["dynamics", "dynamics.closed_form", "dynamics.engine", "dynamics.losses",
                              "dynamics.training", "spectra", "spectra.domains", "spectra.eigenlearning",
                              "spectra.generalization", "spectra.mode_dynamics"]),
    ("experiments", ["experiments", "experiments.config", "experiments.ensembles", "experiments.generalization",
                     "experiments.linearity", "experiments.measurements", "experiments.phase",
                     "experiments.phase_baseline", "experiments.phase_lines", "experiments.phase_result",
                     "experiments.sweeps", "experiments.vector_outputs", "exercises"]),
    ("public face", [""]),  # ntk_explorer/__init__.py
    ("plots", ["plots", "plots.figures", "plots.panels"]),
    ("widgets", ["widgets", "widgets.dashboard", "widgets.figure", "widgets.guards", "widgets.infinite", "widgets.lazy",
                 "widgets.lazy_digits", "widgets.lazy_setup", "widgets.learnability", "widgets.panel",
                 "widgets.registry", "widgets.runner", "widgets.phase", "widgets.settings", "widgets.spectral",
                 "widgets.specs", "widgets.state", "widgets.width"]),
    ("cli", ["cli"]),
]
LAYER = {(f"{PACKAGE}.{name}" if name else PACKAGE): i for i, (_, names) in enumerate(LAYERS) for name in names}
FIRST_UI_LAYER = [title for title, _ in LAYERS].index("plots")
FORBIDDEN_IN_CORE = ("plotly", "ipywidgets", "anywidget", "tqdm.notebook", "tqdm.auto", "tqdm.autonotebook")


def package_modules() -> dict:
    """Dotted name → (source path, is a package) for the package and every module below it."""
    found = {PACKAGE: (ROOT / "__init__.py", True)}
    for info in pkgutil.walk_packages([str(ROOT)], prefix=PACKAGE + "."):
        path = ROOT.joinpath(*info.name.split(".")[1:])
        found[info.name] = (path / "__init__.py", True) if info.ispkg else (path.with_suffix(".py"), False)
    return found


MODULES = package_modules()
CORE = sorted(name for name in MODULES if LAYER.get(name, FIRST_UI_LAYER) < FIRST_UI_LAYER)


def family(module: str) -> str:
    """The subpackage a module belongs to (a package is its own family; so is a top-level module)."""
    parts = module.split(".")
    return module if MODULES[module][1] or len(parts) <= 2 else ".".join(parts[:-1])


def imported_modules(module: str) -> list:
    """(line, package module) for every import of a package module in ``module``'s source, function-local imports
    included; ``from X import name`` names the submodule X.name when there is one, else X."""
    path, is_package = MODULES[module]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if alias.name.split(".")[0] == PACKAGE]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = module.split(".") if is_package else module.split(".")[:-1]
                source = ".".join(parts[:len(parts) - node.level + 1] + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            if source.split(".")[0] != PACKAGE:
                continue
            for alias in node.names:
                target = f"{source}.{alias.name}"
                found.append((node.lineno, target if target in MODULES else source))
    return sorted(set(found))  # `from X import a, b` names X once


def test_every_module_has_a_declared_layer():
    undeclared = sorted(set(MODULES) - set(LAYER))
    stale = sorted(set(LAYER) - set(MODULES))
    assert not undeclared, f"modules without a layer (add them to LAYERS in {__file__}): {undeclared}"
    assert not stale, f"declared modules that do not exist (renamed or removed?): {stale}"
    assert len(LAYER) == sum(len(names) for _, names in LAYERS), "a module is declared in two layers"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_follow_the_layer_order(module):
    if module not in LAYER:
        pytest.fail(f"{module} has no declared layer")
    wrong = []
    for line, target in imported_modules(module):
        if target not in LAYER:
            wrong.append(f"line {line}: imports {target}, which has no declared layer")
        elif LAYER[target] > LAYER[module]:
            wrong.append(f"line {line}: imports {target} (layer '{LAYERS[LAYER[target]][0]}') from layer "
                         f"'{LAYERS[LAYER[module]][0]}'")
        elif LAYER[target] == LAYER[module] and family(target) != family(module):
            wrong.append(f"line {line}: imports {target} from the same layer but another family "
                         f"({family(module)} → {family(target)})")
    assert not wrong, f"{module}:\n" + "\n".join(wrong)


def test_the_import_scan_sees_function_local_and_relative_imports():
    found = {target for _, target in imported_modules("ntk_explorer.spectra.mode_dynamics")}
    assert {"ntk_explorer.models", "ntk_explorer.kernels", "ntk_explorer.validation",
            "ntk_explorer.spectra.eigenlearning", "ntk_explorer.spectra.domains"} <= found  # models, kernels: local
    assert ("ntk_explorer.plots.panels" in {t for _, t in imported_modules("ntk_explorer.cli")})  # inside main()
    assert {t for _, t in imported_modules("ntk_explorer.plots.figures")} >= {"ntk_explorer.plots.panels"}


IMPORT_EACH_ALONE = r"""
import importlib, json, os, sys
import numpy, scipy, torch  # the core's allowed dependencies, loaded once before the children fork
forbidden = tuple(sys.argv[1].split(","))
def loaded():
    return sorted(m for m in sys.modules if any(m == f or m.startswith(f + ".") for f in forbidden))
results = {"(torch, numpy, scipy)": loaded()}
for name in sys.argv[2:]:
    if not hasattr(os, "fork"):  # no fork: one interpreter per module
        import subprocess
        code = f"import importlib, sys, json; importlib.import_module({name!r}); print(json.dumps(sorted(sys.modules)))"
        out = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
        results[name] = sorted(m for m in out if any(m == f or m.startswith(f + ".") for f in forbidden))
        continue
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: nothing of ntk_explorer is loaded yet
        os.close(read)
        try:
            importlib.import_module(name)
            message = json.dumps(loaded())
        except BaseException as error:
            message = json.dumps([f"import failed: {error!r}"])
        os.write(write, message.encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        results[name] = json.loads(pipe.read().decode())
    os.waitpid(pid, 0)
print(json.dumps(results))
"""


def test_each_core_module_alone_loads_no_ui_module():
    assert len(CORE) > 20 and "ntk_explorer" in CORE and "ntk_explorer.plots" not in CORE
    out = subprocess.run([sys.executable, "-c", IMPORT_EACH_ALONE, ",".join(FORBIDDEN_IN_CORE), *CORE],
                         capture_output=True, text=True, check=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    results = json.loads(out.stdout.strip().splitlines()[-1])
    assert set(results) == {"(torch, numpy, scipy)", *CORE}
    loaded = {name: modules for name, modules in results.items() if modules}
    assert not loaded, f"core modules that load UI modules: {loaded}"


def test_the_ui_check_would_see_a_ui_import():
    """The check itself: importing a plots module alone does load plotly."""
    out = subprocess.run([sys.executable, "-c", IMPORT_EACH_ALONE, ",".join(FORBIDDEN_IN_CORE),
                          "ntk_explorer.plots.panels"], capture_output=True, text=True, check=True)
    assert "plotly" in json.loads(out.stdout.strip().splitlines()[-1])["ntk_explorer.plots.panels"]


def test_a_progress_bar_imports_tqdm_auto_only_when_asked_for():
    code = ("import sys, ntk_explorer as nx\n"
            "small = dict(depth=1, n_train=4, n_eval=4, steps=2, record_every=1, kernel_every=None, device='cpu')\n"
            "nx.width_sweep([4], 1, progress=False, **small)\n"
            "before = 'tqdm.auto' in sys.modules\n"
            "nx.width_sweep([4], 1, progress=True, **small)\n"
            "print(before, 'tqdm.auto' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]
