"""Teaching guards: visible notes (not errors) when a setting leaves the regime the theory describes.

* Inputs far from unit norm: Theorem 2.1 of Lee et al. 2019 is stated for ‖x‖₂ ≤ 1.
* Θ_0 ill-conditioned on the training set: closed forms that invert Θ_0 (t → ∞, the GP of Lee et al. 2019 as
  derived in Y. Chen, "Linearized Networks", eqs. (27)–(30)) lose digits, and the slowest eigenmodes need
  ~ N/(lr λ_min) steps.
* lr between the convergence-optimal rate 2N/(λ_min + λ_max) (Lee et al. 2019's η_critical = 2/(λ_min + λ_max),
  times N for our mean loss) and the divergence rate 2N/λ_max (the stability limit of GD on a quadratic): every
  mode still converges, but the top modes overshoot: (1 − lr λ/N) < 0, so the residual oscillates in sign.
* lr ≥ 2N/λ_max: the top mode grows as |1 − lr λ_max/N|^t; GD diverges (shown as a message, never as NaN).
"""
from __future__ import annotations

import math
import re

import numpy as np
import torch

__all__ = ["input_norm_guard", "conditioning_guard", "learning_rate_guard", "condition_number",
           "CONDITION_LIMIT", "lr_gauge_html", "divergence_status"]

CONDITION_LIMIT = 1e8
NORM_RANGE = (0.5, 2.0)


def _numpy(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def input_norm_guard(x) -> list:
    """A note when some input norm lies outside [0.5, 2] (the theory assumes ‖x‖ ≤ 1)."""
    norms = np.linalg.norm(_numpy(x), axis=1)
    low, high = float(norms.min()), float(norms.max())
    if low < NORM_RANGE[0] or high > NORM_RANGE[1]:
        return [f"Input norms range over [{low:.3g}, {high:.3g}], far from 1: Theorem 2.1 assumes ‖x‖ ≤ 1 and "
                f"the NTK's scale changes with ‖x‖ (set the input radius back to 1)."]
    return []


def condition_number(k_train_train) -> float:
    """λ_max/λ_min of a symmetric kernel matrix (inf when λ_min ≤ 0)."""
    eigenvalues = np.linalg.eigvalsh(_numpy(k_train_train))
    return math.inf if eigenvalues[0] <= 0 else float(eigenvalues[-1] / eigenvalues[0])


def conditioning_guard(k_train_train, what="closed forms") -> list:
    """A note when cond(Θ_0) on the training set exceeds CONDITION_LIMIT, saying what to change."""
    cond = condition_number(k_train_train)
    if cond > CONDITION_LIMIT:
        shown = "∞ (singular)" if math.isinf(cond) else f"{cond:.1e}"
        return [f"Θ_0 on the training set is ill-conditioned (λ_max/λ_min = {shown}): {what} that invert Θ_0 are "
                f"unreliable and the slowest modes barely train. Use fewer or more spread-out training points, a "
                f"larger bias σ_b, or ReLU instead of a smooth activation."]
    return []


def learning_rate_guard(lr: float, converge: float, diverge: float) -> list:
    """Notes for lr in the oscillating window [2N/(λ_min+λ_max), 2N/λ_max) and for lr above divergence."""
    if lr >= diverge:
        return [f"lr = {lr:.4g} ≥ 2N/λ_max = {diverge:.4g}: gradient descent diverges along the top eigenmode "
                f"(|1 − lr λ_max/N| > 1). Lower lr below {diverge:.4g}."]
    if lr > converge * (1 + 1e-9):
        return [f"lr = {lr:.4g} is above the convergence-optimal rate 2N/(λ_min+λ_max) = {converge:.4g} but below "
                f"divergence ({diverge:.4g}): the top modes overshoot (1 − lr λ/N < 0), so expect oscillation."]
    return []


def lr_gauge_html(lr: float, converge: float, diverge: float, scale: float = 1.0) -> str:
    """A small log-scale ruler: where the learning rate sits relative to the two critical rates.  ``scale``:
    rates are shown divided by it (the base rate of the slider is lr / lr_scale)."""
    lr, converge, diverge = lr / scale, converge / scale, diverge / scale
    low, high = math.log10(diverge) - 3, math.log10(diverge) + 1

    def pos(v):
        return 100 * min(1.0, max(0.0, (math.log10(v) - low) / (high - low)))

    def mark(v, color, label, top):
        return (f'<div style="position:absolute;left:{pos(v):.1f}%;top:{top}px;height:14px;border-left:3px solid '
                f'{color}" title="{label}"></div>')

    bar = ('<div style="position:relative;height:30px;width:96%;margin:2px 0 0 2%;">'
           '<div style="position:absolute;top:6px;height:3px;width:100%;background:#ccc"></div>'
           + mark(converge, "#009E73", "2N/(λ_min+λ_max)", 0) + mark(diverge, "#D55E00", "2N/λ_max", 0)
           + f'<div style="position:absolute;left:calc({pos(lr):.1f}% - 6px);top:12px;color:#0072B2">▲</div></div>')
    text = (f'<div style="font-size:11px;line-height:1.4">η = {lr:.3g} = {lr / converge:.3g} η<sub>conv</sub> = '
            f'{lr / diverge:.3g} η<sub>div</sub><br><span style="color:#009E73">▍η<sub>conv</sub> = 2N/(λ<sub>min'
            f'</sub>+λ<sub>max</sub>) = {converge:.3g}</span><br><span style="color:#D55E00">▍η<sub>div</sub> = '
            f'2N/λ<sub>max</sub> = {diverge:.3g}</span></div>')
    return f'<div class="ntk-lr-gauge" style="width:300px">{bar}{text}</div>'


def divergence_status(message: str, lr: float, diverge: float, last_step: int) -> str:
    """The status line of a diverged run: "diverged at step k (lr > 2N/λ_max = …)", then the core's message.

    ``message``: the diverged snapshot's message from ``train_stream`` (it names the step where the loss left
    the threshold; ``last_step``, the last finite snapshot, is the fallback); ``lr``: the rate GD used;
    ``diverge``: 2N/λ_max of Θ_0 on the training set (the stability limit of GD on a quadratic).  Below that rate
    only the network itself can diverge (the linearized model converges): the line then says so instead of
    claiming lr > 2N/λ_max."""
    found = re.search(r"diverged at step (\d+)", message or "")
    step = int(found.group(1)) if found else last_step + 1
    if lr > diverge:
        head = f"diverged at step {step} (lr > 2N/λ_max = {diverge:.4g}; lr = {lr:.4g})"
    else:
        head = (f"diverged at step {step} (lr = {lr:.4g} ≤ 2N/λ_max = {diverge:.4g}: the network left the "
                f"linearized regime)")
    return f"{head}. {message[:1].upper()}{message[1:]}" if message else head
