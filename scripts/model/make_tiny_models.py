"""Makes the tiny Hugging Face repos that test `tweetlake model import-hf` (test/fixtures/hf-tiny/).

Each repo is a sequence classifier of one architecture with random weights, its tokenizer files as
the hub has them for that kind of model, and its ONNX export in one of the hub's layouts:

  tiny-bert        BERT, WordPiece from vocab.txt only (no tokenizer.json); onnx/model.onnx and
                   onnx/model_quantized.onnx (the transformers.js layout)
  tiny-distilbert  DistilBERT, tokenizer.json present; model.onnx and model_quantized.onnx next to
                   config.json (what `optimum-cli export onnx` writes)
  tiny-roberta     RoBERTa as cardiffnlp/twitter-roberta-base-sentiment-latest has it: vocab.json +
                   merges.txt, no tokenizer.json, no tokenizer_config.json; onnx/model_int8.onnx
  tiny-bertweet    BERTweet as finiteautomata/bertweet-base-sentiment-analysis has it: vocab.txt +
                   bpe.codes (fastBPE), added_tokens.json; ONNX in an onnx/ folder that also holds its
                   own config and tokenizer files (an Optimum export committed to the repo)

The graphs are written with onnx.helper: the real layer structure of each architecture (embeddings
with the architecture's position ids and token types, post-LN self-attention encoder layers, GELU
feed-forward, the architecture's classification head) at a tiny size. For every repo,
expected/<name>.json holds test texts, the input ids the Python (slow) tokenizer of transformers
gives them, and the probabilities onnxruntime gives for each text alone with the ONNX file the
importer picks (q8 when there is one). Texts come from the bundled sample, so no download is needed.

  python3 -m venv /tmp/venv-tiny
  /tmp/venv-tiny/bin/pip install transformers==4.57.6 tokenizers==0.22.2 onnx==1.19.1 onnxruntime==1.30.0 numpy==2.2.6
  /tmp/venv-tiny/bin/python scripts/model/make_tiny_models.py     # from the repository root
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import QuantType, quantize_dynamic
from tokenizers import Tokenizer, models, pre_tokenizers, trainers
from tokenizers.implementations import ByteLevelBPETokenizer
from transformers import BertTokenizer, BertweetTokenizer, DistilBertTokenizerFast, RobertaTokenizer

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "test" / "fixtures" / "hf-tiny"
SAMPLE = ROOT / "data" / "sample" / "tweets-001.json"
HIDDEN, HEADS, FFN, LAYERS, MAX_POS = 16, 2, 32, 2, 66
MAX_LEN = 64

TEST_TEXTS = [
    "thanks for the great flight!",
    "Cancelled Flightled again, TERRIBLE service :(",
    "gate B12 at 5pm",
    "Café crème à l'aéroport 😡😡",
    "",
    "why   so   slow",
    "lost my bag " * 30,  # longer than the model: truncated
    "<mask> is here",
]


def corpus() -> list[str]:
    texts = [json.loads(line)["text"] for line in SAMPLE.read_text().splitlines()[:300]]
    return [t for t in texts if t]


# ---------------------------------------------------------------------------------------------
# ONNX graphs


class Graph:
    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.nodes: list = []
        self.inits: list = []
        self.n = 0

    def name(self, base: str) -> str:
        self.n += 1
        return f"{base}_{self.n}"

    def const(self, value, base="c") -> str:
        name = self.name(base)
        self.inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def weight(self, *shape, scale=0.5) -> str:
        return self.const((self.rng.standard_normal(shape) * scale).astype(np.float32), "w")

    def op(self, op_type: str, inputs: list[str], **attrs) -> str:
        out = self.name(op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], **attrs))
        return out

    def linear(self, x: str, n_in: int, n_out: int) -> str:
        return self.op("Add", [self.op("MatMul", [x, self.weight(n_in, n_out)]), self.weight(n_out, scale=0.1)])

    def layer_norm(self, x: str) -> str:
        gamma = self.const((1 + 0.1 * self.rng.standard_normal(HIDDEN)).astype(np.float32), "ln_g")
        beta = self.const((0.1 * self.rng.standard_normal(HIDDEN)).astype(np.float32), "ln_b")
        return self.op("LayerNormalization", [x, gamma, beta], axis=-1, epsilon=1e-12)

    def gelu(self, x: str) -> str:
        erf = self.op("Erf", [self.op("Div", [x, self.const(np.float32(np.sqrt(2.0)))])])
        return self.op("Mul", [self.op("Mul", [x, self.const(np.float32(0.5))]), self.op("Add", [erf, self.const(np.float32(1.0))])])

    def attention(self, x: str, mask_bias: str) -> str:
        head = HIDDEN // HEADS
        shape = self.const(np.array([0, 0, HEADS, head], dtype=np.int64))

        def heads(t: str, perm: list[int]) -> str:
            return self.op("Transpose", [self.op("Reshape", [t, shape])], perm=perm)

        q = heads(self.linear(x, HIDDEN, HIDDEN), [0, 2, 1, 3])
        k = heads(self.linear(x, HIDDEN, HIDDEN), [0, 2, 3, 1])
        v = heads(self.linear(x, HIDDEN, HIDDEN), [0, 2, 1, 3])
        scores = self.op("Div", [self.op("MatMul", [q, k]), self.const(np.float32(np.sqrt(head)))])
        probs = self.op("Softmax", [self.op("Add", [scores, mask_bias])], axis=-1)
        ctx = self.op("Transpose", [self.op("MatMul", [probs, v])], perm=[0, 2, 1, 3])
        merged = self.op("Reshape", [ctx, self.const(np.array([0, 0, HIDDEN], dtype=np.int64))])
        return self.linear(merged, HIDDEN, HIDDEN)

    def encoder_layer(self, x: str, mask_bias: str) -> str:
        x = self.layer_norm(self.op("Add", [x, self.attention(x, mask_bias)]))
        ffn = self.linear(self.gelu(self.linear(x, HIDDEN, FFN)), FFN, HIDDEN)
        return self.layer_norm(self.op("Add", [x, ffn]))


def classifier_graph(arch: str, vocab_size: int, num_labels: int, pad_id: int, seed: int) -> onnx.ModelProto:
    g = Graph(seed)
    dims = ["batch_size", "sequence_length"]
    inputs = [helper.make_tensor_value_info(n, TensorProto.INT64, dims) for n in ("input_ids", "attention_mask")]
    if arch == "bert":
        inputs.append(helper.make_tensor_value_info("token_type_ids", TensorProto.INT64, dims))
    emb = g.op("Gather", [g.weight(vocab_size, HIDDEN), "input_ids"])
    if arch == "roberta":  # position ids count the non-padding tokens from pad_id + 1 (create_position_ids_from_input_ids)
        not_pad = g.op("Cast", [g.op("Not", [g.op("Equal", ["input_ids", g.const(np.int64(pad_id))])])], to=TensorProto.INT64)
        positions = g.op("Add", [g.op("Mul", [g.op("CumSum", [not_pad, g.const(np.int64(1))]), not_pad]), g.const(np.int64(pad_id))])
    else:  # 0 .. sequence_length - 1
        length = g.op("Gather", [g.op("Shape", ["input_ids"]), g.const(np.int64(1))])
        positions = g.op("Unsqueeze", [g.op("Range", [g.const(np.int64(0)), length, g.const(np.int64(1))]), g.const(np.array([0], dtype=np.int64))])
    emb = g.op("Add", [emb, g.op("Gather", [g.weight(MAX_POS, HIDDEN), positions])])
    if arch == "bert":
        emb = g.op("Add", [emb, g.op("Gather", [g.weight(2, HIDDEN), "token_type_ids"])])
    elif arch == "roberta":  # one token type, always 0
        emb = g.op("Add", [emb, g.weight(HIDDEN)])
    x = g.layer_norm(emb)
    mask = g.op("Cast", [g.op("Unsqueeze", ["attention_mask", g.const(np.array([1, 2], dtype=np.int64))])], to=TensorProto.FLOAT)
    mask_bias = g.op("Mul", [g.op("Sub", [g.const(np.float32(1.0)), mask]), g.const(np.float32(-10000.0))])
    for _ in range(LAYERS):
        x = g.encoder_layer(x, mask_bias)
    first = g.op("Gather", [x, g.const(np.int64(0))], axis=1)  # the [CLS] / <s> token
    if arch == "distilbert":  # pre_classifier + ReLU
        hidden = g.op("Relu", [g.linear(first, HIDDEN, HIDDEN)])
    else:  # BERT's pooler, RoBERTa's dense: tanh
        hidden = g.op("Tanh", [g.linear(first, HIDDEN, HIDDEN)])
    logits = g.linear(hidden, HIDDEN, num_labels)
    g.nodes.append(helper.make_node("Identity", [logits], ["logits"]))
    graph = helper.make_graph(
        g.nodes,
        f"tiny_{arch}_for_sequence_classification",
        inputs,
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch_size", num_labels])],
        g.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="tweetlake make_tiny_models.py")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def save_onnx(model: onnx.ModelProto, fp32: Path | None, q8: Path | None, scratch: Path) -> None:
    tmp = scratch / "fp32.onnx"
    onnx.save(model, tmp)
    if fp32:
        fp32.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(tmp, fp32)
    if q8:
        q8.parent.mkdir(parents=True, exist_ok=True)
        quantize_dynamic(tmp, q8, weight_type=QuantType.QInt8)


# ---------------------------------------------------------------------------------------------
# Repos


def config(arch: str, labels: list[str], vocab_size: int, pad_id: int, **extra) -> dict:
    architectures = {"bert": "BertForSequenceClassification", "distilbert": "DistilBertForSequenceClassification"}
    return {
        "architectures": [architectures.get(arch, "RobertaForSequenceClassification")],
        "model_type": arch if arch in ("bert", "distilbert") else "roberta",
        "id2label": {str(i): l for i, l in enumerate(labels)},
        "label2id": {l: i for i, l in enumerate(labels)},
        "vocab_size": vocab_size,
        "hidden_size": HIDDEN,
        "num_hidden_layers": LAYERS,
        "num_attention_heads": HEADS,
        "intermediate_size": FFN,
        "max_position_embeddings": MAX_POS,
        "pad_token_id": pad_id,
        **extra,
    }


def write_json(path: Path, value) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def expected(name: str, tokenizer, onnx_file: Path, labels: list[str], arch: str) -> set[str]:
    session = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    names = {i.name for i in session.get_inputs()}
    cases = []
    for text in TEST_TEXTS:
        enc = tokenizer(text, truncation=True, max_length=MAX_LEN)
        ids = np.array([enc["input_ids"]], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
        if "token_type_ids" in names:
            feeds["token_type_ids"] = np.zeros_like(ids)
        logits = session.run(["logits"], feeds)[0][0].astype(np.float64)
        probs = np.exp(logits - logits.max())
        probs /= probs.sum()
        cases.append({"text": text, "input_ids": enc["input_ids"], "probabilities": probs.tolist(), "label": labels[int(probs.argmax())]})
    write_json(OUT / "expected" / f"{name}.json", {"architecture": arch, "labels": labels, "onnx": onnx_file.name, "cases": cases})
    return {c["label"] for c in cases}


def wordpiece_vocab(texts: list[str], size: int) -> list[str]:
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = __import__("tokenizers").normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(texts, trainers.WordPieceTrainer(vocab_size=size, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]))
    vocab = tok.get_vocab()
    return sorted(vocab, key=vocab.get)


def make_bert(texts: list[str], scratch: Path) -> None:
    repo = OUT / "tiny-bert"
    vocab = wordpiece_vocab(texts, 300)
    (repo / "vocab.txt").parent.mkdir(parents=True, exist_ok=True)
    (repo / "vocab.txt").write_text("\n".join(vocab) + "\n")
    write_json(repo / "tokenizer_config.json", {"do_lower_case": True, "tokenizer_class": "BertTokenizer", "model_max_length": MAX_LEN})
    write_json(repo / "special_tokens_map.json", {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]", "mask_token": "[MASK]"})
    labels = ["negative", "positive"]
    write_json(repo / "config.json", config("bert", labels, len(vocab), 0))
    save_onnx(classifier_graph("bert", len(vocab), 2, 0, seed=1), repo / "onnx" / "model.onnx", repo / "onnx" / "model_quantized.onnx", scratch)
    tokenizer = BertTokenizer(str(repo / "vocab.txt"), do_lower_case=True)
    expected("tiny-bert", tokenizer, repo / "onnx" / "model_quantized.onnx", labels, "bert")


def make_distilbert(texts: list[str], scratch: Path) -> None:
    repo = OUT / "tiny-distilbert"
    vocab = wordpiece_vocab(texts, 280)
    vocab_file = scratch / "distil-vocab.txt"
    vocab_file.write_text("\n".join(vocab) + "\n")
    fast = DistilBertTokenizerFast(vocab_file=str(vocab_file), do_lower_case=True, model_max_length=MAX_LEN)
    fast.save_pretrained(repo)  # tokenizer.json, tokenizer_config.json, special_tokens_map.json, vocab.txt
    labels = ["NEGATIVE", "POSITIVE"]
    write_json(repo / "config.json", config("distilbert", labels, len(vocab), 0))
    save_onnx(classifier_graph("distilbert", len(vocab), 2, 0, seed=2), repo / "model.onnx", repo / "model_quantized.onnx", scratch)
    expected("tiny-distilbert", fast, repo / "model_quantized.onnx", labels, "distilbert")


def make_roberta(texts: list[str], scratch: Path) -> None:
    repo = OUT / "tiny-roberta"
    repo.mkdir(parents=True, exist_ok=True)
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(texts, vocab_size=400, min_frequency=2, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    bpe.save_model(str(repo))  # vocab.json, merges.txt
    write_json(repo / "special_tokens_map.json", {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>", "pad_token": "<pad>", "cls_token": "<s>", "mask_token": {"content": "<mask>", "single_word": False, "lstrip": True, "rstrip": False, "normalized": False}})
    vocab_size = len(json.loads((repo / "vocab.json").read_text()))
    labels = ["negative", "neutral", "positive"]
    write_json(repo / "config.json", config("roberta", labels, vocab_size, 1, bos_token_id=0, eos_token_id=2))
    tokenizer = RobertaTokenizer(str(repo / "vocab.json"), str(repo / "merges.txt"))
    for seed in range(3, 100):  # random weights whose labels differ between the test texts
        save_onnx(classifier_graph("roberta", vocab_size, 3, 1, seed=seed), None, repo / "onnx" / "model_int8.onnx", scratch)
        if len(expected("tiny-roberta", tokenizer, repo / "onnx" / "model_int8.onnx", labels, "roberta")) >= 2:
            break


def make_bertweet(texts: list[str], scratch: Path) -> None:
    repo = OUT / "tiny-bertweet"
    repo.mkdir(parents=True, exist_ok=True)
    # fastBPE merges: a BPE over whitespace-separated words whose last symbol carries </w>
    tok = Tokenizer(models.BPE(unk_token="<unk>", end_of_word_suffix="</w>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=320, min_frequency=2, end_of_word_suffix="</w>", special_tokens=["<unk>"]))
    merges = json.loads(tok.to_str())["model"]["merges"]
    (repo / "bpe.codes").write_text("".join(f"{' '.join(m) if isinstance(m, list) else m} {1000 - i}\n" for i, m in enumerate(merges)))
    # the fairseq dictionary: every piece the BPE makes of the corpus (minus a few, to meet <unk>), by frequency
    (scratch / "dict.txt").write_text("x 1\n")
    probe = BertweetTokenizer(str(scratch / "dict.txt"), str(repo / "bpe.codes"))
    counts: dict[str, int] = {}
    for text in texts:
        for piece in probe.tokenize(text):
            counts[piece] = counts.get(piece, 0) + 1
    pieces = [p for p in sorted(counts, key=lambda p: (-counts[p], p)) if p and not any(c.isspace() for c in p)][:-10]
    (repo / "vocab.txt").write_text("".join(f"{p} {counts[p]}\n" for p in pieces))
    vocab_size = 4 + len(pieces) + 1
    write_json(repo / "added_tokens.json", {"<mask>": vocab_size - 1})
    write_json(repo / "tokenizer_config.json", {"normalization": False, "tokenizer_class": "BertweetTokenizer", "model_max_length": MAX_LEN, "bos_token": "<s>", "eos_token": "</s>", "sep_token": "</s>", "cls_token": "<s>", "unk_token": "<unk>", "pad_token": "<pad>", "mask_token": "<mask>"})
    write_json(repo / "special_tokens_map.json", {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>", "pad_token": "<pad>", "cls_token": "<s>", "mask_token": "<mask>"})
    labels = ["NEG", "NEU", "POS"]
    write_json(repo / "config.json", config("roberta", labels, vocab_size, 1, bos_token_id=0, eos_token_id=2, tokenizer_class="BertweetTokenizer"))
    (repo / "pytorch_model.bin").write_bytes(b"stand-in for the PyTorch weights; not read")
    # the ONNX export as its own folder, with copies of the files it needs
    onnx_dir = repo / "onnx"
    onnx_dir.mkdir(exist_ok=True)
    for f in ("config.json", "vocab.txt", "bpe.codes", "added_tokens.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copyfile(repo / f, onnx_dir / f)
    save_onnx(classifier_graph("roberta", vocab_size, 3, 1, seed=4), onnx_dir / "model.onnx", None, scratch)
    tokenizer = BertweetTokenizer(str(repo / "vocab.txt"), str(repo / "bpe.codes"))
    expected("tiny-bertweet", tokenizer, onnx_dir / "model.onnx", labels, "bertweet")


def main() -> None:
    shutil.rmtree(OUT, ignore_errors=True)
    scratch = OUT / ".scratch"
    scratch.mkdir(parents=True)
    texts = corpus()
    make_bert(texts, scratch)
    make_distilbert(texts, scratch)
    make_roberta(texts, scratch)
    make_bertweet(texts, scratch)
    shutil.rmtree(scratch)
    for f in sorted(OUT.rglob("*")):
        if f.is_file():
            print(f"{f.stat().st_size:>8}  {f.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
