"""The lazy-training panel on the digits: what its first plot and the images below the figure show, and the data
lines of its reproducing code.  Accuracies and predicted classes come from the core
(``ntk_explorer.experiments.classification_accuracy``, ``ntk_explorer.data.predicted_labels``)."""
from __future__ import annotations

import numpy as np

from ..data import predicted_labels
from ..experiments import classification_accuracy
from ..plots import panels as P
from .lazy_setup import N_EVAL_DIGITS, digit_classes

__all__ = ["digits_traces", "digits_snippet", "THUMBNAILS"]

THUMBNAILS = 8  # misclassified test images shown
EMPTY = np.zeros(0)


def digits_traces(frame) -> tuple:
    """(trace updates of the first subplot, HTML below the figure) for a LazyFrame on the digits: the test
    accuracy of f_t and f^lin_t against the step, the accuracy of the closed-form f^lin at the last step as a
    level line, and up to THUMBNAILS test images that f_t misclassifies at the frame's step (with what f_t and
    f^lin_t say)."""
    h, data, steps = frame.history, frame.setup.data, frame.steps
    empty = dict(x=EMPTY, y=EMPTY)
    traces = {key: (P.series(h["step"], h[name]) if name in h else empty)
              for key, name in (("accuracy", "test_accuracy"), ("accuracy_lin", "test_accuracy_lin"))}
    closed = dict(x=EMPTY, y=EMPTY, name=f"f^lin at step {steps} (closed form)")
    if frame.flin_closed is not None:
        level = classification_accuracy(frame.flin_closed, data.y_eval)
        closed = dict(x=np.array([0.0, steps]), y=np.array([level, level]), name=closed["name"],
                      hovertemplate=f"closed-form f^lin at step {steps}: test accuracy {level:.3f}<extra></extra>")
    said, said_lin = predicted_labels(frame.f, data.classes), predicted_labels(frame.flin, data.classes)
    wrong = np.flatnonzero(said != data.labels_eval)
    shown = wrong[:THUMBNAILS]
    captions = [f"{data.labels_eval[i]} → f: {said[i]}, f^lin: {said_lin[i]}" for i in shown]
    more = f" (the first {len(shown)})" if len(wrong) > len(shown) else ""
    head = (f"<small>Test images that f_t misclassifies at step {frame.step}: {len(wrong)} of {len(said)}{more}; "
            f"f^lin_t misclassifies {int(np.sum(said_lin != data.labels_eval))}.</small>")
    images = P.digit_thumbnails_html(data.images_eval[shown], captions) if len(shown) else ""
    return {"target": empty, "f0": empty, "train": empty, "f": empty, "flin": empty, "flin_closed": closed,
            **traces}, head + images


def digits_snippet(settings) -> str:
    """The data and model lines of the reproducing code for LazySettings on the digits."""
    return (f'data = make_dataset("digits", n_train=s.n, n_eval={N_EVAL_DIGITS}, '
            f"classes={digit_classes(settings.classes)!r}, seed=0)\n"
            "x_train, y_train, x_eval = data.x_train, data.y_train, data.x_eval\n"
            "model = MLP(64, s.width, s.depth, out_dim=data.out_dim, activation=s.activation,\n"
            "            parameterization=s.parameterization, sigma_b=s.bias, seed=s.seed)\n")
