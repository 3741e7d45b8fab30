"""Safe parser for target functions typed by a user, e.g. ``"sin(3*t) + 0.5*cos(t)"``.

The expression is parsed with :mod:`ast` and checked against a whitelist: numbers, the variables ``t``
(the angle on the circle) and ``x1, x2, …`` (input coordinates), the constants ``pi`` and ``e``, the
operators ``+ - * / **`` (unary ``+``/``-`` too) and a fixed set of named numpy functions.  Nothing is
ever passed to ``eval``/``exec``/``compile``: the checked tree is interpreted node by node on float64
numpy arrays.  Length, nesting depth and exponents are bounded so that no input can hang the kernel.
"""
from __future__ import annotations

import ast
import math
import warnings

import numpy as np

__all__ = ["TargetExpression", "parse_target", "MAX_LENGTH", "MAX_DEPTH", "MAX_EXPONENT"]

MAX_LENGTH = 200
MAX_DEPTH = 24
MAX_EXPONENT = 64.0
MAX_COORDINATE = 64

_FUNCTIONS = {
    "sin": np.sin, "cos": np.cos, "tan": np.tan,
    "arcsin": np.arcsin, "arccos": np.arccos, "arctan": np.arctan,
    "sinh": np.sinh, "cosh": np.cosh, "tanh": np.tanh,
    "exp": np.exp, "log": np.log, "log2": np.log2, "log10": np.log10, "sqrt": np.sqrt,
    "abs": np.abs, "sign": np.sign, "floor": np.floor, "ceil": np.ceil,
    "heaviside": lambda z: np.heaviside(z, 0.5),
}
_CONSTANTS = {"pi": math.pi, "e": math.e}
_BINARY = {
    ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.divide,
    ast.Pow: np.power,
}
_UNARY = {ast.UAdd: np.positive, ast.USub: np.negative}


def _is_variable(name: str) -> bool:
    if name == "t":
        return True
    index = name[1:]  # ASCII digits only: str.isdigit also accepts e.g. Arabic-Indic digits
    return (name.startswith("x") and index.isascii() and index.isdigit() and not index.startswith("0")
            and int(index) <= MAX_COORDINATE)


def _uses_variables(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Name) and _is_variable(n.id) for n in ast.walk(node))


class _Checker:
    """Walks the tree once, rejecting everything that is not whitelisted."""

    def __init__(self) -> None:
        self.variables: set[str] = set()

    def check(self, node: ast.AST, depth: int = 0) -> None:
        if depth > MAX_DEPTH:
            raise ValueError(f"expression is nested too deeply (more than {MAX_DEPTH} levels)")
        if isinstance(node, ast.Expression):
            return self.check(node.body, depth + 1)
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                raise ValueError(f"only real numbers are allowed, not {node.value!r}")
            return None
        if isinstance(node, ast.Name):
            return self._check_name(node)
        if isinstance(node, ast.UnaryOp):
            if type(node.op) not in _UNARY:
                raise ValueError("only unary + and - are allowed")
            return self.check(node.operand, depth + 1)
        if isinstance(node, ast.BinOp):
            return self._check_binop(node, depth)
        if isinstance(node, ast.Call):
            return self._check_call(node, depth)
        raise ValueError(f"{type(node).__name__} is not allowed; use numbers, t, x1, x2, …, "
                         "+ - * / ** and named functions")

    def _check_name(self, node: ast.Name) -> None:
        if _is_variable(node.id):
            self.variables.add(node.id)
        elif node.id in _FUNCTIONS:
            raise ValueError(f"function {node.id!r} must be called, e.g. {node.id}(t)")
        elif node.id not in _CONSTANTS:
            raise ValueError(f"unknown name {node.id!r}; allowed variables are t, x1, x2, …, "
                             f"constants {sorted(_CONSTANTS)}")

    def _check_binop(self, node: ast.BinOp, depth: int) -> None:
        if isinstance(node.op, ast.BitXor):
            raise ValueError("'^' is not a power here: write t**2 instead of t^2")
        if type(node.op) not in _BINARY:
            raise ValueError(f"operator {type(node.op).__name__} is not allowed; use + - * / **")
        self.check(node.left, depth + 1)
        self.check(node.right, depth + 1)
        if isinstance(node.op, ast.Pow):
            if _uses_variables(node.right):
                raise ValueError("exponents must be constants (no t or x in an exponent)")
            with np.errstate(all="ignore"):
                exponent = float(_evaluate(node.right, {}))
            if not abs(exponent) <= MAX_EXPONENT:
                raise ValueError(f"exponent {exponent:g} is too large (|exponent| ≤ {MAX_EXPONENT:g})")

    def _check_call(self, node: ast.Call, depth: int) -> None:
        if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS:
            name = node.func.id if isinstance(node.func, ast.Name) else ast.dump(node.func)[:40]
            raise ValueError(f"unknown function {name!r}; allowed: {', '.join(sorted(_FUNCTIONS))}")
        if node.keywords or len(node.args) != 1:
            raise ValueError(f"{node.func.id}() takes exactly one positional argument")
        self.check(node.args[0], depth + 1)


def _evaluate(node: ast.AST, env: dict):
    """Interprets an already checked tree on numpy float64 values."""
    if isinstance(node, ast.Expression):
        return _evaluate(node.body, env)
    if isinstance(node, ast.Constant):
        return np.float64(node.value)
    if isinstance(node, ast.Name):
        return env[node.id] if _is_variable(node.id) else np.float64(_CONSTANTS[node.id])
    if isinstance(node, ast.UnaryOp):
        return _UNARY[type(node.op)](_evaluate(node.operand, env))
    if isinstance(node, ast.BinOp):
        return _BINARY[type(node.op)](_evaluate(node.left, env), _evaluate(node.right, env))
    if isinstance(node, ast.Call):
        return _FUNCTIONS[node.func.id](_evaluate(node.args[0], env))
    raise AssertionError("unchecked node")  # pragma: no cover - the checker rejects it first


class TargetExpression:
    """A parsed, vectorised target function.

    Call it with points ``x`` of shape (N, d) (then ``t = atan2(x2, x1)`` mod 2π for d = 2 and
    ``x_i = x[:, i-1]``), with a 1-D array of angles ``t``, or with keywords ``t=…, x1=…``.  Returns a
    float64 numpy array broadcast to the shape of the inputs.
    """

    def __init__(self, expression: str, tree: ast.Expression, variables: frozenset):
        self.expression = expression
        self.variables = variables
        self._tree = tree

    def __repr__(self) -> str:
        return f"TargetExpression({self.expression!r})"

    def __call__(self, points=None, **variables):
        env = {k: np.asarray(_to_numpy(v), dtype=np.float64) for k, v in variables.items()}
        if points is not None:
            env = {**_variables_from_points(_to_numpy(points)), **env}
        missing = sorted(self.variables - env.keys())
        if missing:
            raise ValueError(f"target {self.expression!r} needs variable(s) {missing}; "
                             f"got {sorted(env)}")
        shape = np.broadcast_shapes(*(np.shape(v) for v in env.values())) if env else ()
        with np.errstate(all="ignore"):
            value = _evaluate(self._tree, env)
        return np.broadcast_to(np.asarray(value, dtype=np.float64), shape).copy()


def _to_numpy(value):
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float64)


def _variables_from_points(points: np.ndarray) -> dict:
    if points.ndim == 1:
        return {"t": points}
    if points.ndim != 2:
        raise ValueError(f"points must have shape (N, d) or be 1-D angles, got shape {points.shape}")
    env = {f"x{i + 1}": points[:, i] for i in range(points.shape[1])}
    if points.shape[1] == 2:
        env["t"] = np.mod(np.arctan2(points[:, 1], points[:, 0]), 2 * np.pi)
    return env


def parse_target(expression: str) -> TargetExpression:
    """Parses a target typed by a user, e.g. ``"sin(3*t) + 0.5*cos(t)"``, into a vectorised callable.

    Allowed: real numbers, variables ``t`` (angle on the circle) and ``x1, x2, …``, constants ``pi``
    and ``e``, ``+ - * / **`` and unary ``±``, and the functions
    sin cos tan arcsin arccos arctan sinh cosh tanh exp log log2 log10 sqrt abs sign floor ceil heaviside.
    Bounds: at most MAX_LENGTH characters, nesting depth MAX_DEPTH, constant exponents with
    |p| ≤ MAX_EXPONENT.  Never uses eval/exec.  Raises ValueError saying what is wrong.
    """
    if not isinstance(expression, str):
        raise TypeError(f"expression must be a str, got {type(expression).__name__}")
    text = str.strip(expression)  # the str method: a str subclass cannot override it
    if not text:
        raise ValueError("expression is empty; type e.g. sin(3*t) + 0.5*cos(t)")
    if len(text) > MAX_LENGTH:
        raise ValueError(f"expression is too long ({len(text)} > {MAX_LENGTH} characters)")
    if "\x00" in text:
        raise ValueError("expression contains a NUL character; remove it")
    try:
        with warnings.catch_warnings():  # e.g. "1in t": a SyntaxWarning becomes a SyntaxError, not console noise
            warnings.simplefilter("error", SyntaxWarning)
            tree = ast.parse(text, mode="eval")
    except SyntaxError as error:
        raise ValueError(f"cannot parse {text!r}: {error.msg} (column {error.offset})") from None
    except (RecursionError, MemoryError):  # the parser's own nesting limits
        raise ValueError(f"expression is nested too deeply (more than {MAX_DEPTH} levels)") from None
    except ValueError as error:  # e.g. a lone surrogate, which cannot be encoded as UTF-8
        raise ValueError(f"cannot parse {text!r}: {type(error).__name__}: {error}") from None
    checker = _Checker()
    checker.check(tree)
    return TargetExpression(text, tree, frozenset(checker.variables))
