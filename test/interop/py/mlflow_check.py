"""MLflow's own Python client reads what tweetlake wrote, and writes what tweetlake reads.

Usage: mlflow_check.py --batch spec.json --out out.json
The spec is {"op": ..., ...}; every op answers plain JSON (metric values as Python repr strings so
that NaN survives).

ops:
  read_runs      {tracking_uri, run_ids, history_keys, download_dir}: run info/data, metric
                 histories, recursive artifact listing and sha256 of every artifact downloaded
  read_registry  {tracking_uri, registry_uri?, name, stage?, alias?, download_dir}: the registered
                 model, its versions, what models:/NAME/STAGE and models:/NAME@ALIAS resolve to,
                 and the sha256 of the files each downloads to
  register       {tracking_uri, name, model_dir, alias, stage}: logs model_dir as a run artifact
                 and registers it (source = the run's artifact URI) with a stage and an alias
  register_pyfunc {tracking_uri, name, alias}: mlflow.pyfunc.log_model(registered_model_name=...)
                 (an MLflow 3 logged model: source models:/m-...)
  migrate        {source, target}: `mlflow migrate-filestore` (the documented command)
"""

import argparse
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import mlflow
from mlflow import MlflowClient


def sha256_tree(root):
    root = Path(root)
    if root.is_file():
        return {root.name: hashlib.sha256(root.read_bytes()).hexdigest()}
    out = {}
    for p in sorted(root.rglob("*")):
        # MLflow adds this file to what it downloads for a models:/ URI; it is not the model's
        if p.is_file() and p.relative_to(root).as_posix() != "registered_model_meta":
            out[p.relative_to(root).as_posix()] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def list_all(client, run_id, path=None):
    out = []
    for f in client.list_artifacts(run_id, path):
        out.append({"path": f.path, "is_dir": f.is_dir, "file_size": f.file_size})
        if f.is_dir:
            out.extend(list_all(client, run_id, f.path))
    return out


def version_json(v):
    return {
        "name": v.name,
        "version": str(v.version),
        "current_stage": v.current_stage,
        "source": v.source,
        "run_id": v.run_id,
        "status": v.status,
        "aliases": sorted(v.aliases or []),
        "description": v.description,
    }


def read_runs(spec):
    client = MlflowClient(tracking_uri=spec["tracking_uri"])
    runs = []
    for run_id in spec["run_ids"]:
        r = client.get_run(run_id)
        exp = client.get_experiment(r.info.experiment_id)
        dl = Path(spec["download_dir"]) / run_id
        dl.mkdir(parents=True, exist_ok=True)
        local = client.download_artifacts(run_id, "", str(dl)) if list_all(client, run_id) else None
        runs.append({
            "run_id": r.info.run_id,
            "experiment_id": r.info.experiment_id,
            "experiment_name": exp.name,
            "run_name": r.info.run_name,
            "status": r.info.status,
            "start_time": r.info.start_time,
            "end_time": r.info.end_time,
            "user_id": r.info.user_id,
            "artifact_uri": r.info.artifact_uri,
            "metrics": {k: repr(float(v)) for k, v in r.data.metrics.items()},
            "params": r.data.params,
            "tags": r.data.tags,
            "history": {
                k: [[m.step, m.timestamp, repr(float(m.value))] for m in client.get_metric_history(run_id, k)]
                for k in spec.get("history_keys", [])
            },
            "artifacts": list_all(client, run_id),
            "artifact_sha256": sha256_tree(local) if local else {},
        })
    return {"mlflow_version": mlflow.__version__, "runs": runs}


def read_registry(spec):
    mlflow.set_tracking_uri(spec["tracking_uri"])
    mlflow.set_registry_uri(spec.get("registry_uri") or spec["tracking_uri"])
    client = MlflowClient()
    name = spec["name"]
    m = client.get_registered_model(name)
    out = {
        "name": m.name,
        "aliases": {k: str(v) for k, v in (m.aliases or {}).items()},
        # search results leave aliases out on SQL stores; get_model_version has them
        "versions": [
            version_json(client.get_model_version(name, v.version))
            for v in client.search_model_versions(f"name='{name}'")
        ],
        "resolved": {},
    }
    base = Path(spec["download_dir"])
    uris = {}
    if spec.get("stage"):
        latest = client.get_latest_versions(name, [spec["stage"]])
        out["stage_version"] = str(latest[0].version) if latest else None
        uris["stage"] = f"models:/{name}/{spec['stage']}"
    if spec.get("alias"):
        out["alias_version"] = str(client.get_model_version_by_alias(name, spec["alias"]).version)
        uris["alias"] = f"models:/{name}@{spec['alias']}"
    for key, uri in uris.items():
        dest = base / key
        dest.mkdir(parents=True, exist_ok=True)
        local = mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(dest))
        out["resolved"][key] = {"uri": uri, "sha256": sha256_tree(local)}
    return out


def register(spec):
    mlflow.set_tracking_uri(spec["tracking_uri"])
    client = MlflowClient()
    exp = client.get_experiment_by_name("python-registered")
    exp_id = exp.experiment_id if exp else client.create_experiment("python-registered")
    run = client.create_run(exp_id, run_name="python-register")
    client.log_artifacts(run.info.run_id, spec["model_dir"], "model")
    client.set_terminated(run.info.run_id)
    try:
        client.create_registered_model(spec["name"])
    except mlflow.exceptions.MlflowException:
        pass
    v = client.create_model_version(spec["name"], f"{run.info.artifact_uri}/model", run.info.run_id)
    client.transition_model_version_stage(spec["name"], v.version, spec["stage"])
    client.set_registered_model_alias(spec["name"], spec["alias"], v.version)
    return {"version": str(v.version), "run_id": run.info.run_id, "sha256": sha256_tree(spec["model_dir"])}


class Echo(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input


def register_pyfunc(spec):
    mlflow.set_tracking_uri(spec["tracking_uri"])
    mlflow.set_experiment("python-registered")
    with mlflow.start_run(run_name="python-pyfunc"):
        info = mlflow.pyfunc.log_model(
            name="model", python_model=Echo(), registered_model_name=spec["name"], pip_requirements=[]
        )
    client = MlflowClient()
    v = client.get_latest_versions(spec["name"], ["None"])[0]
    client.set_registered_model_alias(spec["name"], spec["alias"], v.version)
    local = mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{spec['name']}/{v.version}")
    return {"version": str(v.version), "source": v.source, "model_uri": info.model_uri, "sha256": sha256_tree(local)}


def migrate(spec):
    mlflow_bin = str(Path(sys.executable).parent / "mlflow")
    proc = subprocess.run(
        [mlflow_bin, "migrate-filestore", "--source", spec["source"], "--target", spec["target"], "--no-progress"],
        capture_output=True, text=True, timeout=300,
    )
    return {"returncode": proc.returncode, "stdout": proc.stdout[-4000:], "stderr": proc.stderr[-4000:]}


OPS = {f.__name__: f for f in (read_runs, read_registry, register, register_pyfunc, migrate)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    spec = json.loads(Path(a.batch).read_text())
    for k, v in (spec.get("env") or {}).items():
        os.environ[k] = v
    Path(a.out).write_text(json.dumps(OPS[spec["op"]](spec)))


if __name__ == "__main__":
    main()
