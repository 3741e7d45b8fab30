"""No private name crosses a module boundary inside ntk_explorer: a helper shared by two modules is public (or lives
in validation.py).  An AST scan of every module of the package fails on

* ``from <package module> import _name`` (relative or absolute),
* ``<package module>._name`` where the left side is a name the module bound to a package module by an import,
* importing a private module (``from ._mod import …``, ``from . import _mod``, ``import ntk_explorer._mod``),

``__version__`` and the ``_version`` module excepted.  Private names inside one module (``self._x``, a module's own
``_helper``) are fine; attributes of third-party modules are not this test's business.
"""
import ast
import pkgutil
from pathlib import Path

import pytest

import ntk_explorer

PACKAGE = "ntk_explorer"
ROOT = Path(ntk_explorer.__file__).parent
ALLOWED = {"__version__", "_version"}


def modules() -> dict:
    """Dotted module name → source path, for the package and every module below it."""
    found = {PACKAGE: ROOT / "__init__.py"}
    for info in pkgutil.walk_packages([str(ROOT)], prefix=PACKAGE + "."):
        relative = info.name.split(".")[1:]
        path = ROOT.joinpath(*relative)
        found[info.name] = path / "__init__.py" if info.ispkg else path.with_suffix(".py")
    return found


MODULES = modules()


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__")) and name not in ALLOWED


def resolve(module: str, node: ast.ImportFrom) -> str:
    """The absolute dotted name of ``from <node.module> import …`` written in ``module``."""
    if node.level == 0:
        return node.module or ""
    is_package = MODULES[module].name == "__init__.py"
    parts = module.split(".") if is_package else module.split(".")[:-1]
    base = parts[:len(parts) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def in_package(dotted: str) -> bool:
    return dotted == PACKAGE or dotted.startswith(PACKAGE + ".")


def private_part(dotted: str):
    """The first private component of a dotted module name below the package, else None."""
    return next((part for part in dotted.split(".")[1:] if is_private(part)), None)


def violations(module: str) -> list:
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"), filename=str(MODULES[module]))
    found, module_names = [], set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            source = resolve(module, node)
            if not in_package(source):
                continue
            if private_part(source):
                found.append(f"line {node.lineno}: imports private module {source}")
            for alias in node.names:
                target = f"{source}.{alias.name}"
                if target in MODULES:  # a submodule: `from . import panels as P`
                    module_names.add(alias.asname or alias.name)
                    if is_private(alias.name):
                        found.append(f"line {node.lineno}: imports private module {target}")
                elif is_private(alias.name):
                    found.append(f"line {node.lineno}: imports private name {alias.name} from {source}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if in_package(alias.name):
                    if private_part(alias.name):
                        found.append(f"line {node.lineno}: imports private module {alias.name}")
                    module_names.add(alias.asname or alias.name.split(".")[0])
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and is_private(node.attr):
            root = node.value
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name) and root.id in module_names:
                found.append(f"line {node.lineno}: uses private attribute {ast.unparse(node)} of a package module")
    return found


def test_every_module_is_scanned():
    assert {"ntk_explorer.validation", "ntk_explorer.experiments.sweeps", "ntk_explorer.plots.figures",
            "ntk_explorer.cli"} <= set(MODULES)
    assert all(path.is_file() for path in MODULES.values())


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_private_name_crosses_a_module_boundary(module):
    found = violations(module)
    assert not found, f"{module}:\n" + "\n".join(found)


def test_the_scan_finds_each_kind_of_violation(tmp_path, monkeypatch):
    """The scanner itself, on a made-up module: every forbidden form is reported, the allowed ones are not."""
    source = (
        "from ..kernels.analytic import _as_float64, analytic_kernels\n"
        "from . import _helpers, sweeps\n"
        "from ._runner import Runner\n"
        "import ntk_explorer.widgets._common as common\n"
        "from .._version import __version__\n"
        "from .. import memory\n"
        "import numpy as np\n"
        "def f(self):\n"
        "    from ..spectra.domains import _Domain\n"
        "    return memory._parse(sweeps.SWEEP_METRICS), self._x, np._NoValue\n"
    )
    fake = tmp_path / "fake.py"
    fake.write_text(source)
    monkeypatch.setitem(MODULES, "ntk_explorer.experiments.fake", fake)
    monkeypatch.setitem(MODULES, "ntk_explorer.experiments._helpers", tmp_path / "helpers.py")
    found = "\n".join(violations("ntk_explorer.experiments.fake"))
    for expected in ("private name _as_float64 from ntk_explorer.kernels.analytic",
                     "private module ntk_explorer.experiments._helpers", "private module ntk_explorer.experiments._runner",
                     "private module ntk_explorer.widgets._common", "private name _Domain from ntk_explorer.spectra.domains",
                     "memory._parse"):
        assert expected in found, expected
    assert "__version__" not in found and "_version" not in found and "self._x" not in found and "_NoValue" not in found
    assert len(found.splitlines()) == 6
