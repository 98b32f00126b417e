"""Reads Delta tables with delta-rs (the `deltalake` package) and prints what it sees as JSON.

    dump_deltalake.py <table> [--version N]
    dump_deltalake.py --batch spec.json [--out result.json]
        spec: [{"table": ..., "version": N?, "noRows"?, "reader": "pyarrow"?, "history"?, "vacuumDryRun"?,
                "storageOptions": {...}? (delta-rs storage_options, e.g. for s3:// tables)}, ...]

Per table: {table, version, files (sorted add paths as in the log), schema (Delta schema JSON),
partitionColumns, protocol, numRows, rows (canonical, see canon.py) or rowsError, reader}; or {table, error}
when delta-rs cannot load the table at all.
"""

import argparse
import json
import os
import sys
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pyarrow as pa  # noqa: E402
import pyarrow.dataset as pads  # noqa: E402
from canon import emit, rows_summary  # noqa: E402
from deltalake import DeltaTable, QueryBuilder  # noqa: E402


def short(err):
    text = f"{type(err).__name__}: {err}"
    return text if len(text) < 2000 else text[:2000] + "..."


def read_rows(dt, reader=None):
    """Rows through DataFusion (handles deletion vectors), else through a pyarrow dataset.

    reader='pyarrow' asks for the pyarrow dataset only, with INT96 timestamps read as microseconds
    (a second opinion where DataFusion is known to be wrong)."""
    errors = []
    if reader == "pyarrow":
        try:
            options = pads.ParquetReadOptions(coerce_int96_timestamp_unit="us")
            return dt.to_pyarrow_dataset(parquet_read_options=options).to_table(), "pyarrow", errors
        except Exception as err:  # noqa: BLE001
            return None, None, ["pyarrow: " + short(err)]
    try:
        stream = QueryBuilder().register("t", dt).execute("SELECT * FROM t")
        return pa.table(stream), "datafusion", errors
    except Exception as err:  # noqa: BLE001 - we report every engine error
        errors.append("datafusion: " + short(err))
    try:
        return dt.to_pyarrow_table(), "pyarrow", errors
    except Exception as err:  # noqa: BLE001
        errors.append("pyarrow: " + short(err))
    return None, None, errors


def dump(table, version=None, with_rows=True, reader=None, history=False, vacuum_dry_run=False, storage_options=None):
    out = {"table": table}
    if version is not None:
        out["requestedVersion"] = version
    try:
        dt = DeltaTable(table, version=version, storage_options=storage_options)
    except Exception as err:  # noqa: BLE001
        out["error"] = short(err)
        return out
    try:
        out["version"] = dt.version()
        out["schema"] = dt.schema().to_json()
        md = dt.metadata()
        out["partitionColumns"] = list(md.partition_columns)
        out["configuration"] = dict(md.configuration)
        p = dt.protocol()
        out["protocol"] = {
            "minReaderVersion": p.min_reader_version,
            "minWriterVersion": p.min_writer_version,
            "readerFeatures": p.reader_features,
            "writerFeatures": p.writer_features,
        }
        adds = pa.table(dt.get_add_actions(flatten=True))
        out["files"] = sorted(adds.column("path").to_pylist()) if adds.num_rows else []
    except Exception as err:  # noqa: BLE001
        out["error"] = short(err)
        return out
    if history:
        try:
            out["history"] = sorted(
                ({"version": h.get("version"), "operation": h.get("operation")} for h in dt.history()),
                key=lambda h: h["version"],
            )
        except Exception as err:  # noqa: BLE001
            out["historyError"] = short(err)
    if vacuum_dry_run:
        try:
            out["vacuumDryRun"] = sorted(dt.vacuum(retention_hours=0, dry_run=True, enforce_retention_duration=False))
        except Exception as err:  # noqa: BLE001
            out["vacuumError"] = short(err)
    if with_rows:
        table_rows, used, errors = read_rows(dt, reader)
        if table_rows is None:
            out["rowsError"] = "; ".join(errors)
        else:
            out["reader"] = used
            out["arrowSchema"] = str(table_rows.schema)
            try:
                out.update(rows_summary(table_rows))
            except Exception as err:  # noqa: BLE001
                out["rowsError"] = "canonicalise: " + short(err) + "\n" + traceback.format_exc()
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("table", nargs="?")
    ap.add_argument("--version", type=int)
    ap.add_argument("--batch")
    ap.add_argument("--out")
    ap.add_argument("--no-rows", action="store_true")
    args = ap.parse_args()
    if args.batch:
        with open(args.batch, encoding="utf-8") as f:
            spec = json.load(f)
        result = [
            dump(
                s["table"],
                s.get("version"),
                not s.get("noRows", args.no_rows),
                s.get("reader"),
                s.get("history", False),
                s.get("vacuumDryRun", False),
                s.get("storageOptions"),
            )
            for s in spec
        ]
    elif args.table:
        result = dump(args.table, args.version, not args.no_rows)
    else:
        ap.error("give a table or --batch")
    emit(result, args.out)
    # delta-rs' runtime can abort while the interpreter shuts down; the result is already written.
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
