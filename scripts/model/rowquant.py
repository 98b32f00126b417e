"""Per-token dynamic int8: make a dynamic-int8 ONNX graph's results independent of the batch.

`onnxruntime.quantization.quantize_dynamic` quantizes each MatMul's activations with one scale and
zero point computed at run time over the whole input tensor, i.e. over every token of every text in
the batch, padding included: a text's scores depend on what it is batched with. This rewrite gives
every token (row of the activation matrix) its own scale, computed from that token's values only,
and keeps the int8 weights exactly as they are. Integer matrix products are exact and every other
operation works row by row, so a text's result is the same whatever its batch, its position in the
batch, the padding or the thread count.

Per token, symmetric (the default): s = max|x| / (2^(bits-1) - 1), q = round(x / s) + 2^(bits-1)
(uint8), y = MatMulIntegerToFloat(q, W, 1, w_scale, 2^(bits-1), W_zp) * s. With `bits=7` the codes
stay in 1..127, so a u8 x s8 product pair never exceeds int16 (127 * 128 * 2 < 32768): exact on
CPUs without VNNI too, whose u8 x s8 kernels (vpmaddubsw) saturate pairs above that.
`signed_weights` stores the same weight integers minus 128 (zero points too, so W - zp is unchanged)
as int8: u8 x s8 is what VNNI (vpdpbusd) computes natively, about twice the speed of u8 x u8.
Asymmetric (`asymmetric=True`): each row's own min/max and zero point z; MatMulInteger takes one zero
point for A, so the product is computed with zero point 0 and corrected exactly in int32:
y = (I - z * colsum(W - W_zp)) * w_scale * s. `contrib=False` uses only standard ONNX operators
(MatMulInteger, Cast, Mul) instead of ONNX Runtime's MatMulIntegerToFloat.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


class _Graph:
    """Helpers to add constants and nodes while rewriting."""

    def __init__(self, graph):
        self.g = graph
        self.inits = {i.name: i for i in graph.initializer}
        self.producer = {o: n for n in graph.node for o in n.output}
        self.consumers: dict[str, list] = {}
        for n in graph.node:
            for i in n.input:
                self.consumers.setdefault(i, []).append(n)
        self.consts: dict[str, onnx.TensorProto] = {}

    def const(self, name: str, value) -> str:
        if name not in self.consts:
            self.consts[name] = numpy_helper.from_array(np.asarray(value), name)
        return name

    def array(self, name: str) -> np.ndarray:
        return numpy_helper.to_array(self.inits[name])


def _row_quantize(G: _Graph, dq, asymmetric: bool, bits: int) -> tuple[list, dict]:
    """Nodes that replace one DynamicQuantizeLinear: per-row uint8 codes, scale (and zero point)."""
    x, p = dq.input[0], dq.name + "_row"
    one, eps = G.const("rowq_one", np.float32(1.0)), G.const("rowq_eps", np.float32(1e-12))
    if not asymmetric:
        half = 2 ** (bits - 1)
        levels, zp = G.const(f"rowq_l{half - 1}", np.float32(half - 1)), G.const(f"rowq_u{half}", np.uint8(half))
        nodes = [
            helper.make_node("Abs", [x], [p + "_abs"]),
            helper.make_node("ReduceMax", [p + "_abs"], [p + "_amax"], axes=[-1], keepdims=1),
            helper.make_node("Max", [p + "_amax", eps], [p + "_amax_pos"]),
            helper.make_node("Div", [levels, p + "_amax_pos"], [p + "_inv"]),
            helper.make_node("Div", [p + "_amax_pos", levels], [p + "_scale"]),
            helper.make_node("Mul", [x, p + "_inv"], [p + "_xs"]),
            helper.make_node("QuantizeLinear", [p + "_xs", one, zp], [p + "_q"]),
        ]
        return nodes, {"q": p + "_q", "scale": p + "_scale", "a_zp": zp}
    zero = G.const("rowq_zero", np.float32(0.0))
    nodes = [
        helper.make_node("ReduceMax", [x], [p + "_max"], axes=[-1], keepdims=1),
        helper.make_node("ReduceMin", [x], [p + "_min"], axes=[-1], keepdims=1),
        helper.make_node("Max", [p + "_max", zero], [p + "_hi"]),
        helper.make_node("Min", [p + "_min", zero], [p + "_lo"]),
        helper.make_node("Sub", [p + "_hi", p + "_lo"], [p + "_range"]),
        helper.make_node("Div", [p + "_range", G.const(f"rowq_l{2 ** bits - 1}", np.float32(2 ** bits - 1))],
                         [p + "_scale0"]),
        helper.make_node("Max", [p + "_scale0", eps], [p + "_scale"]),
        helper.make_node("Div", [one, p + "_scale"], [p + "_inv"]),
        helper.make_node("Mul", [p + "_lo", p + "_inv"], [p + "_lo_s"]),
        helper.make_node("Neg", [p + "_lo_s"], [p + "_zp_neg"]),
        helper.make_node("Round", [p + "_zp_neg"], [p + "_zpf"]),
        helper.make_node("Mul", [x, p + "_inv"], [p + "_xs"]),
        helper.make_node("Add", [p + "_xs", p + "_zpf"], [p + "_xz0"]),
        # clip to the top code (QuantizeLinear saturates at 255 only)
        helper.make_node("Min", [p + "_xz0", G.const(f"rowq_l{2 ** bits - 1}", np.float32(2 ** bits - 1))], [p + "_xz"]),
        helper.make_node("QuantizeLinear", [p + "_xz", one, G.const("rowq_u0", np.uint8(0))], [p + "_q"]),
        helper.make_node("Cast", [p + "_zpf"], [p + "_zpi"], to=TensorProto.INT32),
    ]
    return nodes, {"q": p + "_q", "scale": p + "_scale", "a_zp": G.const("rowq_u0", np.uint8(0)),
                   "zp_int": p + "_zpi"}


def _row_matmul(G: _Graph, mm, row: dict, contrib: bool, signed_weights: bool) -> tuple[list, set]:
    """Nodes that replace MatMulInteger -> Cast -> Mul(scales): int8 product, per-column then per-row scale."""
    _a_q, w_q, _a_zp, w_zp = mm.input
    (cast,) = G.consumers[mm.output[0]]
    (mul,) = G.consumers[cast.output[0]]
    assert cast.op_type == "Cast" and mul.op_type == "Mul", (cast.op_type, mul.op_type)
    scales_mul = G.producer[[i for i in mul.input if i != cast.output[0]][0]]
    w_scale = [i for i in scales_mul.input if i in G.inits][0]
    o = mm.name + "_row"
    w_minus_zp = G.array(w_q).astype(np.int64) - G.array(w_zp).astype(np.int64)
    if signed_weights and G.inits[w_q].data_type == TensorProto.UINT8:
        # the same integers minus 128, zero points too: (W - zp) is unchanged, and u8 x s8 is the product
        # CPUs with VNNI (vpdpbusd) compute natively
        G.const(w_q + "_s8", (G.array(w_q).astype(np.int16) - 128).astype(np.int8))
        G.const(w_zp + "_s8", (G.array(w_zp).astype(np.int16) - 128).astype(np.int8))
        w_q, w_zp = w_q + "_s8", w_zp + "_s8"
    nodes = [helper.make_node("MatMulInteger", [row["q"], w_q, row["a_zp"], w_zp], [o + "_int"])]
    acc = o + "_int"
    if "zp_int" in row:
        colsum = w_minus_zp.sum(axis=0)
        nodes += [
            helper.make_node("Mul", [row["zp_int"], G.const(o + "_colsum", colsum.astype(np.int32))], [o + "_corr"]),
            helper.make_node("Sub", [acc, o + "_corr"], [o + "_int_c"]),
        ]
        acc = o + "_int_c"
    if acc == o + "_int" and contrib:
        # ONNX Runtime's MatMulIntegerToFloat: the int8 product and the per-column weight scale in one kernel
        nodes = [helper.make_node("MatMulIntegerToFloat", [row["q"], w_q, G.const("rowq_one", np.float32(1.0)), w_scale,
                                                           row["a_zp"], w_zp], [o + "_fw"], domain="com.microsoft")]
    else:
        nodes += [
            helper.make_node("Cast", [acc], [o + "_f"], to=TensorProto.FLOAT),
            helper.make_node("Mul", [o + "_f", w_scale], [o + "_fw"]),
        ]
    nodes.append(helper.make_node("Mul", [o + "_fw", row["scale"]], [mul.output[0]]))
    return nodes, {id(cast), id(mul), id(scales_mul)}


def per_token_quantization(model: onnx.ModelProto, asymmetric: bool = False, contrib: bool = True,
                           signed_weights: bool = True, bits: int = 7) -> onnx.ModelProto:
    """Returns a copy of a dynamic-int8 `model` with per-token activation quantization (see module doc)."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    G = _Graph(m.graph)
    replace: dict[int, list] = {}
    rows: dict[str, dict] = {}
    drop: set[int] = set()
    for n in m.graph.node:
        if n.op_type == "DynamicQuantizeLinear":
            replace[id(n)], rows[n.output[0]] = _row_quantize(G, n, asymmetric, bits)
    for n in m.graph.node:
        if n.op_type == "MatMulInteger":
            replace[id(n)], dropped = _row_matmul(G, n, rows[n.input[0]], contrib, signed_weights)
            drop |= dropped
    nodes = [x for n in m.graph.node if id(n) not in drop for x in replace.get(id(n), [n])]
    del m.graph.node[:]
    m.graph.node.extend(nodes)
    used = {i for n in m.graph.node for i in n.input}
    keep = [i for i in m.graph.initializer if i.name in used] + [c for k, c in G.consts.items() if k in used]
    del m.graph.initializer[:]
    m.graph.initializer.extend(keep)
    del m.graph.value_info[:]
    if contrib and not any(o.domain == "com.microsoft" for o in m.opset_import):
        m.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    onnx.checker.check_model(m)
    return m
