"""The configuration of a lesson experiment (data, network, GD) and the argument checks shared by sweeps and
ensembles.

Learning rates: :class:`ExperimentConfig` holds a *base* rate ``lr``; every network is trained with
``model.scaled_lr(lr)`` (the convention is documented once, in ``ntk_explorer.models``).
"""
from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, fields
from typing import Optional

import numpy as np

from ..data import DATASETS, Dataset, check_classes, make_dataset
from ..dynamics.losses import LOSSES
from ..models import MLP, MLPConfig, default_device
from ..validation import check_count, check_device, check_finite_number, check_seed

__all__ = ["ExperimentConfig", "as_config", "check_seeds", "check_widths", "config_device", "interactive",
           "progress_bar"]


@dataclass(frozen=True)
class ExperimentConfig:
    """A lesson experiment: data (``ntk_explorer.data.make_dataset``), an MLP and GD with MSE.
    ``lr`` is the base learning rate: networks train with ``model.scaled_lr(lr)``.  domain="digits" uses the shipped
    8×8 digits of ``classes`` (default (3, 8)): in_dim 64, one output for two classes (±1 targets) and k
    outputs for k classes (one-hot targets); target, dim and noise do not apply to it."""
    width: int = 512
    depth: int = 2
    activation: str = "relu"
    parameterization: str = "ntk"
    sigma_w: float = 1.0
    sigma_b: float = 0.0
    domain: str = "circle"
    target: str = "sin(3*t)"
    dim: Optional[int] = None
    n_train: int = 32
    n_eval: int = 128
    noise: float = 0.0
    data_seed: int = 0
    lr: float = 1.0
    steps: int = 1000
    loss: str = "mse"
    record_every: int = 10
    kernel_every: Optional[int] = 10
    output_scale: float = 1.0
    device: Optional[str] = None
    classes: Optional[tuple] = None

    def __post_init__(self):
        if self.domain not in DATASETS:
            raise ValueError(f"domain must be one of {DATASETS}, got {self.domain!r}")
        if self.dim is not None:
            check_count("dim", self.dim)
        if self.domain == "digits":
            if self.classes is not None:
                object.__setattr__(self, "classes", check_classes(self.classes))
            if self.dim not in (None, 64) or self.noise:
                raise ValueError("dim and noise do not apply to the digits (64 pixels, labels without noise)")
        elif self.classes is not None:
            raise ValueError("classes chooses digits: it applies to domain='digits' only")
        MLPConfig(self.in_dim, self.width, self.depth, self.out_dim, self.activation, self.parameterization,
                  self.sigma_w, self.sigma_b)  # validates the network's fields
        if not (isinstance(self.target, str) or callable(self.target)):  # an expression is parsed by dataset()
            raise TypeError(f"target must be an expression string or a callable, got {type(self.target).__name__}")
        for name, minimum in (("n_train", 1), ("n_eval", 1), ("steps", 0), ("record_every", 1)):
            check_count(name, getattr(self, name), minimum)
        if self.kernel_every is not None:
            check_count("kernel_every", self.kernel_every)
        check_finite_number(self.lr, "lr", minimum=0, strict=True)
        check_finite_number(self.output_scale, "output_scale", minimum=0, strict=True)
        check_finite_number(self.noise, "noise", minimum=0)
        check_seed(self.data_seed, "data_seed")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        if self.device is not None:
            check_device(self.device)

    @property
    def in_dim(self) -> int:
        if self.domain in ("circle", "digits"):
            return 2 if self.domain == "circle" else 64
        return self.dim if self.dim is not None else (3 if self.domain == "sphere" else 6)

    @property
    def out_dim(self) -> int:
        """Network outputs: 1, or k for the digits of k ≥ 3 classes (one-hot targets)."""
        if self.domain != "digits" or self.classes is None:
            return 1
        return 1 if len(self.classes) == 2 else len(self.classes)

    def dataset(self) -> Dataset:
        if self.domain == "digits":
            return make_dataset("digits", n_train=self.n_train, n_eval=self.n_eval, classes=self.classes,
                                seed=self.data_seed, device=self.device)
        return make_dataset(self.domain, n_train=self.n_train, n_eval=self.n_eval, target=self.target,
                            dim=self.dim, noise=self.noise, seed=self.data_seed, device=self.device,
                            classification=self.loss == "cross_entropy")

    def model(self, seed: int, width: Optional[int] = None) -> MLP:
        return MLP(self.in_dim, self.width if width is None else width, self.depth, out_dim=self.out_dim,
                   activation=self.activation, parameterization=self.parameterization, sigma_w=self.sigma_w,
                   sigma_b=self.sigma_b, seed=seed, device=self.device)


def as_config(config, **overrides) -> ExperimentConfig:
    if isinstance(config, dict):
        config = {**config, **overrides}
        unknown = set(config) - {f.name for f in fields(ExperimentConfig)}
        if unknown:
            raise TypeError(f"unknown config keys {sorted(unknown)}; see ExperimentConfig")
        return ExperimentConfig(**config)
    if not isinstance(config, ExperimentConfig):
        raise TypeError(f"config must be an ExperimentConfig or a dict, got {type(config).__name__}")
    return ExperimentConfig(**{**asdict(config), **overrides})


def check_seeds(seeds) -> tuple:
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, (bool, np.bool_)):
        seeds = tuple(range(int(seeds)))
    elif isinstance(seeds, (str, bytes, bool, np.bool_)) or not hasattr(seeds, "__iter__"):
        raise TypeError(f"seeds must be a count or a list of integers ≥ 0, got {type(seeds).__name__} {seeds!r}"[:200])
    else:
        seeds = tuple(check_seed(s, "seeds") for s in seeds)
    if not seeds:
        raise ValueError("seeds must be a positive count or a non-empty list of integers")
    return seeds


def check_widths(widths) -> np.ndarray:
    if isinstance(widths, (str, bytes)) or not hasattr(widths, "__iter__"):
        raise TypeError(f"widths must be a list of positive integers, got {type(widths).__name__}")
    widths = list(widths)
    bad = [w for w in widths if isinstance(w, (bool, np.bool_)) or not isinstance(w, (int, np.integer)) or w < 1]
    if not widths or bad:
        raise ValueError(f"widths must be a non-empty list of positive integers, got {widths!r}"[:200])
    return np.asarray(sorted({int(w) for w in widths}))


def config_device(config: ExperimentConfig):
    return check_device(config.device) if config.device is not None else default_device()


def interactive() -> bool:
    return hasattr(sys, "ps1") or "ipykernel" in sys.modules or sys.stderr.isatty()


def progress_bar(iterable, *, total: int, desc: str):
    """``iterable`` wrapped in a tqdm progress bar.  tqdm.auto is imported here, on demand, because in a notebook
    it brings in ipywidgets: importing the core never imports it, only asking for a bar does."""
    from tqdm.auto import tqdm
    return tqdm(iterable, total=total, desc=desc)
