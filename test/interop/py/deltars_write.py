"""Writes Delta tables with delta-rs (`write_deltalake`) for tweetlake to read.

    deltars_write.py --batch spec.json --out result.json     # spec: {"root": dir}

Tables (under root):
  rs_types   many types with nulls; appends, overwrite, create_checkpoint(), schema_mode="merge",
             optimize.compact(), delete (copy-on-write), vacuum
  rs_parts   partitioned by a string (null, empty and special characters) and an int (null)
  rs_ntz     timezone-less timestamps (timestampNtz feature)
  rs_binparts partitioned by a binary (emoji, control bytes, not UTF-8, null) and a string
Prints {name: {"path", "version"}}.
"""

import argparse
import datetime
import decimal
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pyarrow as pa  # noqa: E402
from canon import emit  # noqa: E402
from deltalake import DeltaTable, write_deltalake  # noqa: E402

UTC = datetime.timezone.utc


def typed(start, n, extra=False):
    ids = list(range(start, start + n))
    cols = {
        "id": pa.array(ids, pa.int64()),
        "int_col": pa.array([None if i % 5 == 0 else i % 3 for i in ids], pa.int32()),
        "short_col": pa.array([(i * 7) % 30000 - 20 for i in ids], pa.int16()),
        "byte_col": pa.array([i % 100 - 50 for i in ids], pa.int8()),
        "double_col": pa.array(
            [
                {1: float("nan"), 2: float("inf"), 3: float("-inf"), 4: -0.0, 5: None}.get(i % 11, i / 3.0)
                for i in ids
            ],
            pa.float64(),
        ),
        "float_col": pa.array([i / 7.0 for i in ids], pa.float32()),
        "dec_col": pa.array([decimal.Decimal(i * 125 - 300) / 100 for i in ids], pa.decimal128(10, 2)),
        "str_col": pa.array(
            [["str-%d" % i, "üñí€😀-%d" % i, "long" * 12 + str(i), None][i % 4] for i in ids], pa.string()
        ),
        "bool_col": pa.array([i % 2 == 0 for i in ids], pa.bool_()),
        "date_col": pa.array([datetime.date(2024, 2, 28) + datetime.timedelta(days=i) for i in ids], pa.date32()),
        "ts_col": pa.array(
            [datetime.datetime(2024, 1, 1, tzinfo=UTC) + datetime.timedelta(microseconds=i * 1000123) for i in ids],
            pa.timestamp("us", tz="UTC"),
        ),
        "bin_col": pa.array([b"bin%d" % i for i in ids], pa.binary()),
        "struct_col": pa.array(
            [None if i % 6 == 0 else {"a": i, "b": "x%d" % i} for i in ids],
            pa.struct([("a", pa.int32()), ("b", pa.string())]),
        ),
        "arr_col": pa.array([None if i % 7 == 0 else [i, None, i + 1] for i in ids], pa.list_(pa.int64())),
        "map_col": pa.array([[("k%d" % i, i), ("z", None)] for i in ids], pa.map_(pa.string(), pa.int32())),
    }
    if extra:
        cols["extra"] = pa.array(["extra-%d" % i for i in ids], pa.string())
    return pa.table(cols)


PARTS = ["a", "b c", "d/e", "f=g", "h%i", "ü€", "#x?", "q:r", None]


def partitioned(batch):
    rows = [(batch * 1000 + j * 10 + k, p, None if k == 2 else k, f"v{batch}-{j}-{k}") for j, p in enumerate(PARTS) for k in range(3)]
    return pa.table(
        {
            "id": pa.array([r[0] for r in rows], pa.int64()),
            "part": pa.array([r[1] for r in rows], pa.string()),
            "num": pa.array([r[2] for r in rows], pa.int32()),
            "value": pa.array([r[3] for r in rows], pa.string()),
        }
    )


def build(root):
    out = {}
    p = os.path.join(root, "rs_types")
    write_deltalake(p, typed(0, 20), mode="append")  # v0
    for b in range(1, 5):
        write_deltalake(p, typed(b * 100, 7), mode="append")  # v1..v4
    write_deltalake(p, typed(5000, 30), mode="overwrite")  # v5
    DeltaTable(p).create_checkpoint()
    write_deltalake(p, typed(6000, 5), mode="append")  # v6
    write_deltalake(p, typed(7000, 5, extra=True), mode="append", schema_mode="merge")  # v7
    dt = DeltaTable(p)
    dt.optimize.compact()  # v8
    DeltaTable(p).delete("id % 4 = 1")  # v9
    DeltaTable(p).vacuum(retention_hours=0, enforce_retention_duration=False, dry_run=False)  # v10, v11
    write_deltalake(p, typed(8000, 3, extra=True), mode="append")
    out["rs_types"] = {"path": p, "version": DeltaTable(p).version()}

    p = os.path.join(root, "rs_parts")
    write_deltalake(p, partitioned(0), mode="append", partition_by=["part", "num"])
    write_deltalake(p, partitioned(1), mode="append")
    DeltaTable(p).create_checkpoint()
    write_deltalake(p, partitioned(2), mode="append")
    out["rs_parts"] = {"path": p, "version": DeltaTable(p).version()}

    p = os.path.join(root, "rs_ntz")
    base = datetime.datetime(2024, 6, 1, 12, 30)
    for b in range(2):
        write_deltalake(
            p,
            pa.table(
                {
                    "id": pa.array(range(b * 10, b * 10 + 5), pa.int64()),
                    "ntz": pa.array(
                        [base + datetime.timedelta(minutes=i, microseconds=7 * i) for i in range(b * 10, b * 10 + 5)],
                        pa.timestamp("us"),
                    ),
                }
            ),
            mode="append",
        )
    out["rs_ntz"] = {"path": p, "version": DeltaTable(p).version()}

    p = os.path.join(root, "rs_binparts")
    binparts = pa.table(
        {
            "id": pa.array([1, 2, 3, 4, 5], pa.int64()),
            # no empty values: delta-rs 1.6 writes "" and reads it back as "", where PROTOCOL.md says null
            "b": pa.array(["😈".encode(), b"\x01\x02", b"plain", b"\xff\xfe", None], pa.binary()),
            "s": pa.array(["ü😈", "x/y=z", None, "%", "a"], pa.string()),
        }
    )
    write_deltalake(p, binparts, mode="append", partition_by=["b", "s"])
    out["rs_binparts"] = {"path": p, "version": DeltaTable(p).version()}
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", required=True)
    ap.add_argument("--out")
    args = ap.parse_args()
    with open(args.batch, encoding="utf-8") as f:
        spec = json.load(f)
    emit(build(spec["root"]), args.out)
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
