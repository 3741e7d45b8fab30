"""Finite input domains with a uniform measure, and a kernel's eigensystem on them.

Simon et al. 2021 treat the whole input space as a finite set X of M points
with the uniform measure and the inner product ⟨f, g⟩ = (1/M) Σ_x f(x) g(x). A kernel K is
then the operator (K/M) acting on functions on X; its eigenfunctions are orthonormal under that inner product
and K(x, x') = Σ_i λ_i φ_i(x) φ_i(x') (Mercer's theorem, here the spectral theorem).

Domains: `circle(M)` (M equally spaced points on the unit circle; Fourier modes indexed by frequency),
`hypercube(d)` ({−1, 1}^d / sqrt(d); Walsh monomials indexed by degree) and `points(x)` (any finite sample; the
eigenvectors of K/M, indexed by rank). On the two symmetric domains a kernel that depends only on x·x' is
diagonalised by the known family, so `eigensystem` projects onto it instead of sorting eigenvalues: eigenvalues
need not decrease with frequency or degree.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import torch

MAX_HYPERCUBE_DIM = 12
SYMMETRY_TOL = 1e-8


class Domain:
    """Base class of the domains (``circle``, ``hypercube``, ``points``): the points `x` (M, d), the family basis and the kernel matrices."""

    family_name = "index"

    @property
    def M(self) -> int:
        return int(self.x.shape[0])

    @property
    def dim(self) -> int:
        return int(self.x.shape[1])

    def analytic_kernel(self, *, depth, activation="relu", sigma_w=1.0, sigma_b=0.0, kind="ntk"):
        """(M, M) infinite-width kernel of `ntk_explorer.kernels.analytic_kernels` on the domain points.

        kind: "ntk" (Jacot et al. 2018, Theorem 1) or "nngp" (their Proposition 1).
        """
        if kind not in ("ntk", "nngp"):
            raise ValueError(f"kind must be 'ntk' or 'nngp', got {kind!r}")
        from ..kernels import analytic_kernels

        kernels = analytic_kernels(self.x, depth=depth, activation=activation, sigma_w=sigma_w, sigma_b=sigma_b)
        return getattr(kernels, kind)

    def empirical_ntk(self, model, method="auto"):
        """(M, M) empirical NTK Θ̂(x, x') of a scalar-output `model` on the domain points (on its device)."""
        from ..kernels import empirical_ntk

        param = next(model.parameters())
        x = self.x.to(device=param.device, dtype=param.dtype)
        K = empirical_ntk(model, x, method=method)
        if K.dim() != 2:
            raise ValueError("model must have a scalar output (out_dim=1) for a domain kernel matrix")
        return K

    def basis(self, device=None):
        """(Φ, family): Φ[x, i] = φ_i(x) for the domain's natural family, orthonormal: Φᵀ Φ / M = I."""
        raise NotImplementedError


@dataclass(frozen=True)
class Circle(Domain):
    """M equally spaced points x_j = (cos θ_j, sin θ_j), θ_j = 2πj/M, on the unit circle."""

    size: int
    family_name = "frequency"

    @cached_property
    def theta(self) -> torch.Tensor:
        return 2 * math.pi * torch.arange(self.size, dtype=torch.float64) / self.size

    @cached_property
    def x(self) -> torch.Tensor:
        return torch.stack([torch.cos(self.theta), torch.sin(self.theta)], dim=1)

    def basis(self, device=None):
        """Real Fourier basis: 1, sqrt(2) cos kθ, sqrt(2) sin kθ (0 < k < M/2) and cos(πj) for k = M/2 (M even)."""
        M, theta = self.size, self.theta
        columns, family = [torch.ones(M, dtype=torch.float64)], [0]
        for k in range(1, M // 2 + 1):
            if 2 * k == M:
                columns.append(torch.cos(k * theta))
                family.append(k)
            else:
                columns += [math.sqrt(2) * torch.cos(k * theta), math.sqrt(2) * torch.sin(k * theta)]
                family += [k, k]
        return torch.stack(columns, 1).to(device), torch.tensor(family, device=device)


@dataclass(frozen=True)
class Hypercube(Domain):
    """The M = 2^d points {−1, 1}^d / sqrt(d) (unit norm); point a has coordinate j = (1 − 2·bit_j(a)) / sqrt(d)."""

    d: int
    family_name = "degree"

    @cached_property
    def bits(self) -> torch.Tensor:
        a = torch.arange(2**self.d)
        return (a[:, None] >> torch.arange(self.d)) & 1

    @cached_property
    def x(self) -> torch.Tensor:
        return (1 - 2 * self.bits).to(torch.float64) / math.sqrt(self.d)

    def basis(self, device=None):
        """Walsh monomials χ_S(x) = Π_{j∈S} sqrt(d) x_j = (−1)^{popcount(a & S)}, ordered by degree |S|, then S."""
        M = 2**self.d
        subsets = torch.arange(M)
        degree = self.bits.sum(1)  # popcount of each integer, used here for the subsets S
        order = torch.argsort(degree * M + subsets)
        parity = (self.bits.to(torch.float64) @ self.bits[order].T.to(torch.float64)) % 2
        return (1 - 2 * parity).to(device), degree[order].to(device)


@dataclass(frozen=True, eq=False)
class Points(Domain):
    """Any finite sample x (M, d) with the uniform measure; no symmetry, eigenfunctions indexed by rank."""

    x: torch.Tensor
    family_name = "rank"


def circle(M: int) -> Circle:
    """M ≥ 2 equally spaced points on the unit circle (Fourier modes indexed by frequency)."""
    if isinstance(M, bool) or not isinstance(M, (int, np.integer)) or M < 2:
        raise ValueError(f"M must be an integer ≥ 2, got {M!r}")
    return Circle(int(M))


def hypercube(d: int) -> Hypercube:
    """The hypercube {−1, 1}^d / sqrt(d), M = 2^d points (Walsh monomials indexed by degree), 1 ≤ d ≤ 12."""
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or not 1 <= d <= MAX_HYPERCUBE_DIM:
        raise ValueError(f"d must be an integer in [1, {MAX_HYPERCUBE_DIM}] (M = 2^d points), got {d!r}")
    return Hypercube(int(d))


def points(x) -> Points:
    """A finite sample x of shape (M, d) (tensor or array) as a domain with the uniform measure."""
    x = torch.as_tensor(x)
    if x.dim() != 2 or x.shape[0] < 1:
        raise ValueError(f"x must have shape (M, d) with M ≥ 1, got {tuple(x.shape)}")
    if not torch.is_floating_point(x) or not torch.isfinite(x).all():
        raise ValueError("x must hold finite floating-point values")
    return Points(x.detach().to(torch.float64))


def as_kernel_matrix(K, M=None, name="K") -> torch.Tensor:
    """K as a float64 torch tensor (keeping its device); checks shape (M, M), finiteness and symmetry."""
    K = torch.as_tensor(K).detach()
    if K.dim() != 2 or K.shape[0] != K.shape[1]:
        raise ValueError(f"{name} must be a square (M, M) kernel matrix, got shape {tuple(K.shape)}")
    if M is not None and K.shape[0] != M:
        raise ValueError(f"{name} has {K.shape[0]} rows but the domain has M = {M} points")
    K = K.to(torch.float64)
    if not torch.isfinite(K).all():
        raise ValueError(f"{name} contains non-finite entries")
    scale = K.abs().max().clamp_min(1e-300)
    if (K - K.T).abs().max() > 1e-8 * scale:
        raise ValueError(f"{name} must be symmetric (a kernel matrix K(x_i, x_j))")
    return K


@dataclass(frozen=True, eq=False)
class EigenSystem:
    """Eigensystem of the operator K/M on a domain (Simon et al. 2021): (K/M) φ_i = λ_i φ_i, ⟨φ_i, φ_j⟩ = δ_ij.

    eigenvalues[i], eigenfunctions[:, i] = φ_i on domain.x (so eigenfunctionsᵀ eigenfunctions / M = I) and
    family[i] (frequency, degree or rank). levels / level_eigenvalues / multiplicities group them by family
    index. residual: relative size of ‖(K/M)Φ − ΦΛ‖_F; near 0 when the family basis diagonalises K.
    """

    domain: Domain
    eigenvalues: torch.Tensor
    eigenfunctions: torch.Tensor
    family: torch.Tensor
    levels: torch.Tensor = field(repr=False)
    level_eigenvalues: torch.Tensor = field(repr=False)
    multiplicities: torch.Tensor = field(repr=False)
    residual: float = 0.0

    def coefficients(self, f) -> torch.Tensor:
        """Coefficients v_i = ⟨φ_i, f⟩ of f (M,) or (M, T) values on the domain."""
        f = torch.as_tensor(f, dtype=torch.float64, device=self.eigenfunctions.device)
        if f.shape[0] != self.domain.M:
            raise ValueError(f"f must have M = {self.domain.M} rows (values on the domain), got {tuple(f.shape)}")
        return self.eigenfunctions.T @ f / self.domain.M

    def level_power(self, f) -> torch.Tensor:
        """Σ_{i in level} v_i² for each level: the target power per family index, for `predicted_mse`."""
        v2 = self.coefficients(f) ** 2
        index = torch.searchsorted(self.levels, self.family)
        return torch.zeros((len(self.levels),) + v2.shape[1:], dtype=v2.dtype, device=v2.device).index_add_(
            0, index, v2
        )


def check_domain(domain) -> Domain:
    """``domain`` unchanged if it is a :class:`Domain` (made by ``circle``, ``hypercube`` or ``points``), else
    TypeError."""
    if not isinstance(domain, Domain):
        raise TypeError(f"domain must come from circle(M), hypercube(d) or points(x), got {type(domain).__name__}")
    return domain


def eigensystem(K, domain: Domain) -> EigenSystem:
    """Eigenvalues of K/M and orthonormal eigenfunctions on `domain` (Simon et al. 2021).

    circle / hypercube: each eigenvalue is the Rayleigh quotient λ_i = ⟨φ_i, (K/M) φ_i⟩ of the family function
    φ_i (Fourier mode / Walsh monomial), exact when K depends only on x·x'; eigenfunctions are sorted by family
    index, never by eigenvalue. A RuntimeWarning is raised when the family does not diagonalise K (relative
    residual > 1e-8); use `eigensystem(K, points(domain.x))` for an exact eigendecomposition then.
    points: eigendecomposition of K/M, eigenvalues descending, family = rank, each eigenvector's largest entry
    made positive.
    """
    M = check_domain(domain).M
    K = as_kernel_matrix(K, M)
    if isinstance(domain, Points):
        evals, U = torch.linalg.eigh(K / M)
        evals, U = evals.flip(0), U.flip(1)
        signs = torch.sign(U.gather(0, U.abs().argmax(0, keepdim=True)))
        phi = U * signs * math.sqrt(M)
        family = torch.arange(M, device=K.device)
        residual = 0.0
    else:
        phi, family = domain.basis(device=K.device)
        K_phi = K @ phi / M
        evals = (phi * K_phi).sum(0) / M
        residual = float(torch.linalg.norm(K_phi - phi * evals) / torch.linalg.norm(K_phi).clamp_min(1e-300))
        if residual > SYMMETRY_TOL:
            warnings.warn(
                f"the {domain.family_name} basis does not diagonalise K (relative residual {residual:.2e}); "
                "eigenvalues are Rayleigh quotients. Use eigensystem(K, points(domain.x)) for exact ones.",
                RuntimeWarning,
                stacklevel=2,
            )
    levels, index, multiplicities = torch.unique(family, return_inverse=True, return_counts=True)
    level_sum = torch.zeros(len(levels), dtype=torch.float64, device=K.device).index_add_(0, index, evals)
    return EigenSystem(domain, evals, phi, family, levels, level_sum / multiplicities, multiplicities, residual)
