"""Kernels of a network: the empirical NTK of a finite network, the analytic NNGP/NTK of the infinite-width limit,
and the linearization f^lin whose training the empirical NTK at initialisation governs; the centered
kernel–target alignment."""
from .alignment import centered_alignment, output_trace
from .analytic import AnalyticKernels, analytic_kernels, gaussian_expectations
from .empirical import NTK_METHODS, empirical_ntk
from .jacobian import parameter_jacobian, parameter_names
from .linearize import LinearizedModel, linearize
from .vector_outputs import OutputBlocks, kron_identity, kronecker_error, output_blocks, pseudo_from_full

__all__ = ["empirical_ntk", "NTK_METHODS", "analytic_kernels", "AnalyticKernels", "gaussian_expectations",
           "linearize", "LinearizedModel", "centered_alignment", "output_trace", "parameter_jacobian",
           "parameter_names", "output_blocks", "OutputBlocks", "kron_identity", "kronecker_error", "pseudo_from_full"]
