"""MLflow `python_function` loader of tweetlake's bundled tweet sentiment model: text in, label and score out.

MLflow imports this module (MLmodel: `loader_module: tweet_sentiment`, `code: code`) and calls
`_load_pyfunc(<model folder>/model)`. It needs only onnxruntime, tokenizers, numpy and pandas (the
model's requirements.txt), not tweetlake. `predict` takes a pandas DataFrame (column `text`, else its
only column), a Series, a list of strings or one string, and returns a DataFrame with one row per
text: `label` (NEG, NEU or POS) and `score`, the softmax probability of that label in [0, 1], as the
Hugging Face text-classification pipeline reports them. A missing text (None/NaN) is scored as the
empty text, as tweetlake's gold stage scores a null cleaned_text.

Texts are tokenized as they are: feed them preprocessed as in training (mentions removed, white space
collapsed; tweetlake's silver `cleaned_text` is). A text's result does not depend on the batch it is
computed in (the graph quantizes each token's activations on their own), so any batching here or in
a caller gives the same numbers.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd

_BATCH = 32


class TweetSentimentModel:
    """An ONNX Runtime session and the tokenizer of one model folder (Hugging Face layout)."""

    def __init__(self, model_dir: str):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        with open(os.path.join(model_dir, "config.json"), encoding="utf-8") as f:
            id2label = json.load(f)["id2label"]
        self.labels = [id2label[k] for k in sorted(id2label, key=int)]
        with open(os.path.join(model_dir, "tokenizer_config.json"), encoding="utf-8") as f:
            max_length = int(json.load(f).get("model_max_length", 128))
        self.tokenizer = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length)
        options = ort.SessionOptions()
        threads = int(os.environ.get("TWEET_SENTIMENT_THREADS", "0"))
        if threads > 0:
            options.intra_op_num_threads = threads
        # onnxruntime-gpu offers CUDA; the int8 graph's integer products run on the CPU there, so a GPU
        # server names the fp32 graph of the same weights: TWEET_SENTIMENT_ONNX=model.onnx
        providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider")
                     if p in ort.get_available_providers()]
        onnx_file = os.environ.get("TWEET_SENTIMENT_ONNX", "model_quantized.onnx")
        self.session = ort.InferenceSession(
            os.path.join(model_dir, "onnx", os.path.basename(onnx_file)), sess_options=options, providers=providers)
        self.inputs = {i.name for i in self.session.get_inputs()}

    def _logits(self, ids: list[list[int]]) -> np.ndarray:
        width = max(len(x) for x in ids)
        input_ids = np.zeros((len(ids), width), dtype=np.int64)
        mask = np.zeros_like(input_ids)
        for row, x in enumerate(ids):
            input_ids[row, : len(x)] = x
            mask[row, : len(x)] = 1
        feed = {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": np.zeros_like(input_ids)}
        return self.session.run(["logits"], {k: v for k, v in feed.items() if k in self.inputs})[0]

    def scores(self, texts: list[str]) -> np.ndarray:
        """Softmax probabilities, texts x labels, in input order."""
        ids = [e.ids for e in self.tokenizer.encode_batch(texts)]
        out = np.zeros((len(texts), len(self.labels)), dtype=np.float64)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        for start in range(0, len(order), _BATCH):
            part = order[start: start + _BATCH]
            logits = self._logits([ids[i] for i in part]).astype(np.float64)
            e = np.exp(logits - logits.max(axis=1, keepdims=True))
            out[part] = e / e.sum(axis=1, keepdims=True)
        return out

    def predict(self, model_input, params=None) -> pd.DataFrame:  # noqa: ARG002 (MLflow passes params)
        texts = _texts(model_input)
        if not texts:
            return pd.DataFrame({"label": pd.Series([], dtype=object), "score": pd.Series([], dtype=np.float64)})
        probs = self.scores(texts)
        best = probs.argmax(axis=1)
        # labels as object dtype: pandas 3's own string dtype is one that servers' codecs (MLServer 1.7) do not know
        return pd.DataFrame({"label": pd.Series([self.labels[i] for i in best], dtype=object),
                             "score": probs[np.arange(len(texts)), best]})


def _texts(model_input) -> list[str]:
    """The texts of any input pyfunc callers send: DataFrame, Series, list, array, dict or one string."""
    if isinstance(model_input, pd.DataFrame):
        if "text" in model_input.columns:
            column = model_input["text"]
        elif len(model_input.columns) == 1:
            column = model_input.iloc[:, 0]
        else:
            raise ValueError(f"expected a 'text' column, got columns {list(model_input.columns)}")
        values = column.tolist()
    elif isinstance(model_input, dict):
        values = list(model_input.get("text", next(iter(model_input.values()), [])))
    elif isinstance(model_input, str):
        values = [model_input]
    elif isinstance(model_input, (pd.Series, np.ndarray)):
        values = list(np.asarray(model_input).reshape(-1))
    else:
        values = list(model_input)
    return ["" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v) for v in values]


def _load_pyfunc(data_path: str) -> TweetSentimentModel:
    """MLflow's entry point: `data_path` is the MLmodel's `data` folder (the Hugging Face layout)."""
    return TweetSentimentModel(data_path)
