"""Kernels of a network: the empirical NTK of a finite network, the analytic NNGP/NTK of the infinite-width limit,
and the linearization f^lin whose training the empirical NTK at initialisation governs; the centered
kernel–target alignment."""
from .alignment import centered_alignment, output_trace
from .analytic import AnalyticKernels, analytic_kernels, gaussian_expectations
from .empirical import NTK_METHODS, empirical_ntk
from .linearize import LinearizedModel, linearize

__all__ = ["empirical_ntk", "NTK_METHODS", "analytic_kernels", "AnalyticKernels", "gaussian_expectations",
           "linearize", "LinearizedModel", "centered_alignment", "output_trace"]
