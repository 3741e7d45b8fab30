import subprocess
import sys


def test_core_imports_no_plotting_or_widgets():
    code = ("import sys, ntk_explorer, ntk_explorer.kernels, ntk_explorer.kernels.analytic, ntk_explorer.models\n"
            "import importlib.util\n"
            "for name in ['ntk_explorer.data', 'ntk_explorer.kernels.linearize', 'ntk_explorer.dynamics', "
            "'ntk_explorer.spectra', 'ntk_explorer.experiments']:\n"
            "    if importlib.util.find_spec(name): __import__(name)\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('plotly', 'ipywidgets', 'anywidget'))\n"
            "print(','.join(bad))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"core imported UI modules: {out.stdout}"
