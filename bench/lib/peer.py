"""What the Python + delta-rs peers of the benchmark share (bench/duckdb/medallion.py,
bench/polars/medallion.py): the command line, the `@@bench` events bench/main.ts reads, the source
listing and its batches, the timing of each stage and the file counts. The rules of the stages live in
each script, written with that script's engine.

A peer is a batch script, as an engineer writes one today instead of Spark: bronze reads the source
files in batches of --max-files-per-trigger files (one Delta commit per batch, so memory is bounded by
a batch and a batch is what Spark's and tweetlake's micro-batches are); silver, gold and application
each read the table before whole, as one query, and write it in one commit (application overwrites).
"""

import argparse
import json
import os
import shutil
import sys
import time
from importlib.metadata import version

STAGES = ["bronze", "silver", "gold", "application"]
SCHEMA_FIELDS = ["date", "user", "text", "sentiment"]
# The error texts of docs/pipeline.md for records that are not JSON objects.
NOT_AN_OBJECT = {
    "array": "a JSON array, not an object",
    "number": "a JSON number, not an object",
    "string": "a JSON string, not an object",
    "boolean": "a JSON boolean, not an object",
    "null": "a JSON null, not an object",
}
NOT_JSON = "not valid JSON"


def emit(event: str, **fields) -> None:
    sys.stdout.write("@@bench " + json.dumps({"ev": event, **fields}) + "\n")
    sys.stdout.flush()


def source_files(folder: str) -> list:
    """The source files as the FileSource admits them: recursive, no part starting with '.' or '_',
    in (modification time, name) order."""
    out = []
    for dirpath, dirnames, names in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not d.startswith((".", "_"))]
        for n in names:
            if not n.startswith((".", "_")):
                p = os.path.abspath(os.path.join(dirpath, n))
                out.append((os.stat(p).st_mtime_ns, p.encode(), p))
    return [p for _, _, p in sorted(out)]


def batches(files: list, size: int) -> list:
    return [files[i : i + size] for i in range(0, len(files), max(1, size))]


def count_files(path: str) -> dict:
    files = parquet = 0
    for _, _, names in os.walk(path):
        for name in names:
            files += 1
            parquet += name.endswith(".parquet")
    return {"files": files, "parquet": parquet}


def table_rows(path: str) -> int:
    """Rows of a Delta table from its log (delta-rs writes numRecords), without reading data."""
    from deltalake import DeltaTable

    actions = DeltaTable(path).get_add_actions(flatten=True)
    return int(sum(actions.column("num_records").to_pylist())) if actions.num_rows else 0


class Stage:
    """Times one stage and collects its figures (the fields of StageFigures in bench/tweetlake/medallion.ts)."""

    def __init__(self, name: str):
        self.name, self.batches, self.input_rows = name, 0, 0
        emit("stage-start", stage=f"{name}_stream")
        self.t0 = time.perf_counter()

    def batch(self, input_rows: int) -> None:
        self.batches += 1
        self.input_rows += input_rows

    def figures(self, *paths: str) -> dict:
        ms = (time.perf_counter() - self.t0) * 1000
        counts = [count_files(p) for p in paths]
        return {
            "ms": ms,
            "batches": self.batches,
            "inputRows": self.input_rows,
            "batchMs": ms,
            "files": sum(c["files"] for c in counts),
            "parquet": sum(c["parquet"] for c in counts),
            "checkpointFiles": 0,
        }


def tables(root: str) -> dict:
    return {k: os.path.join(root, k) for k in STAGES + ["quarantine"]}


def run(name: str, versions: dict, medallion, check) -> None:
    """The command line of a peer: `python medallion.py --source DIR --work DIR --zones JSON
    [--max-files-per-trigger 10] [--iterations 2] [--check] [--keep]` (--batch-size is accepted and
    ignored: there is no model). versions: label -> Python distribution; medallion(args, paths, zones) ->
    stages; check(paths) -> figures."""
    p = argparse.ArgumentParser(prog=name)
    p.add_argument("--source", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--zones", required=True, help="JSON object: zone abbreviation -> offset in hours")
    p.add_argument("--max-files-per-trigger", type=int, default=10)
    p.add_argument("--iterations", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--check", action="store_true")
    p.add_argument("--keep", action="store_true", help="keep the tables of the last iteration")
    args = p.parse_args()
    zones = json.loads(args.zones)
    emit("ready", sessionMs=0, versions={"python": sys.version.split()[0], **{k: version(d) for k, d in versions.items()}})
    for i in range(args.iterations):
        root = os.path.join(args.work, f"iter-{i}")
        shutil.rmtree(root, ignore_errors=True)
        emit("iter-start", iter=i)
        t1 = time.perf_counter()
        stages = medallion(args, tables(root), zones)
        emit("iter-end", iter=i, ms=(time.perf_counter() - t1) * 1000, stages=stages)
        if args.check and i == 0:
            emit("check", iter=i, tables=check(tables(root)))
        if not (args.keep and i == args.iterations - 1):
            shutil.rmtree(root, ignore_errors=True)
    emit("done")
