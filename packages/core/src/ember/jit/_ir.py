"""The lazy graph's nodes and the table of fusible ops (their C expressions).

A :class:`Node` is one deferred op: its name (the core op name, so autograd's
formulas apply unchanged), its arguments (other nodes), its result shape and
dtype, and the dtype it computes in. Leaves are ``input`` nodes over a concrete
array and ``const`` nodes over a Python number. A node that has been computed
keeps its array in ``value`` and is a leaf for every later graph.

C expressions are written per op as functions of the argument expressions (already
cast to the compute type) and the compute type, so the code generator is a table
lookup. Float32 transcendental functions evaluate in double and round once, which
keeps them within an ulp of the correctly rounded value, as core's kernels are.
"""

from __future__ import annotations

import numpy as np

_B, _U8, _I8, _I16, _I32, _I64 = (np.dtype(t) for t in ("?", "u1", "i1", "i2", "i4", "i8"))
F32, F64 = np.dtype(np.float32), np.dtype(np.float64)
CTYPE = {
    _B: "_Bool",
    _U8: "uint8_t",
    _I8: "int8_t",
    _I16: "int16_t",
    _I32: "int32_t",
    _I64: "int64_t",
    F32: "float",
    F64: "double",
}
SUPPORTED = frozenset(CTYPE)
BOOL = _B


class Node:
    """One deferred op (or a leaf). ``args`` are Nodes; ``params`` is hashable."""

    __slots__ = ("op", "args", "shape", "dtype", "cdt", "params", "value", "buf", "ref", "dev")

    def __init__(self, op, args, shape, dtype, cdt=None, params=None, value=None):
        # the CUDA device index of the graph (None: CPU), from the first argument on one;
        # lazy ops never combine arguments on different devices (eager raises for those)
        dev = None
        for a in args:
            if a.dev is not None:
                dev = a.dev
                break
        self.dev = dev
        self.op = op
        self.args = args
        self.shape = shape
        self.dtype = dtype
        self.cdt = dtype if cdt is None else cdt
        self.params = params
        self.value = value  # the computed (or input) array
        self.buf = None  # an array the result must be written into (autograd saved it)
        self.ref = None  # weak reference to the LazyTensor showing this node, if any

    @property
    def is_leaf(self) -> bool:
        return self.value is not None or self.op == "const"

    def __repr__(self) -> str:
        return f"Node({self.op}, {self.shape}, {self.dtype})"


def input_node(a) -> Node:
    """A leaf over array ``a``: numpy (CPU) or a CUDA device array (CuPy's)."""
    n = Node("input", (), tuple(a.shape), a.dtype, value=a)
    if type(a) is not np.ndarray:
        n.dev = a.device.id
    return n


def const_node(v, dt: np.dtype) -> Node:
    return Node("const", (), (), dt, params=v)


# ----- C spelling of values -----
def c_literal(v, dt: np.dtype) -> str:
    ct = CTYPE[dt]
    if dt.kind == "f":
        v = float(v)
        if v != v:
            return f"(({ct})NAN)"
        if v in (float("inf"), float("-inf")):
            return f"(({ct})({'-' if v < 0 else ''}INFINITY))"
        return f"(({ct}){v.hex()})"
    if dt.kind == "b":
        return "((_Bool)1)" if v else "((_Bool)0)"
    return f"(({ct})INT64_C({int(v)}))"


def c_cast(expr: str, src: np.dtype, dst: np.dtype) -> str:
    """``expr`` (of dtype ``src``) as dtype ``dst`` with numpy's conversion results."""
    if src == dst:
        return expr
    ct = CTYPE[dst]
    if dst.kind == "b":
        return f"(({expr}) != 0)"
    if src.kind == "f" and dst.kind in "iu":
        return f"(({ct})jit_f2i((double)({expr})))"
    return f"(({ct})({expr}))"


# ----- op table: name -> C expression builder f(args, ct, dt) -----
def _f(name32: str, name64: str | None = None):
    """A libm function: evaluated in double for float32, rounded once."""
    name64 = name64 or name32

    def build(a, ct, dt):
        if dt == F32:
            return f"((float){name64}((double)({a[0]})))"
        return f"{name64}({a[0]})"

    return build


def _int_or(float_expr, int_expr):
    def build(a, ct, dt):
        return (float_expr if dt.kind == "f" else int_expr).format(*a, ct=ct)

    return build


UNARY_FLOAT = {  # integer inputs compute in the default float dtype
    "exp": lambda a, ct, dt: f"jit_expf32({a[0]})" if dt == F32 else f"jit_exp({a[0]})",
    "exp2": _f("exp2"),
    "expm1": _f("expm1"),
    "log": _f("log"),
    "log2": _f("log2"),
    "log10": _f("log10"),
    "log1p": _f("log1p"),
    "sqrt": lambda a, ct, dt: f"sqrt{'f' if dt == F32 else ''}({a[0]})",
    "rsqrt": lambda a, ct, dt: f"(({ct})1 / sqrt{'f' if dt == F32 else ''}({a[0]}))",
    "sin": _f("sin"),
    "cos": _f("cos"),
    "tan": _f("tan"),
    "asin": _f("asin"),
    "acos": _f("acos"),
    "atan": _f("atan"),
    "sinh": _f("sinh"),
    "cosh": _f("cosh"),
    "tanh": lambda a, ct, dt: f"jit_tanhf32({a[0]})" if dt == F32 else f"tanh({a[0]})",
    "asinh": _f("asinh"),
    "acosh": _f("acosh"),
    "atanh": _f("atanh"),
    "sigmoid": lambda a, ct, dt: f"jit_sigmoidf32({a[0]})" if dt == F32 else f"jit_sigmoid({a[0]})",
    "silu": lambda a, ct, dt: (
        f"(({a[0]}) * jit_sigmoidf32({a[0]}))" if dt == F32 else f"(({a[0]}) * jit_sigmoid({a[0]}))"
    ),
    "erf": _f("erf"),
    "erfc": _f("erfc"),
    "reciprocal": lambda a, ct, dt: f"(({ct})1 / ({a[0]}))",
}
UNARY_SAME = {  # the result keeps the input dtype
    "neg": lambda a, ct, dt: f"(({ct})(-({a[0]})))",
    "abs": _int_or("fabs({0})", "(({ct})(({0}) < 0 ? -({0}) : ({0})))"),
    "sign": _int_or(
        "(({0}) > 0 ? ({ct})1 : (({0}) < 0 ? ({ct})-1 : ({0})))",
        "(({ct})((({0}) > 0) - (({0}) < 0)))",
    ),
    "square": lambda a, ct, dt: f"(({ct})(({a[0]}) * ({a[0]})))",
    "relu": _int_or("((({0}) > 0 || ({0}) != ({0})) ? ({0}) : ({ct})0)", "(({0}) > 0 ? ({0}) : 0)"),
    "floor": _int_or("floor({0})", "({0})"),
    "ceil": _int_or("ceil({0})", "({0})"),
    "round": _int_or("nearbyint({0})", "({0})"),
    "trunc": _int_or("trunc({0})", "({0})"),
    "frac": _int_or("(({0}) - trunc({0}))", "(({ct})0)"),
    "bitwise_not": lambda a, ct, dt: f"(!({a[0]}))" if dt.kind == "b" else f"(({ct})~({a[0]}))",
}
UNARY_PRED = {  # bool results
    "logical_not": lambda a, ct, dt: f"(!({a[0]}))",
    "isnan": _int_or("(({0}) != ({0}))", "0"),
    "isinf": _int_or("(isinf({0}) != 0)", "0"),
    "isfinite": _int_or("(isfinite({0}) != 0)", "1"),
    "isposinf": _int_or("(({0}) == INFINITY)", "0"),
    "isneginf": _int_or("(({0}) == -INFINITY)", "0"),
    "signbit": _int_or("(signbit({0}) != 0)", "(({0}) < 0)"),
}
_FLOAT_ONLY = {"exp2", "expm1"}  # every UNARY_FLOAT op takes float inputs after promotion


def _mx(op: str):
    # numpy's maximum/minimum: NaN in either operand propagates
    def build(a, ct, dt):
        x, y = a
        if dt.kind != "f":
            return f"(({x}) {op} ({y}) ? ({x}) : ({y}))"
        return f"((({x}) {op} ({y}) || ({x}) != ({x})) ? ({x}) : ({y}))"

    return build


def _op2(sym: str):
    return lambda a, ct, dt: f"(({ct})(({a[0]}) {sym} ({a[1]})))"


def _cmp(sym: str):
    return lambda a, ct, dt: f"(({a[0]}) {sym} ({a[1]}))"


def _lib2(name: str):
    def build(a, ct, dt):
        if dt == F32:
            return f"((float){name}((double)({a[0]}), (double)({a[1]})))"
        return f"{name}({a[0]}, {a[1]})"

    return build


BINARY = {  # name -> (builder, int_to_float, bool result, dtype kinds it accepts)
    "add": (_op2("+"), False, False, "biuf"),
    "sub": (_op2("-"), False, False, "iuf"),
    "mul": (_op2("*"), False, False, "biuf"),
    "div": (_op2("/"), True, False, "f"),
    "pow": (_lib2("pow"), False, False, "f"),
    "maximum": (_mx(">"), False, False, "biuf"),
    "minimum": (_mx("<"), False, False, "biuf"),
    "fmax": (_lib2("fmax"), False, False, "f"),
    "fmin": (_lib2("fmin"), False, False, "f"),
    "atan2": (_lib2("atan2"), True, False, "f"),
    "hypot": (_lib2("hypot"), True, False, "f"),
    "copysign": (_lib2("copysign"), True, False, "f"),
    "fmod": (_lib2("fmod"), False, False, "f"),
    "remainder": (_lib2("jit_remainder"), False, False, "f"),
    "floor_divide": (_lib2("jit_floordiv"), False, False, "f"),
    "eq": (_cmp("=="), False, True, "biuf"),
    "ne": (_cmp("!="), False, True, "biuf"),
    "lt": (_cmp("<"), False, True, "biuf"),
    "le": (_cmp("<="), False, True, "biuf"),
    "gt": (_cmp(">"), False, True, "biuf"),
    "ge": (_cmp(">="), False, True, "biuf"),
    "logical_and": (lambda a, ct, dt: f"(({a[0]}) != 0 && ({a[1]}) != 0)", False, True, "biuf"),
    "logical_or": (lambda a, ct, dt: f"(({a[0]}) != 0 || ({a[1]}) != 0)", False, True, "biuf"),
    "logical_xor": (lambda a, ct, dt: f"((({a[0]}) != 0) != (({a[1]}) != 0))", False, True, "biuf"),
    "bitwise_and": (_op2("&"), False, False, "biu"),
    "bitwise_or": (_op2("|"), False, False, "biu"),
    "bitwise_xor": (_op2("^"), False, False, "biu"),
}
REDUCTIONS = ("sum", "mean", "amax", "amin")


def expr(node: Node, a: list[str]) -> str:
    """The C expression computing ``node`` from its arguments' expressions ``a`` (each
    already converted to ``node.cdt``)."""
    op, ct, dt = node.op, CTYPE[node.cdt], node.cdt
    if op in UNARY_FLOAT:
        return UNARY_FLOAT[op](a, ct, dt)
    if op in UNARY_SAME:
        return UNARY_SAME[op](a, ct, dt)
    if op in UNARY_PRED:
        return UNARY_PRED[op](a, ct, dt)
    if op in BINARY:
        return BINARY[op][0](a, ct, dt)
    if op == "where":
        return f"(({a[0]}) ? ({a[1]}) : ({a[2]}))"
    if op == "clamp":
        has_lo, has_hi = node.params
        x, rest = a[0], list(a[1:])
        if has_lo:
            x = _mx(">")([x, rest.pop(0)], ct, dt)
        if has_hi:
            x = _mx("<")([x, rest.pop(0)], ct, dt)
        return x
    if op in ("to_dtype", "expand"):
        return a[0]  # a cast (of the argument to cdt) or a broadcast (by the index math)
    raise KeyError(op)


def arg_dtype(node: Node, i: int) -> np.dtype:
    """The dtype argument ``i`` of ``node`` is converted to before the op runs."""
    if node.op == "where" and i == 0:
        return BOOL
    return node.cdt


_DIVMOD_C = r"""
/* numpy's float remainder and floor division (the result takes the divisor's sign). */
JIT_FN double jit_remainder(double a, double b) {
    double m = fmod(a, b);
    if (b == 0) return m;
    if (m != 0) { if ((b < 0) != (m < 0)) m += b; }
    else m = copysign(0.0, b);
    return m;
}
JIT_FN double jit_floordiv(double a, double b) {
    if (b == 0) return a / b;
    double m = fmod(a, b), d = (a - m) / b;
    if (m != 0 && ((b < 0) != (m < 0))) d -= 1.0;
    if (d == 0) return copysign(0.0, a / b);
    double f = floor(d);
    return d - f > 0.5 ? f + 1.0 : f;
}
"""


def divmod_c(qualifier: str) -> str:
    """numpy's float remainder and floor division in C, each function declared with
    ``qualifier`` (the CPU and CUDA preludes share them)."""
    return _DIVMOD_C.replace("JIT_FN", qualifier)


PRELUDE = r"""
#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

/* libgomp's pool does not survive fork: a forked child runs kernels on one thread. */
static volatile int jit_forked = 0;
static void jit_on_fork(void) { jit_forked = 1; }
__attribute__((constructor)) static void jit_atfork(void) { pthread_atfork(0, 0, jit_on_fork); }

#define JIT_INLINE static inline __attribute__((always_inline))
JIT_INLINE double jit_dbits(uint64_t u) { double d; memcpy(&d, &u, 8); return d; }
JIT_INLINE uint64_t jit_ubits(double d) { uint64_t u; memcpy(&u, &d, 8); return u; }

/* exp(x) in double, branch-free so loops calling it vectorize. Range reduction
 * x = k ln2 + r with |r| <= ln2/2, a Taylor polynomial for exp(r) (degree 13: ~1 ulp of
 * double; degree 8: 2e-10 relative, for results rounded to float32), and the scale 2^k
 * applied as two factors so subnormal results stay exact. */
JIT_INLINE double jit_exp_deg(double x, int deg) {
    double xc = x > 709.8 ? 709.8 : (x < -745.2 ? -745.2 : x);
    const double shift = 0x1.8p52;
    double kd = fma(xc, 1.4426950408889634, shift);
    int64_t k = (int64_t)(jit_ubits(kd) - jit_ubits(shift));
    kd -= shift;
    double r = fma(-kd, 1.90821492927058770002e-10, fma(-kd, 6.93147180369123816490e-01, xc));
    double p;
    if (deg == 13) {
        p = 1.0 / 6227020800.0;
        p = fma(p, r, 1.0 / 479001600.0); p = fma(p, r, 1.0 / 39916800.0);
        p = fma(p, r, 1.0 / 3628800.0); p = fma(p, r, 1.0 / 362880.0);
        p = fma(p, r, 1.0 / 40320.0);
    } else {
        p = 1.0 / 40320.0;
    }
    p = fma(p, r, 1.0 / 5040.0); p = fma(p, r, 1.0 / 720.0); p = fma(p, r, 1.0 / 120.0);
    p = fma(p, r, 1.0 / 24.0); p = fma(p, r, 1.0 / 6.0); p = fma(p, r, 0.5);
    p = fma(p, r, 1.0); p = fma(p, r, 1.0);
    int64_t k1 = k >> 1, k2 = k - k1;
    double y = p * jit_dbits((uint64_t)(k1 + 1023) << 52) * jit_dbits((uint64_t)(k2 + 1023) << 52);
    y = x > 709.782712893384 ? INFINITY : y;
    y = x < -745.1332191019412 ? 0.0 : y;
    return x != x ? x : y;
}
JIT_INLINE double jit_exp(double x) { return jit_exp_deg(x, 13); }
/* float32 versions in float arithmetic (16 lanes per AVX-512 vector instead of 8), each
 * within a few ulp of the correctly rounded result. exp: k = round(x / ln2), r = x - k ln2
 * with ln2 split so k * hi is exact, a degree-7 Taylor polynomial (truncation 5e-9 on
 * |r| <= ln2/2), 2^k applied as two factors so subnormal results come out right. */
JIT_INLINE float jit_fbits(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
JIT_INLINE float jit_expf32(float x) {
    float xc = x > 88.8f ? 88.8f : (x < -104.0f ? -104.0f : x);
    float kf = rintf(xc * 1.44269504088896341f);
    float r = fmaf(-kf, 0x1.62e4p-1f, xc);
    r = fmaf(-kf, 1.42860682030941723212e-06f, r);
    float p = 1.0f / 5040.0f;
    p = fmaf(p, r, 1.0f / 720.0f); p = fmaf(p, r, 1.0f / 120.0f); p = fmaf(p, r, 1.0f / 24.0f);
    p = fmaf(p, r, 1.0f / 6.0f); p = fmaf(p, r, 0.5f); p = fmaf(p, r, 1.0f);
    p = fmaf(p, r, 1.0f);
    int32_t k = (int32_t)kf, k1 = k >> 1, k2 = k - k1;
    float y = p * jit_fbits((uint32_t)(k1 + 127) << 23) * jit_fbits((uint32_t)(k2 + 127) << 23);
    y = x > 88.72283935546875f ? INFINITY : y;
    y = x < -103.97208404541015625f ? 0.0f : y;
    return x != x ? x : y;
}
/* tanh: the odd Taylor series to x^15 below |x| = 0.5 (truncation < 1e-8 relative), else
 * 1 - 2 / (e^{2|x|} + 1), saturated past |x| = 9 where tanh rounds to 1. */
JIT_INLINE float jit_tanhf32(float x) {
    float ax = fabsf(x), x2 = x * x;
    float e = jit_expf32(2.0f * (ax < 9.0f ? ax : 9.0f));
    float big = 1.0f - 2.0f / (e + 1.0f);
    float p = -929569.0f / 638512875.0f;
    p = fmaf(p, x2, 21844.0f / 6081075.0f); p = fmaf(p, x2, -1382.0f / 155925.0f);
    p = fmaf(p, x2, 62.0f / 2835.0f); p = fmaf(p, x2, -17.0f / 315.0f);
    p = fmaf(p, x2, 2.0f / 15.0f); p = fmaf(p, x2, -1.0f / 3.0f);
    float small = fmaf(ax * x2, p, ax);
    float t = ax < 0.5f ? small : big;
    t = x != x ? x : t;
    return copysignf(t, x);
}
JIT_INLINE float jit_sigmoidf32(float x) {
    float e = jit_expf32(-fabsf(x));
    float s = x >= 0 ? 1.0f / (1.0f + e) : e / (1.0f + e);
    return x != x ? x : s;
}
JIT_INLINE double jit_sigmoid_deg(double x, int deg) {
    double e = jit_exp_deg(-fabs(x), deg);
    double s = x >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
    return x != x ? x : s;
}
JIT_INLINE double jit_sigmoid(double x) { return jit_sigmoid_deg(x, 13); }
JIT_INLINE int64_t jit_f2i(double v) {
    if (v != v || v >= 0x1p63 || v < -0x1p63) return INT64_MIN;
    return (int64_t)v;
}
""" + divmod_c("JIT_INLINE")
