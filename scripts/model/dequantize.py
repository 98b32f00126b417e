"""Turn a dynamic-int8 ONNX graph (onnxruntime.quantization.quantize_dynamic) back into fp32.

Each `DynamicQuantizeLinear -> MatMulInteger -> Cast -> Mul(scales)` chain becomes one fp32 `MatMul`
with the dequantized weight `(W_q - zero_point) * scale`, and each quantized embedding table
(`Gather` of uint8 + `DequantizeLinear`) becomes a `Gather` of the dequantized fp32 table. The
result computes the same function as the int8 graph without its activation quantization: the
weights are exactly the int8 ones, only the run-time, batch-dependent rounding of activations is
gone. Used by build_model.py's `dequantize` stage, so that the model can be rebuilt from the
committed int8 weights without retraining.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper


def _consumers(graph) -> dict[str, list]:
    out: dict[str, list] = {}
    for n in graph.node:
        for i in n.input:
            out.setdefault(i, []).append(n)
    return out


def dequantize_dynamic(model: onnx.ModelProto) -> onnx.ModelProto:
    """Returns a copy of `model` with every dynamically quantized MatMul and Gather in fp32."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    inits = {i.name: i for i in g.initializer}
    arr = lambda name: numpy_helper.to_array(inits[name])  # noqa: E731
    producer = {o: n for n in g.node for o in n.output}
    consumers = _consumers(g)
    drop: set[int] = set()
    new_inits: dict[str, np.ndarray] = {}
    replace: dict[int, onnx.NodeProto] = {}

    for n in g.node:
        if n.op_type == "MatMulInteger":
            a_q, w_q, _a_zp, w_zp = n.input
            dq = producer[a_q]
            assert dq.op_type == "DynamicQuantizeLinear", dq.op_type
            (cast,) = consumers[n.output[0]]
            (mul,) = consumers[cast.output[0]]
            assert cast.op_type == "Cast" and mul.op_type == "Mul", (cast.op_type, mul.op_type)
            scales_mul = producer[[i for i in mul.input if i != cast.output[0]][0]]
            w_scale = [i for i in scales_mul.input if i in inits][0]
            w = (arr(w_q).astype(np.float32) - arr(w_zp).astype(np.float32)) * arr(w_scale)
            w_name = w_q.removesuffix("_quantized")
            new_inits[w_name] = w.astype(np.float32)
            replace[id(mul)] = helper.make_node(
                "MatMul", [dq.input[0], w_name], [mul.output[0]], name=n.name.removesuffix("_quant"))
            drop.update({id(n), id(cast), id(scales_mul)})
        elif n.op_type == "Gather" and n.input[0] in inits and inits[n.input[0]].data_type == onnx.TensorProto.UINT8:
            (deq,) = consumers[n.output[0]]
            assert deq.op_type == "DequantizeLinear", deq.op_type
            _, scale, zp = deq.input
            table = (arr(n.input[0]).astype(np.float32) - arr(zp).astype(np.float32)) * arr(scale)
            t_name = n.input[0].removesuffix("_quantized")
            new_inits[t_name] = table.astype(np.float32)
            replace[id(deq)] = helper.make_node("Gather", [t_name, n.input[1]], [deq.output[0]], name=n.name)
            drop.add(id(n))
    # DynamicQuantizeLinear nodes are dead once no MatMulInteger reads them
    nodes = []
    for n in g.node:
        if id(n) in drop or n.op_type == "DynamicQuantizeLinear":
            continue
        nodes.append(replace.get(id(n), n))
    del g.node[:]
    g.node.extend(nodes)
    used = {i for n in g.node for i in n.input}
    keep = [i for i in g.initializer if i.name in used and i.name not in new_inits]
    del g.initializer[:]
    g.initializer.extend(keep)
    g.initializer.extend(numpy_helper.from_array(v, k) for k, v in new_inits.items())
    del g.value_info[:]
    onnx.checker.check_model(m)
    return m
