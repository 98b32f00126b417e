"""delta-rs (`deltalake`) writing Delta tables on an S3 server, for tweetlake to read and to race.

    deltars_s3.py --batch spec.json --out result.json

spec: {"op": ..., "storageOptions": {...}, ...}; storageOptions are delta-rs storage_options (endpoint,
credentials, region, AWS_ALLOW_HTTP, conditional_put). Ops:
  build    {"root": "s3://bucket/prefix"}   rs_types: appends, overwrite, create_checkpoint(), append,
           optimize.compact(), delete; rs_parts: partitioned by a string (null and special characters) and an
           int, append, create_checkpoint(), append. Result: {name: {"path", "version"}}.
  appends  {"table", "writer", "count", "startAt", "pauseMs"}   waits until startAt (ms since the epoch), then
           appends `count` single-row commits {writer, seq}, pausing pauseMs after each;
           result: {"versions": [...], "seconds"}.
  one_append {"table", "writer", "seq"}   a single append; result {"version"} (the one it committed) or {"error"}.
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pyarrow as pa  # noqa: E402
from canon import emit  # noqa: E402
from deltalake import DeltaTable, write_deltalake  # noqa: E402
from deltars_write import partitioned, typed  # noqa: E402


def build(spec, opts):
    root = spec["root"].rstrip("/")
    out = {}
    p = f"{root}/rs_types"
    write_deltalake(p, typed(0, 20), mode="append", storage_options=opts)  # v0
    for b in range(1, 3):
        write_deltalake(p, typed(b * 100, 7), mode="append", storage_options=opts)  # v1, v2
    write_deltalake(p, typed(5000, 30), mode="overwrite", storage_options=opts)  # v3
    DeltaTable(p, storage_options=opts).create_checkpoint()
    write_deltalake(p, typed(6000, 5), mode="append", storage_options=opts)  # v4
    DeltaTable(p, storage_options=opts).optimize.compact()  # v5
    DeltaTable(p, storage_options=opts).delete("id % 4 = 1")  # v6
    out["rs_types"] = {"path": p, "version": DeltaTable(p, storage_options=opts).version()}

    p = f"{root}/rs_parts"
    write_deltalake(p, partitioned(0), mode="append", partition_by=["part", "num"], storage_options=opts)
    write_deltalake(p, partitioned(1), mode="append", storage_options=opts)
    DeltaTable(p, storage_options=opts).create_checkpoint()
    write_deltalake(p, partitioned(2), mode="append", storage_options=opts)
    out["rs_parts"] = {"path": p, "version": DeltaTable(p, storage_options=opts).version()}
    return out


def row(writer, seq):
    return pa.table({"writer": pa.array([writer], pa.string()), "seq": pa.array([seq], pa.int64())})


def appends(spec, opts):
    dt = DeltaTable(spec["table"], storage_options=opts)
    delay = spec["startAt"] / 1000 - time.time()
    if delay > 0:
        time.sleep(delay)
    started = time.time()
    versions = []
    for seq in range(spec["count"]):
        write_deltalake(dt, row(spec["writer"], seq), mode="append")
        versions.append(dt.version())  # the version this append committed
        time.sleep(spec.get("pauseMs", 0) / 1000)
    return {"versions": versions, "seconds": round(time.time() - started, 3)}


def one_append(spec, opts):
    try:
        dt = DeltaTable(spec["table"], storage_options=opts)
        write_deltalake(dt, row(spec["writer"], spec["seq"]), mode="append")
        return {"version": dt.version()}
    except Exception as err:  # noqa: BLE001 - the test asserts on the refusal
        return {"error": f"{type(err).__name__}: {err}"[:2000]}


OPS = {"build": build, "appends": appends, "one_append": one_append}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", required=True)
    ap.add_argument("--out")
    args = ap.parse_args()
    with open(args.batch, encoding="utf-8") as f:
        spec = json.load(f)
    emit(OPS[spec["op"]](spec, spec["storageOptions"]), args.out)
    sys.stdout.flush()
    # delta-rs' runtime can abort while the interpreter shuts down; the result is already written.
    os._exit(0)


if __name__ == "__main__":
    main()
