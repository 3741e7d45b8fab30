"""Learnability panel: eigenlearning theory L(λ) = λ/(λ+κ), measurements, the learnability conservation law and
the zero-sum competition of eigenmodes (Simon et al. 2021)."""
from __future__ import annotations

import html
from dataclasses import dataclass, replace
from typing import Optional

import ipywidgets as W
import numpy as np

from .. import spectra as S
from ..data import make_dataset
from ..plots import panels as P
from .lazy_setup import digit_classes
from .panel import Panel
from .settings import Choice, Flag, FloatRange, IntRange, LogRange, Settings, setting
from .state import LastResult

__all__ = ["LearnabilityPanel", "LearnabilitySettings", "LearnabilityFrame", "Theory", "theory"]

MEASURED_LEVELS = 6
DIGIT_PAIRS = ("3,8", "4,9", "1,7", "0,1")  # two digits: ±1 labels, one value per image for the learning curve
CURVE_NS = (2, 4, 8, 16, 32, 64, 128, 256)  # training-set sizes of the digits' learning curve (those below M)
NETWORK_LEVELS, NETWORK_TRIALS = 4, 6  # networks: 4 levels × 6 training sets ≈ 1 s at width 64
ACTIVATIONS = ("relu", "erf", "tanh", "gelu", "softplus")


@dataclass(frozen=True)
class LearnabilitySettings(Settings):
    """Settings of the learnability panel: the domain (the hypercube {±1}^dim, ``points`` points on the circle, or
    ``images`` images of the two digits ``classes``, labelled ±1), the analytic NTK of the MLP, ``n`` training
    points, ridge δ, and one eigenvalue of level ``mode`` scaled by ``boost``; kernel regression is measured over
    ``trials`` training sets, networks of ``width`` when ``networks`` is on.  On the digits the second plot is the
    learning curve of the labels: eigenlearning's predicted test MSE against kernel regression."""
    domain: str = setting("hypercube", Choice("domain", ("hypercube", "circle", "digits")))
    dim: int = setting(7, IntRange("hypercube dim d", 3, 10))
    points: int = setting(128, IntRange("circle points M", 32, 512, step=32))
    classes: str = setting("3,8", Choice("digits", DIGIT_PAIRS))
    images: int = setting(256, IntRange("digit images M", 64, 320, step=32))
    depth: int = setting(2, IntRange("hidden layers", 1, 4))
    activation: str = setting("relu", Choice("activation", ACTIVATIONS))
    bias: float = setting(0.0, FloatRange("bias σ_b", 0.0, 1.0, step=0.05))
    n: int = setting(32, IntRange("training points n", 1, 512))
    ridge: float = setting(0.0, FloatRange("ridge δ", 0.0, 1.0, step=0.001))
    mode: int = setting(1, IntRange("boost level k", 0, 12))
    boost: float = setting(1.0, LogRange("boost factor", 0.01, 100.0))
    measure: bool = setting(True, Flag("measure kernel regression"))
    trials: int = setting(50, IntRange("random training sets", 5, 200, step=5))
    networks: bool = setting(False, Flag("measure trained networks (slow)"))
    width: int = setting(64, Choice("network width", (16, 32, 64, 128, 256, 512, 1024), style="slider"))

    def kernel_key(self) -> tuple:
        """What the domain, its kernel and eigensystem depend on."""
        return (self.domain, self.dim, self.points, self.classes, self.images, self.depth, self.activation, self.bias)


@dataclass(frozen=True)
class Theory:
    """Per level: learnabilities ``L``, κ, m_k·L_k before (``level_total``) and after scaling one eigenvalue of
    level ``mode`` (``boosted_level_total``), the boosted eigenvalue's learnability and the others' after."""
    L: np.ndarray
    kappa: float
    level_total: np.ndarray
    boosted_level_total: np.ndarray
    L_boosted: float
    L_others_after: np.ndarray


def theory(level_eigenvalues, multiplicities, n, ridge, mode, boost) -> Theory:
    """Per-level theory before and after scaling one eigenvalue of level ``mode`` by ``boost`` (the other
    m − 1 eigenvalues of that level unchanged).  All numbers come from ``learnability``/``solve_kappa``."""
    lam, m = np.asarray(level_eigenvalues, dtype=np.float64), np.asarray(multiplicities, dtype=np.float64)
    L = S.learnability(lam, n, m, ridge)
    kappa = S.solve_kappa(lam, n, m, ridge)
    lam2, m2 = np.append(lam, lam[mode] * boost), np.append(m, 1.0)
    m2[mode] -= 1
    keep = m2 > 0
    L2_all = np.zeros(len(lam2))
    L2_all[keep] = S.learnability(lam2[keep], n, m2[keep], ridge)
    per_level = m2[:-1] * L2_all[:-1]
    per_level[mode] += L2_all[-1]
    return Theory(L, kappa, m * L, per_level, L2_all[-1], L2_all[:-1])


@dataclass(frozen=True, eq=False)
class LearnabilityFrame:
    """Levels, their eigenvalues and multiplicities, the n and level used, the theory, and the measured
    (eigenvalues, mean, standard error) of kernel regression and of networks (None until measured)."""
    levels: np.ndarray
    lam: np.ndarray
    m: np.ndarray
    n: int
    mode: int
    theory: Theory
    family: str
    guards: list
    ridge: float
    boost: float
    kernel: Optional[tuple] = None
    network: Optional[tuple] = None
    curve: Optional[tuple] = None  # the digits: (ns, predicted test MSE, measured mean, standard error)

    def columns(self) -> dict:
        return {"level": self.levels, "multiplicity": self.m, "eigenvalue": self.lam, "learnability": self.theory.L,
                "level_total": self.theory.level_total, "level_total_boosted": self.theory.boosted_level_total}


EQUATIONS = r"""
<p><b>Setting</b> (Simon et al. 2021): a finite domain of $M$ points with the uniform measure,
$\langle f,g\rangle=\frac1M\sum_x f(x)g(x)$; eigenpairs of the operator $K/M$: $(K/M)\phi_i=\lambda_i\phi_i$
— Fourier modes on the circle, Walsh monomials on the hypercube, grouped by frequency/degree with
multiplicity $m_k$.</p>
<p><b>Kernel regression</b> on $n$ random points $\mathcal D$ (ridge added to $K(\mathcal D,\mathcal D)$):
$\hat f=K(\cdot,\mathcal D)(K(\mathcal D,\mathcal D)+\delta I)^{-1}f(\mathcal D)$;
learnability $\mathcal L^{(\mathcal D)}(f)=\langle f,\hat f\rangle/\langle f,f\rangle$,
$\mathcal L(f)=\mathbb E_{\mathcal D}[\mathcal L^{(\mathcal D)}(f)]$ (Simon et al. 2021, definition of
learnability).</p>
<p><b>Theory</b> (Simon et al. 2021, the eigenlearning equations): $\mathcal L(\phi_i)\approx
L_i=\frac{\lambda_i}{\lambda_i+\kappa}$ with $\kappa$ solving
$\sum_i m_i\frac{\lambda_i}{\lambda_i+\kappa}+\frac{\delta}{\kappa}=n$.</p>
<p><b>Conservation law</b> (Simon et al. 2021): ridgeless, $\sum_i\mathcal L^{(\mathcal D)}(\phi_i)=n$ for any
complete orthogonal basis. <b>Zero-sum competition</b> (same paper): raising $\lambda_i$ raises
$\mathcal L(\phi_i)$ and lowers every other $\mathcal L(\phi_j)$ (the "boost" slider scales one eigenvalue).</p>
<p>Measured points: kernel regression averaged over random training sets (± standard error); trained networks:
finite MLPs trained by GD to convergence (Simon et al. 2021 find the theory holds already at width ≈ 20).</p>
<p><b>Digits</b>: the domain is $M$ images of two digits (the uniform measure on them; no symmetry, so the
eigenfunctions are indexed by rank) and the target their $\pm1$ labels. Second plot: the predicted test MSE
$E=E_0\big(\sum_i(1-L_i)^2v_i^2\big)$, $E_0=n/(n-\sum_iL_i^2)$, $v_i=\langle\phi_i,y\rangle$ (Simon et al.
2021), against kernel regression from $n$ random images, scored on all $M$. The theory's approximations assume
$n\ll M$: as $n$ nears $M$ the measured error lies above the prediction.</p>
"""


class LearnabilityPanel(Panel):
    """Eigenlearning on a finite domain (settings: :class:`LearnabilitySettings`)."""

    Settings = LearnabilitySettings
    key, title, equations, run_label = "learnability", "Learnability", EQUATIONS, "computing the spectrum"
    snippet_imports = ("from ntk_explorer.data import make_dataset\n"
                       "from ntk_explorer.spectra import (circle, eigensystem, hypercube, kernel_learning_curve, "
                       "learnability,\n                                  points, predicted_mse)\n")
    snippet_body = """{domain}K = domain.analytic_kernel(depth=s.depth, activation=s.activation, sigma_b=s.bias)
es = eigensystem(K, domain)
L = learnability(es.level_eigenvalues, s.n, es.multiplicities, ridge=s.ridge)
print((L * es.multiplicities.numpy()).sum())  # = n (the learnability conservation law)
{curve}"""

    def snippet_values(self) -> dict:
        s = self.settings
        if s.domain != "digits":
            return {"domain": 'domain = hypercube(s.dim) if s.domain == "hypercube" else circle(s.points)\n',
                    "curve": ""}
        ns = [int(k) for k in self.frame.curve[0]] if self.frame is not None and self.frame.curve is not None \
            else [k for k in CURVE_NS if k < s.images]
        return {"domain": (f'data = make_dataset("digits", n_train=s.images, n_eval=2, '
                           f"classes={digit_classes(s.classes)!r}, seed=0)\n"
                           "domain, labels = points(data.x_train), data.y_train\n"),
                "curve": (f"ns = {ns}\n"
                          "predicted = predicted_mse(es.level_eigenvalues, es.level_power(labels).sqrt(), ns, "
                          "es.multiplicities, ridge=s.ridge)\n"
                          "measured = kernel_learning_curve(K, domain, labels, ns, trials=s.trials, ridge=s.ridge)\n"
                          "print(predicted, measured.mean)\n")}

    def __init__(self, settings: Optional[LearnabilitySettings] = None, /, **overrides):
        self._kernels = LastResult(self.domain_and_kernel)  # domain, K and eigensystem of the last kernel_key
        self._digits = False  # the second plot shows the conservation bars (True: the digits' learning curve)
        super().__init__(settings, **overrides)

    def make_figure(self):
        return P.learnability_panel_figure()

    def view(self):
        self.summary = W.HTML()
        return list(self.controls.values()), [self.summary]

    def relevant(self, name: str) -> bool:
        domain = self.settings.domain
        return {"points": domain == "circle", "dim": domain == "hypercube", "classes": domain == "digits",
                "images": domain == "digits"}.get(name, True)

    @staticmethod
    def domain_and_kernel(key: tuple):
        """(domain, K, eigensystem, labels): labels are the digits' ±1 (None on the circle and the hypercube)."""
        domain_name, dim, points, classes, images, depth, activation, bias = key
        labels = None
        if domain_name == "digits":
            data = make_dataset("digits", n_train=images, n_eval=2, classes=digit_classes(classes), seed=0)
            domain, labels = S.points(data.x_train), data.y_train
        else:
            domain = S.hypercube(dim) if domain_name == "hypercube" else S.circle(points)
        K = domain.analytic_kernel(depth=depth, activation=activation, sigma_b=bias)
        return domain, K, S.eigensystem(K, domain), labels

    def job(self, ctx, settings):
        domain, K, es, labels = self._kernels(settings.kernel_key())
        lam, m = es.level_eigenvalues.cpu().numpy(), es.multiplicities.cpu().numpy()
        lam = np.where(lam > 1e-14 * lam.max(), lam, 0.0)  # round-off of the Rayleigh quotients
        n, guards, modes = min(settings.n, domain.M), [], int(m[lam > 0].sum())
        if n < settings.n:
            guards.append(f"n = {settings.n} exceeds the domain's M = {domain.M} points; using n = {n}.")
        if settings.ridge == 0 and n > modes:
            guards.append(f"Only {modes} eigenvalues are numerically non-zero (> 1e-14 λ_max): ridgeless regression "
                          f"cannot use more points, so n = {modes} is shown. Add a ridge δ > 0 for larger n.")
            n = modes
        mode = min(settings.mode, len(lam) - 1)
        frame = LearnabilityFrame(es.levels.cpu().numpy(), lam, m, n, mode,
                                  theory(lam, m, n, settings.ridge, mode, settings.boost), domain.family_name, guards,
                                  settings.ridge, settings.boost)
        ctx.frame(lambda: frame, final=True, status="theory done")
        measured = [k for k in range(len(lam)) if lam[k] > 0][:MEASURED_LEVELS]
        family = es.family.cpu().numpy()
        first = [int(np.flatnonzero(family == es.levels[k].item())[0]) for k in measured]
        targets = es.eigenfunctions[:, first]
        if settings.measure:
            ctx.check()
            mean, se = S.empirical_learnability(K, domain, targets, n, trials=settings.trials, ridge=settings.ridge)
            frame = replace(frame, kernel=(lam[measured], np.atleast_1d(mean.numpy()), np.atleast_1d(se.numpy())))
            ctx.frame(lambda: frame, final=True, status="kernel regression measured; networks…")
        if settings.networks:
            ctx.check()
            few = measured[:NETWORK_LEVELS]
            result = S.network_learnability(domain, targets[:, :len(few)], n, width=settings.width,
                                            depth=settings.depth, activation=settings.activation,
                                            sigma_b=settings.bias, trials=NETWORK_TRIALS, max_steps=4000)
            frame = replace(frame, network=(lam[few], result.mean.numpy(), result.stderr.numpy()))
            ctx.frame(lambda: frame, final=True)
        if labels is not None:  # the digits: the learning curve of their labels, predicted and measured
            ctx.check()
            ns = np.array([k for k in CURVE_NS if k < domain.M and (settings.ridge > 0 or k <= modes)])
            predicted = S.predicted_mse(es.level_eigenvalues, es.level_power(labels).sqrt(), ns, es.multiplicities,
                                        ridge=settings.ridge)
            measured = S.kernel_learning_curve(K, domain, labels, ns, trials=settings.trials, ridge=settings.ridge)
            frame = replace(frame, curve=(ns, np.asarray(predicted), measured.mean, measured.stderr))
            ctx.frame(lambda: frame, final=True)
        th = frame.theory
        return f"done in {ctx.elapsed():.1f} s: κ = {th.kappa:.4g}, Σ m_k L_k = {th.level_total.sum():.6g}."

    def draw(self, frame: LearnabilityFrame):
        self.set_guards(frame.guards)
        digits = frame.family == "rank"
        if digits != self._digits:
            P.learnability_axes(self.figure, digits)
            self._digits = digits
        th, lam, empty = frame.theory, frame.lam, np.zeros(0)
        live = lam > 0
        grid_lam = np.logspace(np.log10(lam[live].min()) - 0.5, np.log10(lam.max()) + 0.5, 200)
        curve = grid_lam / (grid_lam + th.kappa) if np.isfinite(th.kappa) else np.zeros_like(grid_lam)
        labels = [f"{frame.family} {int(k)} (×{int(mk)})" for k, mk in zip(frame.levels, frame.m)]
        levels = frame.levels.astype(np.float64)
        updates = {"theory": dict(x=grid_lam, y=curve), "modes": dict(x=lam[live], y=th.L[live],
                                                                      text=np.array(labels, dtype=object)[live]),
                   "original": dict(x=levels, y=th.level_total), "scaled": dict(x=levels, y=th.boosted_level_total)}
        if digits:  # the learning curve replaces the conservation bars (one bar per image would be unreadable)
            updates.update(original=dict(x=empty, y=empty), scaled=dict(x=empty, y=empty))
        learning = frame.curve
        updates["curve_theory"] = dict(x=learning[0], y=learning[1]) if learning is not None else dict(x=empty,
                                                                                                      y=empty)
        updates["curve_kernel"] = (dict(x=learning[0], y=learning[2], error_y=dict(type="data", array=2 * learning[3],
                                                                                    visible=True))
                                   if learning is not None else dict(x=empty, y=empty))
        for name in ("kernel", "network"):
            value = getattr(frame, name)
            updates[name] = dict(x=value[0], y=value[1], error_y=dict(type="data", array=2 * value[2], visible=True)) \
                if value is not None else dict(x=empty, y=empty)
        P.set_traces(self.figure, updates)
        total = th.level_total.sum()
        law = f"n = {frame.n}" if frame.ridge == 0 else f"n − δ/κ = {frame.n - frame.ridge / th.kappa:.6g} (ridge)"
        P.set_subplot_title(self.figure, 0, f"Eigenmode learnability L(λ) = λ/(λ + κ), n = {frame.n}, "
                                            f"κ = {th.kappa:.3g}")
        if digits:
            P.set_subplot_title(self.figure, 1, "Learning curve of the labels: eigenlearning vs kernel regression"
                                + ("" if learning is not None else " (computing…)"))
        else:
            P.set_subplot_title(self.figure, 1, f"Conservation: Σ m_k L_k = {total:.6g} (scaled: "
                                                f"{th.boosted_level_total.sum():.6g}); {law}")
        self.summary.value = html.escape(self.zero_sum_summary(frame))

    @staticmethod
    def zero_sum_summary(frame: LearnabilityFrame) -> str:
        th, mode = frame.theory, frame.mode
        others = np.delete(np.arange(len(frame.lam)), mode)
        before, after = th.L, th.L_others_after
        positive = frame.lam[others] > 0
        fell = bool(np.all(after[others][positive] <= before[others][positive] + 1e-15))
        drop = np.max(before[others] - after[others]) if len(others) else 0
        return (f"Boosting one eigenvalue of {frame.family} {int(frame.levels[mode])} by ×{frame.boost:.3g}: its "
                f"learnability {before[mode]:.4f} → {th.L_boosted:.4f}; every other mode "
                f"{'fell or stayed' if fell else 'did NOT all fall'} (largest drop {drop:.2e}).")
