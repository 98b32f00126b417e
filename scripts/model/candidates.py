"""The `candidates` stage of build_model.py: ways to run the same weights, measured on one machine.

For each candidate ONNX graph: accuracy and macro-F1 on TweetEval val and the airline tweets; whether
a text's scores depend on its batch (max change, in points of 0-100, between a text scored alone and
inside padded batches of other sizes, compositions and orders); size; and speed, as texts per CPU
second of one single-threaded session (ONNX Runtime runs it in the calling thread, so its CPU time is
the work done: this figure holds on a loaded machine) and as wall-clock texts/s of two sessions of one
thread each run from two Python threads (what 2 cores give when nothing else runs). Repetitions are
interleaved across candidates so that load from other jobs hits every candidate alike; the load
average is recorded. Results -> <work>/candidates.json (model card, docs/BENCHMARKS.md).

Candidates, all from the same fine-tuned weights (the dynamic-int8 export):
  dynamic-int8           quantize_dynamic as exported: activation scale per tensor, over the batch
  dynamic-int8-alone     the same graph, one text per call (no padding, no neighbours)
  fp32                   the int8 weights dequantized to fp32 (dequantize.py): no activation rounding
  fp32-fused             fp32 through onnxruntime.transformers' BERT optimizer (fused attention, layer norm, GELU)
  fp16-weights           fp32 with weights stored as fp16 (half the size; computed in fp32)
  static-int8-minmax     fp32 + QDQ static int8 (activation ranges calibrated on 512 training tweets, min/max)
  static-int8-p99.99     the same, ranges at the 99.99th percentile
  per-token-u8u8         rowquant.py, first form: 8-bit activations per token, the uint8 weights as exported
  per-token-8bit         8-bit activations per token, the same weights stored as int8 (VNNI's u8 x s8)
  per-token-asym         per token, own min/max and zero point (8 bits), int8 weights
  per-token-int8         the shipped graph: 7-bit activations per token (no int16 saturation on any x86), int8 weights
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from dequantize import dequantize_dynamic
from rowquant import per_token_quantization


def fp16_weights(model: onnx.ModelProto) -> onnx.ModelProto:
    """fp32 graph whose large float initializers are stored as fp16 and cast back when the session loads."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    casts, keep = [], []
    for init in g.initializer:
        arr = numpy_helper.to_array(init)
        if arr.dtype == np.float32 and arr.size >= 1024:
            keep.append(numpy_helper.from_array(arr.astype(np.float16), init.name + "_fp16"))
            casts.append(helper.make_node("Cast", [init.name + "_fp16"], [init.name], to=TensorProto.FLOAT))
        else:
            keep.append(init)
    del g.initializer[:]
    g.initializer.extend(keep)
    nodes = list(g.node)
    del g.node[:]
    g.node.extend(casts + nodes)
    return m


def calibration_ranges(fp32: onnx.ModelProto, seqs: list[list[int]], percentile: float) -> dict:
    """Activation range of every MatMul input with a constant weight, over unpadded same-length batches."""
    import onnxruntime as ort

    inits = {i.name for i in fp32.graph.initializer}
    names = sorted({n.input[0] for n in fp32.graph.node if n.op_type == "MatMul" and n.input[1] in inits})
    m = onnx.ModelProto()
    m.CopyFrom(fp32)
    for t in names:
        m.graph.output.append(helper.make_tensor_value_info(t, TensorProto.FLOAT, None))
    sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    values: dict[str, list] = {t: [] for t in names}
    by_len: dict[int, list] = {}
    for s in seqs:
        by_len.setdefault(len(s), []).append(s)
    for group in by_len.values():
        for k in range(0, len(group), 16):
            ids = np.array(group[k: k + 16], dtype=np.int64)
            outs = sess.run(names, {"input_ids": ids, "attention_mask": np.ones_like(ids),
                                    "token_type_ids": np.zeros_like(ids)})
            for t, o in zip(names, outs):
                values[t].append(o.reshape(-1))
    out = {}
    for t, parts in values.items():
        v = np.concatenate(parts)
        lo, hi = (v.min(), v.max()) if percentile >= 100 else np.percentile(v, [100 - percentile, percentile])
        out[t] = [{"rmin": np.float32(min(lo, 0.0)), "rmax": np.float32(max(hi, 0.0))}]
    return out


def static_int8(fp32_path: Path, out_path: Path, seqs: list[list[int]], percentile: float) -> None:
    """QDQ static int8 of every MatMul with a constant weight (QUInt8 per-channel weights, as exported)."""
    from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static

    fp32 = onnx.load(str(fp32_path))
    inits = {i.name for i in fp32.graph.initializer}
    nodes = [n.name for n in fp32.graph.node if n.op_type == "MatMul" and n.input[1] in inits]

    class OneBatch(CalibrationDataReader):  # ranges come from TensorQuantOverrides; this only drives the pass
        def __init__(self):
            ids = np.array([seqs[0]], dtype=np.int64)
            self.items = iter([{"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}])

        def get_next(self):
            return next(self.items, None)

    quantize_static(str(fp32_path), str(out_path), OneBatch(), quant_format=QuantFormat.QDQ,
                    op_types_to_quantize=["MatMul"], nodes_to_quantize=nodes, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QUInt8,
                    calibrate_method=CalibrationMethod.MinMax,
                    extra_options={"MatMulConstBOnly": True,
                                   "TensorQuantOverrides": calibration_ranges(fp32, seqs, percentile)})


def build(dynamic_int8: Path, work: Path, calib_seqs: list[list[int]]) -> dict[str, Path]:
    """Writes every candidate graph into <work>/candidates/; returns name -> path."""
    from onnxruntime.transformers.optimizer import optimize_model

    d = work / "candidates"
    d.mkdir(parents=True, exist_ok=True)
    q = onnx.load(str(dynamic_int8))
    paths = {"dynamic-int8": dynamic_int8, "dynamic-int8-alone": dynamic_int8}
    onnx.save(dequantize_dynamic(q), str(d / "fp32.onnx"))
    paths["fp32"] = d / "fp32.onnx"
    opt = optimize_model(str(d / "fp32.onnx"), model_type="bert", num_heads=12, hidden_size=384, opt_level=0)
    opt.save_model_to_file(str(d / "fp32-fused.onnx"))
    paths["fp32-fused"] = d / "fp32-fused.onnx"
    onnx.save(fp16_weights(onnx.load(str(d / "fp32.onnx"))), str(d / "fp16-weights.onnx"))
    paths["fp16-weights"] = d / "fp16-weights.onnx"
    for name, pct in (("static-int8-minmax", 100.0), ("static-int8-p99.99", 99.99)):
        static_int8(d / "fp32.onnx", d / f"{name}.onnx", calib_seqs, pct)
        paths[name] = d / f"{name}.onnx"
    for name, kw in (("per-token-u8u8", {"signed_weights": False, "bits": 8}),
                     ("per-token-8bit", {"bits": 8}),
                     ("per-token-asym", {"asymmetric": True, "bits": 8}),
                     ("per-token-int8", {})):
        onnx.save(per_token_quantization(q, **kw), str(d / f"{name}.onnx"))
        paths[name] = d / f"{name}.onnx"
    return paths


def batch_dependence(run, seqs: list[list[int]], seed: int = 0) -> float:
    """Largest change of any probability (points, 0-100) between a text alone and in padded batches."""
    from build_model import softmax

    alone = softmax(np.concatenate([run([s]) for s in seqs]))
    rng = np.random.RandomState(seed)
    worst = 0.0
    for size in (3, 8, 32, 64):
        perm = rng.permutation(len(seqs))
        got = np.zeros_like(alone)
        for k in range(0, len(perm), size):
            idx = perm[k: k + size]
            got[idx] = softmax(run([seqs[i] for i in idx]))
        worst = max(worst, float(np.abs(got - alone).max()) * 100)
    return worst


def speed(sessions_by_name: dict, seqs: list[list[int]], reps: int, batch: int = 32) -> dict:
    """Per candidate: texts per CPU second (one 1-thread session) and wall texts/s (2 sessions x 1 thread)."""
    from build_model import pad_batch

    order = np.argsort([len(s) for s in seqs], kind="stable")
    batches = [[seqs[j] for j in order[k: k + batch]] for k in range(0, len(order), batch)]
    singles = [[s] for s in seqs[:400]]

    def run(sess, b):
        ids, mask, tt = pad_batch(b)
        sess.run(["logits"], {"input_ids": ids, "attention_mask": mask, "token_type_ids": tt})

    def cpu(sess, work):
        t0 = time.thread_time()
        for b in work:
            run(sess, b)
        return sum(len(b) for b in work) / (time.thread_time() - t0)

    def wall(sessions, work):
        queue, lock = list(work), threading.Lock()

        def worker(sess):
            while True:
                with lock:
                    if not queue:
                        return
                    b = queue.pop()
                run(sess, b)

        threads = [threading.Thread(target=worker, args=(s,)) for s in sessions]
        t0 = time.perf_counter()
        [t.start() for t in threads]
        [t.join() for t in threads]
        return sum(len(b) for b in work) / (time.perf_counter() - t0)

    out: dict = {name: {"per_cpu_second": [], "wall_2x1": []} for name in sessions_by_name}
    for _ in range(reps):
        for name, (a, b) in sessions_by_name.items():
            work = singles if name == "dynamic-int8-alone" else batches
            out[name]["per_cpu_second"].append(round(cpu(a, work)))
            out[name]["wall_2x1"].append(round(wall([a, b], work)))
    return out


def measure(paths: dict[str, Path], val, airline, speed_seqs, det_seqs, threads_fn, reps: int) -> dict:
    """Accuracy, batch dependence, size and speed of every candidate (see module doc)."""
    from build_model import metrics, ort_predict, pad_batch

    (va, va_y), (ai, ai_y) = val, airline
    res: dict = {"load_average_start": os.getloadavg()[0]}
    sessions = {}
    for name, path in paths.items():
        one = threads_fn(path, 2)
        bs = 1 if name == "dynamic-int8-alone" else 64

        def run(b, s=one):
            ids, mask, tt = pad_batch(b)
            return s.run(["logits"], {"input_ids": ids, "attention_mask": mask, "token_type_ids": tt})[0]

        mv, ma = metrics(va_y, ort_predict(one, va, bs).argmax(-1)), metrics(ai_y, ort_predict(one, ai, bs).argmax(-1))
        res[name] = {
            "file_mb": round(path.stat().st_size / 1e6, 1),
            "tweeteval_val": {k: mv[k] for k in ("accuracy", "macro_f1")},
            "airline_all": {k: ma[k] for k in ("accuracy", "macro_f1")},
            "max_batch_dependence_points": 0.0 if name == "dynamic-int8-alone" else round(batch_dependence(run, det_seqs), 6),
        }
        sessions[name] = (threads_fn(path, 1), threads_fn(path, 1))
    for name, figures in speed(sessions, speed_seqs, reps).items():
        res[name]["texts_per_s"] = {cfg: {"median": int(np.median(v)), "all": v} for cfg, v in figures.items()}
    res["load_average_end"] = os.getloadavg()[0]
    return res


def write(work: Path, res: dict) -> None:
    (work / "candidates.json").write_text(json.dumps(res, indent=2) + "\n")
