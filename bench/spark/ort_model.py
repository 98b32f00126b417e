"""Python onnxruntime + Hugging Face tokenizers on the bundled ONNX model: what the Spark reference's pandas
UDF runs in each Python worker (medallion.py), and the Python reference of the inference benchmark
(bench/inference/ort_python.py). Texts are sorted by length and cut into batches padded to their longest
text, as tweetlake's inference pool does; scores are the softmax probability of the label, 0-100.
"""

import json
import os

_LOADED = {}


def load(model_dir: str, max_length: int, threads: int = 1):
    """The tokenizer, session, input names and labels; loaded once per process and kept."""
    key = (model_dir, max_length, threads)
    if key not in _LOADED:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
        tok.enable_truncation(max_length)
        tok.enable_padding()
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        onnx = os.path.join(model_dir, "onnx", "model_quantized.onnx")
        if not os.path.exists(onnx):
            onnx = os.path.join(model_dir, "onnx", "model.onnx")
        sess = ort.InferenceSession(onnx, opts, providers=["CPUExecutionProvider"])
        names = {i.name for i in sess.get_inputs()}
        with open(os.path.join(model_dir, "config.json")) as f:
            id2label = json.load(f)["id2label"]
        labels = [id2label[k] for k in sorted(id2label, key=int)]
        _LOADED[key] = (tok, sess, names, labels)
    return _LOADED[key]


def run_batch(tok, sess, names, texts):
    """Logits of one batch (tokenized together, padded to the longest)."""
    import numpy as np

    enc = tok.encode_batch(texts)
    feeds = {
        "input_ids": np.array([e.ids for e in enc], dtype=np.int64),
        "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64),
        "token_type_ids": np.array([e.type_ids for e in enc], dtype=np.int64),
    }
    return sess.run(None, {k: v for k, v in feeds.items() if k in names})[0]


def classify(model_dir: str, texts, batch: int = 32, max_length: int = 128, threads: int = 1):
    """(labels, scores) in input order."""
    import numpy as np

    tok, sess, names, labels = load(model_dir, max_length, threads)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out_labels = [None] * len(texts)
    out_scores = [0.0] * len(texts)
    for start in range(0, len(order), batch):
        idx = order[start : start + batch]
        logits = run_batch(tok, sess, names, [texts[i] for i in idx])
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs = e / e.sum(axis=1, keepdims=True)
        best = probs.argmax(axis=1)
        for k, i in enumerate(idx):
            out_labels[i] = labels[best[k]]
            out_scores[i] = float(probs[k, best[k]] * 100)
    return out_labels, out_scores
