"""Eight-lane float32 vectors for numba kernels (LLVM ``<8 x float>``), and bit helpers.

numba vectorizes simple loops by itself, but not a sum whose accumulator should stay in
registers across a loop over a varying list of rows. These intrinsics write that loop
directly: ``vload``/``vstore`` move eight consecutive floats of a 1-D C-contiguous float32
array, and ``vadd``, ``vsub``, ``vmul`` work lane by lane with the same IEEE rounding as
the scalar operations (no fused multiply-add, no reassociation), so a vector kernel gives
the same bits as the scalar loop it replaces. Imported only where numba is installed.
"""
from __future__ import annotations

from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic, models, register_model

LANES = 8
_VEC = ir.VectorType(ir.FloatType(), LANES)


class F32x8(types.Type):
    """Eight float32 lanes held in one SIMD register."""

    def __init__(self) -> None:
        super().__init__(name="F32x8")


f32x8 = F32x8()


@register_model(F32x8)
class _F32x8Model(models.PrimitiveModel):
    def __init__(self, dmm, fe_type) -> None:
        super().__init__(dmm, fe_type, _VEC)


def _is_f32_vector_array(arr) -> bool:
    return isinstance(arr, types.Array) and arr.ndim == 1 and arr.layout == "C" and arr.dtype == types.float32


def _lanes_ptr(context, builder, aryty, ary, index):
    data = context.make_array(aryty)(context, builder, ary).data
    return builder.bitcast(builder.gep(data, [index]), _VEC.as_pointer())


@intrinsic
def vload(typingctx, arr, index):
    """arr[index:index + 8] (no bounds check)."""
    if not (_is_f32_vector_array(arr) and isinstance(index, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        return builder.load(_lanes_ptr(context, builder, sig.args[0], args[0], args[1]), align=4)
    return f32x8(arr, index), codegen


@intrinsic
def vstore(typingctx, arr, index, value):
    """arr[index:index + 8] = value (no bounds check)."""
    if not (_is_f32_vector_array(arr) and isinstance(index, types.Integer) and value == f32x8):
        return None

    def codegen(context, builder, sig, args):
        builder.store(args[2], _lanes_ptr(context, builder, sig.args[0], args[0], args[1]), align=4)
        return context.get_dummy_value()
    return types.none(arr, index, value), codegen


def _binary(op):
    @intrinsic
    def fn(typingctx, a, b):
        if not (a == f32x8 and b == f32x8):
            return None

        def codegen(context, builder, sig, args):
            return getattr(builder, op)(args[0], args[1])
        return f32x8(a, b), codegen
    return fn


vadd, vsub, vmul = _binary("fadd"), _binary("fsub"), _binary("fmul")
vadd.__doc__, vsub.__doc__, vmul.__doc__ = "a + b, lane by lane.", "a - b, lane by lane.", "a * b, lane by lane."


@intrinsic
def vsplat(typingctx, x):
    """x (a float32) in every lane."""
    if x != types.float32:
        return None

    def codegen(context, builder, sig, args):
        vec = builder.insert_element(ir.Constant(_VEC, ir.Undefined), args[0], ir.Constant(ir.IntType(32), 0))
        return builder.shuffle_vector(vec, vec, ir.Constant(ir.VectorType(ir.IntType(32), LANES), [0] * LANES))
    return f32x8(x), codegen


@intrinsic
def vgreater(typingctx, a, b):
    """1.0 where a > b, else 0.0 (0.0 where either is NaN), lane by lane."""
    if not (a == f32x8 and b == f32x8):
        return None

    def codegen(context, builder, sig, args):
        above = builder.fcmp_ordered(">", args[0], args[1])
        return builder.select(above, ir.Constant(_VEC, [1.0] * LANES), ir.Constant(_VEC, [0.0] * LANES))
    return f32x8(a, b), codegen


@intrinsic
def vbits(typingctx, a):
    """A uint64 with bit u set where lane u is not 0.0."""
    if a != f32x8:
        return None

    def codegen(context, builder, sig, args):
        nonzero = builder.fcmp_unordered("!=", args[0], ir.Constant(_VEC, [0.0] * LANES))
        return builder.zext(builder.bitcast(nonzero, ir.IntType(LANES)), ir.IntType(64))
    return types.uint64(a), codegen


@intrinsic
def lowest_bit(typingctx, x):
    """The index of the lowest set bit of a non-zero uint64 (count trailing zeros)."""
    if x != types.uint64:
        return None

    def codegen(context, builder, sig, args):
        return builder.cttz(args[0], ir.Constant(ir.IntType(1), 0))
    return types.uint64(x), codegen


@intrinsic
def stack_floats(typingctx, n):
    """A pointer to ``n`` (a compile-time constant) float32 on the stack: wrap it with
    ``numba.carray``. A stack buffer never aliases an argument, and one read and written
    only at constant offsets lives in registers."""
    if not isinstance(n, types.IntegerLiteral):
        return None
    size = n.literal_value

    def codegen(context, builder, sig, args):
        buf = cgutils.alloca_once(builder, ir.ArrayType(ir.FloatType(), size))
        return builder.bitcast(buf, ir.PointerType(ir.FloatType()))
    return types.CPointer(types.float32)(n), codegen
