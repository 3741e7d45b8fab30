"""The :class:`Dataset` every lesson, panel and experiment trains on (generated or shipped, never downloaded)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

__all__ = ["Dataset"]


@dataclass(frozen=True, eq=False)
class Dataset:
    """Train/eval data: x_* float64 tensors (N, d); y_* tensors (N,) (regression values or ±1 labels) or (N, k)
    (one-hot rows of k ≥ 3 classes).  Only y_train carries label noise or flips; y_eval is the clean target.

    ``t_train``/``t_eval``: the angles on the circle (None on other domains).  Classification sets also carry
    ``classes`` (the label of y = +1 then of y = −1 for one output, the label of each one-hot column for k
    outputs), ``labels_train``/``labels_eval`` (int64 arrays (N,) of those labels, after any flips) and, for
    image data, ``images_train``/``images_eval`` (the raw pixels, e.g. uint8 (N, 8, 8) for the digits, for heat
    maps of chosen points).  Regression sets leave them None."""
    domain: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_eval: torch.Tensor
    y_eval: torch.Tensor
    t_train: Optional[torch.Tensor] = None
    t_eval: Optional[torch.Tensor] = None
    classes: Optional[tuple] = None
    labels_train: Optional[np.ndarray] = None
    labels_eval: Optional[np.ndarray] = None
    images_train: Optional[np.ndarray] = None
    images_eval: Optional[np.ndarray] = None

    @property
    def in_dim(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def out_dim(self) -> int:
        """Number of network outputs the targets need: 1 for (N,) targets, k for (N, k)."""
        return 1 if self.y_train.ndim == 1 else int(self.y_train.shape[1])

    @property
    def is_classification(self) -> bool:
        return self.classes is not None
