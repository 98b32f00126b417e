"""The MLflow side of models/hf_tweet_sentiment: MLmodel (text-in `python_function` + `onnx` flavors), the
loader code and the environment files, so that any MLflow 3.x loads and serves the folder without tweetlake.

`python_function` runs `code/tweet_sentiment.py` (loader module `tweet_sentiment`, data folder `model/`):
strings in, `label` + `score` out, as the Hugging Face text-classification pipeline gives them. The
`onnx` flavor still names the ONNX file (tensors in, logits out) for `mlflow.onnx.load_model`.
"""

from __future__ import annotations

import datetime as dt
import platform
import shutil
import uuid
from pathlib import Path

LOADER_MODULE = "tweet_sentiment"
CODE_DIR = "code"
DATA_DIR = "model"
ONNX_REL = "model/onnx/model_quantized.onnx"

# What the loader needs, pinned to the versions the interop suite runs it with (test/interop/requirements.txt).
# onnxruntime must stay equal to the version inside onnxruntime-node (1.30.0): tweetlake's Node pipeline and
# MLflow's pyfunc then compute the same numbers.
REQUIREMENTS = [
    "mlflow==3.17.2",
    "onnxruntime==1.30.0",
    "tokenizers==0.22.2",
    "numpy==2.2.6",
    "pandas==2.2.3",
]

INPUT_SCHEMA = '[{"type": "string", "required": true}]'  # unnamed, as the transformers flavor has it: a list works too
OUTPUT_SCHEMA = ('[{"type": "string", "name": "label", "required": true}, '
                 '{"type": "double", "name": "score", "required": true}]')


def write_env_files(out: Path, python_version: str) -> None:
    """requirements.txt, python_env.yaml and conda.yaml in the form mlflow's save_model writes them."""
    (out / "requirements.txt").write_text("\n".join(REQUIREMENTS) + "\n")
    (out / "python_env.yaml").write_text(
        f"python: {python_version}\nbuild_dependencies:\n- pip\n- setuptools\n- wheel\n"
        "dependencies:\n- -r requirements.txt\n")
    pip = "".join(f"  - {r}\n" for r in REQUIREMENTS)
    (out / "conda.yaml").write_text(
        f"channels:\n- conda-forge\ndependencies:\n- python={python_version}\n- pip\n- pip:\n{pip}name: mlflow-env\n")


def write_mlmodel(out: Path, metadata: dict, onnx_version: str, mlflow_version: str) -> None:
    """The MLmodel file (written with mlflow's own Model class, so that its loaders read it)."""
    from mlflow.models import Model
    from mlflow.models.signature import ModelSignature
    from mlflow.types.schema import Schema

    python_version = platform.python_version()
    m = Model()
    m.add_flavor("python_function", loader_module=LOADER_MODULE, code=CODE_DIR, data=DATA_DIR,
                 env={"conda": "conda.yaml", "virtualenv": "python_env.yaml"}, python_version=python_version)
    m.add_flavor("onnx", onnx_version=onnx_version, data=ONNX_REL, providers=["CPUExecutionProvider"],
                 code=None, onnx_session_options=None)
    m.signature = ModelSignature(inputs=Schema.from_json(INPUT_SCHEMA), outputs=Schema.from_json(OUTPUT_SCHEMA))
    m.metadata = metadata
    m.mlflow_version = mlflow_version
    m.model_uuid = uuid.uuid5(uuid.NAMESPACE_URL, f"tweetlake/hf_tweet_sentiment/{metadata.get('onnx_sha256')}").hex
    m.utc_time_created = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
    m.save(str(out / "MLmodel"))
    write_env_files(out, python_version)


def install_loader(out: Path, source: Path) -> None:
    """Copies the loader module into the model folder's code/ (the MLmodel's `code`)."""
    (out / CODE_DIR).mkdir(parents=True, exist_ok=True)
    target = out / CODE_DIR / f"{LOADER_MODULE}.py"
    if source.resolve() != target.resolve():
        shutil.copyfile(source, target)
    # mlflow.onnx's own pyfunc loader needed a copy of MLmodel next to the .onnx file; ours does not
    stale = out / "model" / "onnx" / "MLmodel"
    if stale.exists():
        stale.unlink()
