"""Reference for bench/inference/inference.ts: Python onnxruntime + HF tokenizers on the same ONNX file, texts and
batch size, with the code the Spark reference's pandas UDF runs (bench/spark/ort_model.py).

Usage: python ort_python.py <hf_dir> <texts.json> <batch_size> <threads> <max_length> [repetitions]
Prints {"texts_per_second": [one figure per repetition]}.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "spark"))

import ort_model  # noqa: E402


def main() -> None:
    hf_dir, texts_file, batch, threads, max_length = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    reps = int(sys.argv[6]) if len(sys.argv) > 6 else 3
    with open(texts_file) as f:
        texts = json.load(f)
    ort_model.classify(hf_dir, texts[-batch:], batch, max_length, threads)  # load and warm up
    out = []
    for _ in range(reps):
        start = time.perf_counter()
        ort_model.classify(hf_dir, texts, batch, max_length, threads)
        out.append(len(texts) / (time.perf_counter() - start))
    print(json.dumps({"texts_per_second": out}))


if __name__ == "__main__":
    main()
