"""Eight- and sixteen-lane float32 vectors for numba kernels (LLVM ``<8 x float>``,
``<16 x float>``: the names ending in 16), and bit helpers.

numba vectorizes simple loops by itself, but not a sum whose accumulator should stay in
registers across a loop over a varying list of rows. These intrinsics write that loop
directly: ``vload``/``vstore`` move eight consecutive floats of a 1-D C-contiguous float32
array, and ``vadd``, ``vsub``, ``vmul`` work lane by lane with the same IEEE rounding as
the scalar operations (no fused multiply-add, no reassociation), so a vector kernel gives
the same bits as the scalar loop it replaces. Imported only where numba is installed.

numba keys a kernel cached on disk on the kernel's own source file, not on the files of
the functions it inlines: a kernel made of these intrinsics also holds ``SOURCE_DIGEST``,
this file's digest, in a closure cell (cells are part of numba's cache key), so that a
change here compiles it again instead of loading the old machine code.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic, models, register_model


def source_digest(code: bytes) -> int:
    """A 62-bit number from a source file's bytes (the first bytes of their SHA-256)."""
    return int.from_bytes(hashlib.sha256(code).digest()[:8], "little") >> 2


def file_digest(path: str | Path) -> int:
    """:func:`source_digest` of a source file, 0 where it cannot be read (a frozen or
    zipped install: nothing to compare against)."""
    try:
        return source_digest(Path(path).read_bytes())
    except OSError:
        return 0


SOURCE_DIGEST = file_digest(__file__)


def _family(lanes: int) -> tuple:
    """The vector type of ``lanes`` float32 and its load, store, arithmetic, splat and
    compare intrinsics: (type, vload, vstore, vadd, vsub, vmul, vsplat, vgreater, vbits, vselect,
    vtestadd, vtestbits, vunbits, vpushbit, vshiftadd, vdiv)."""
    vec = ir.VectorType(ir.FloatType(), lanes)

    class Vector(types.Type):
        def __init__(self) -> None:
            super().__init__(name=f"F32x{lanes}")

    vtype = Vector()

    @register_model(Vector)
    class _Model(models.PrimitiveModel):
        def __init__(self, dmm, fe_type) -> None:
            super().__init__(dmm, fe_type, vec)

    def lanes_ptr(context, builder, aryty, ary, index):
        data = context.make_array(aryty)(context, builder, ary).data
        return builder.bitcast(builder.gep(data, [index]), vec.as_pointer())

    @intrinsic
    def vload(typingctx, arr, index):
        if not (_is_f32_vector_array(arr) and isinstance(index, types.Integer)):
            return None

        def codegen(context, builder, sig, args):
            return builder.load(lanes_ptr(context, builder, sig.args[0], args[0], args[1]), align=4)
        return vtype(arr, index), codegen

    @intrinsic
    def vstore(typingctx, arr, index, value):
        if not (_is_f32_vector_array(arr) and isinstance(index, types.Integer) and value == vtype):
            return None

        def codegen(context, builder, sig, args):
            builder.store(args[2], lanes_ptr(context, builder, sig.args[0], args[0], args[1]), align=4)
            return context.get_dummy_value()
        return types.none(arr, index, value), codegen

    def binary(op):
        @intrinsic
        def fn(typingctx, a, b):
            if not (a == vtype and b == vtype):
                return None

            def codegen(context, builder, sig, args):
                return getattr(builder, op)(args[0], args[1])
            return vtype(a, b), codegen
        return fn

    @intrinsic
    def vsplat(typingctx, x):
        if x != types.float32:
            return None

        def codegen(context, builder, sig, args):
            v = builder.insert_element(ir.Constant(vec, ir.Undefined), args[0], ir.Constant(ir.IntType(32), 0))
            return builder.shuffle_vector(v, v, ir.Constant(ir.VectorType(ir.IntType(32), lanes), [0] * lanes))
        return vtype(x), codegen

    @intrinsic
    def vgreater(typingctx, a, b):
        if not (a == vtype and b == vtype):
            return None

        def codegen(context, builder, sig, args):
            above = builder.fcmp_ordered(">", args[0], args[1])
            return builder.select(above, ir.Constant(vec, [1.0] * lanes), ir.Constant(vec, [0.0] * lanes))
        return vtype(a, b), codegen

    @intrinsic
    def vbits(typingctx, a):
        if a != vtype:
            return None

        def codegen(context, builder, sig, args):
            nonzero = builder.fcmp_unordered("!=", args[0], ir.Constant(vec, [0.0] * lanes))
            return builder.zext(builder.bitcast(nonzero, ir.IntType(lanes)), ir.IntType(64))
        return types.uint64(a), codegen

    @intrinsic
    def vselect(typingctx, mask, a, b):
        if not (mask == vtype and a == vtype and b == vtype):
            return None

        def codegen(context, builder, sig, args):
            chosen = builder.fcmp_unordered("!=", args[0], ir.Constant(vec, [0.0] * lanes))
            return builder.select(chosen, args[1], args[2])
        return vtype(mask, a, b), codegen

    @intrinsic
    def vtestadd(typingctx, words, index, h, a, w, windex):
        if not (isinstance(words, types.Array) and words.ndim == 1 and words.layout == "C"
                and words.dtype in (types.uint8, types.uint16, types.uint32, types.uint64)
                and isinstance(index, types.Integer) and isinstance(h, types.Integer) and a == vtype
                and _is_f32_vector_array(w) and isinstance(windex, types.Integer)):
            return None

        def codegen(context, builder, sig, args):
            ivec = ir.VectorType(ir.IntType(sig.args[0].dtype.bitwidth), lanes)
            data = context.make_array(sig.args[0])(context, builder, args[0]).data
            loaded = builder.load(builder.bitcast(builder.gep(data, [args[1]]), ivec.as_pointer()), align=1)
            hw = context.cast(builder, args[2], sig.args[2], sig.args[0].dtype)  # the low bits: all that words hold
            hv = builder.insert_element(ir.Constant(ivec, ir.Undefined), hw, ir.Constant(ir.IntType(32), 0))
            hv = builder.shuffle_vector(hv, hv, ir.Constant(ir.VectorType(ir.IntType(32), lanes), [0] * lanes))
            hit = builder.icmp_unsigned("!=", builder.and_(loaded, hv), ir.Constant(ivec, [0] * lanes))
            ptr = lanes_ptr(context, builder, sig.args[4], args[4], args[5])
            fnty = ir.FunctionType(vec, [ptr.type, ir.IntType(32), hit.type, vec])
            masked_load = cgutils.get_or_insert_function(builder.module, fnty, f"llvm.masked.load.v{lanes}f32.p0")
            chosen = builder.call(masked_load, [ptr, ir.Constant(ir.IntType(32), 4), hit,
                                                ir.Constant(vec, [0.0] * lanes)])
            return builder.fadd(args[3], chosen)
        return vtype(words, index, h, a, w, windex), codegen

    @intrinsic
    def vshiftadd(typingctx, shifts, index, h, a, w, windex):
        if not (isinstance(shifts, types.Array) and shifts.ndim == 1 and shifts.layout == "C"
                and shifts.dtype == types.uint8 and isinstance(index, types.Integer) and isinstance(h, types.Integer)
                and a == vtype and _is_f32_vector_array(w) and isinstance(windex, types.Integer)):
            return None

        def codegen(context, builder, sig, args):
            i32 = ir.IntType(32)
            ivec, eight = ir.VectorType(i32, lanes), ir.VectorType(ir.IntType(8), 8)
            data = context.make_array(sig.args[0])(context, builder, args[0]).data
            parts = []
            for q in range(lanes // 8):  # eight shifts at a time: one widening load each
                at = builder.add(args[1], ir.Constant(args[1].type, 8 * q))
                part = builder.load(builder.bitcast(builder.gep(data, [at]), eight.as_pointer()), align=1)
                parts.append(builder.zext(part, ir.VectorType(i32, 8)))
            shift = parts[0] if lanes == 8 else builder.shuffle_vector(
                parts[0], parts[1], ir.Constant(ir.VectorType(i32, 16), list(range(16))))
            hw = context.cast(builder, args[2], sig.args[2], types.uint32)
            hv = builder.insert_element(ir.Constant(ivec, ir.Undefined), hw, ir.Constant(i32, 0))
            hv = builder.shuffle_vector(hv, hv, ir.Constant(ir.VectorType(i32, lanes), [0] * lanes))
            hit = builder.icmp_signed("<", builder.shl(hv, shift), ir.Constant(ivec, [0] * lanes))  # the sign bit
            ptr = lanes_ptr(context, builder, sig.args[4], args[4], args[5])
            chosen = builder.select(hit, builder.load(ptr, align=4), ir.Constant(vec, [0.0] * lanes))
            return builder.fadd(args[3], chosen)
        return vtype(shifts, index, h, a, w, windex), codegen

    @intrinsic
    def vtestbits(typingctx, a, ia, b, ib):
        if not (isinstance(a, types.Array) and a.ndim == 1 and a.layout == "C"
                and a.dtype in (types.uint32, types.uint64) and b == a
                and isinstance(ia, types.Integer) and isinstance(ib, types.Integer)):
            return None

        def codegen(context, builder, sig, args):
            ivec = ir.VectorType(ir.IntType(sig.args[0].dtype.bitwidth), lanes)

            def load(aryty, ary, index):
                data = context.make_array(aryty)(context, builder, ary).data
                return builder.load(builder.bitcast(builder.gep(data, [index]), ivec.as_pointer()), align=4)
            both = builder.and_(load(sig.args[0], args[0], args[1]), load(sig.args[2], args[2], args[3]))
            hit = builder.icmp_unsigned("!=", both, ir.Constant(ivec, [0] * lanes))
            return builder.zext(builder.bitcast(hit, ir.IntType(lanes)), ir.IntType(64))
        return types.uint64(a, ia, b, ib), codegen

    @intrinsic
    def vunbits(typingctx, m):
        if m != types.uint64:
            return None

        def codegen(context, builder, sig, args):
            lane_bits = builder.bitcast(builder.trunc(args[0], ir.IntType(lanes)), ir.VectorType(ir.IntType(1), lanes))
            return builder.select(lane_bits, ir.Constant(vec, [1.0] * lanes), ir.Constant(vec, [0.0] * lanes))
        return vtype(m), codegen

    @intrinsic
    def vpushbit(typingctx, words, index, mask):
        if not (isinstance(words, types.Array) and words.ndim == 1 and words.layout == "C"
                and words.dtype in (types.uint32, types.uint64) and isinstance(index, types.Integer) and mask == vtype):
            return None

        def codegen(context, builder, sig, args):
            ivec = ir.VectorType(ir.IntType(sig.args[0].dtype.bitwidth), lanes)
            data = context.make_array(sig.args[0])(context, builder, args[0]).data
            ptr = builder.bitcast(builder.gep(data, [args[1]]), ivec.as_pointer())
            shifted = builder.shl(builder.load(ptr, align=4), ir.Constant(ivec, [1] * lanes))
            nonzero = builder.fcmp_unordered("!=", args[2], ir.Constant(vec, [0.0] * lanes))
            builder.store(builder.or_(shifted, builder.zext(nonzero, ivec)), ptr, align=4)
            return context.get_dummy_value()
        return types.none(words, index, mask), codegen

    return (vtype, vload, vstore, binary("fadd"), binary("fsub"), binary("fmul"), vsplat, vgreater, vbits, vselect,
            vtestadd, vtestbits, vunbits, vpushbit, vshiftadd, binary("fdiv"))


def _is_f32_vector_array(arr) -> bool:
    return isinstance(arr, types.Array) and arr.ndim == 1 and arr.layout == "C" and arr.dtype == types.float32


LANES = 8
(f32x8, vload, vstore, vadd, vsub, vmul, vsplat, vgreater, vbits, vselect, vtestadd, vtestbits,
 vunbits, vpushbit, vshiftadd, vdiv) = _family(LANES)
vload.__doc__ = "arr[index:index + 8] (no bounds check)."
vstore.__doc__ = "arr[index:index + 8] = value (no bounds check)."
vadd.__doc__, vsub.__doc__, vmul.__doc__ = "a + b, lane by lane.", "a - b, lane by lane.", "a * b, lane by lane."
vdiv.__doc__ = ("a / b, lane by lane (LLVM's cost model for Zen 4 and 5 keeps a loop of sixteen divisions "
                "scalar).")
vsplat.__doc__ = "x (a float32) in every lane."
vgreater.__doc__ = "1.0 where a > b, else 0.0 (0.0 where either is NaN), lane by lane."
vbits.__doc__ = "A uint64 with bit u set where lane u is not 0.0."
vselect.__doc__ = "a where mask is not 0.0, else b, lane by lane."
vtestadd.__doc__ = ("a + w[windex:windex + 8], where in lane u w's float is replaced by 0.0 unless "
                    "words[index + u] & h is not 0 (words: a 1-D C-contiguous array of unsigned integers, h cast "
                    "to their type; w is read only where the bit is set; no bounds check).")
vshiftadd.__doc__ = ("a + w[windex:windex + 8], where in lane u w's float is replaced by 0.0 unless bit 31 of "
                     "the uint32 h << shifts[index + u] is set (shifts: a 1-D C-contiguous uint8 array of values "
                     "below 32; no bounds check): vtestadd with one shift per lane instead of a mask and a test.")
vunbits.__doc__ = "1.0 in lane u where bit u of m (a uint64) is set, else 0.0: the inverse of vbits."
vpushbit.__doc__ = ("words[index + u] = words[index + u] << 1 | (mask[u] != 0.0): a bit history gains a step "
                    "(words: a 1-D C-contiguous uint32 or uint64 array; no bounds check).")
vtestbits.__doc__ = ("A uint64 with bit u set where a[ia + u] & b[ib + u] is not 0 (a and b: 1-D "
                     "C-contiguous uint32 or uint64 arrays of one type; no bounds check).")

WIDE_LANES = 16  # one AVX-512 register; two AVX2 ones
(f32x16, vload16, vstore16, vadd16, vsub16, vmul16, vsplat16, vgreater16, vbits16,
 vselect16, vtestadd16, vtestbits16, vunbits16, vpushbit16, vshiftadd16, vdiv16) = _family(WIDE_LANES)


def _is_f64_array(arr) -> bool:
    return isinstance(arr, types.Array) and arr.ndim == 1 and arr.layout == "C" and arr.dtype == types.float64


@intrinsic
def vdiv_f64x8(typingctx, out, o, a, ia, b, ib):
    """out[o:o + 8] = a[ia:ia + 8] / b[ib:ib + 8] (1-D C-contiguous float64 arrays; no bounds
    check) as one vector division, IEEE-rounded as the scalar one. LLVM's cost model for Zen
    4 and 5 keeps a loop with a division of two variables scalar, whatever else it does;
    this divides eight at once inside such a loop."""
    if not (all(_is_f64_array(t) for t in (out, a, b)) and all(isinstance(t, types.Integer) for t in (o, ia, ib))):
        return None
    vec = ir.VectorType(ir.DoubleType(), 8)

    def ptr(context, builder, aryty, ary, index):
        data = context.make_array(aryty)(context, builder, ary).data
        return builder.bitcast(builder.gep(data, [index]), vec.as_pointer())

    def codegen(context, builder, sig, args):
        t = sig.args
        x = builder.load(ptr(context, builder, t[2], args[2], args[3]), align=8)
        y = builder.load(ptr(context, builder, t[4], args[4], args[5]), align=8)
        builder.store(builder.fdiv(x, y), ptr(context, builder, t[0], args[0], args[1]), align=8)
        return context.get_dummy_value()
    return types.none(out, o, a, ia, b, ib), codegen


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


@intrinsic
def address(typingctx, arr, index):
    """A pointer to element ``index`` of a 1-D C-contiguous array: ``numba.carray(address(a,
    i), n)`` is a view of ``a[i:i + n]`` that carries no reference count, so that making one
    per row costs no atomic operations. The array must outlive the view (no bounds check)."""
    if not (isinstance(arr, types.Array) and arr.ndim == 1 and arr.layout == "C" and isinstance(index, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        data = context.make_array(sig.args[0])(context, builder, args[0]).data
        return builder.gep(data, [args[1]])
    return types.CPointer(arr.dtype)(arr, index), codegen
