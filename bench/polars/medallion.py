"""Peer of the benchmark (docs/BENCHMARKS.md): tweetlake's four medallion stages as a Polars + delta-rs
batch script, the way an engineer would write them today instead of Spark: Polars expressions, lazy
scans of the Delta tables (scan_delta) streamed into the next table (sink_delta, delta-rs underneath).
Same source files and rules as tweetlake (docs/pipeline.md) and the Spark reference; gold is the
benchmark fixture labeller. Events and check figures as bench/lib/peer.py says.

    python medallion.py --source DIR --work DIR --zones JSON [--max-files-per-trigger 10]
                        [--iterations 2] [--check] [--keep]

Bronze: Polars has no per-record JSON error handling (a bad line fails the whole decode, and a number
in a string column is silently turned into text), so each line is first matched against the grammar
of a JSON object whose keys are the four schema fields and whose values are strings or null; those
lines (all of a clean source) are decoded by Polars, any other line by Python's json, which applies
the rescued-data and quarantine rules. JSON Lines in UTF-8 only (lines end at \\n or \\r\\n).
"""

import json
import os
import sys
from datetime import datetime, timezone
from itertools import accumulate

import polars as pl

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import peer  # noqa: E402

_STR = r'"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*"'
_MEMBER = rf'\s*"(?:date|user|text|sentiment)"\s*:\s*(?:{_STR}|null)\s*'
CLEAN = rf"^\s*\{{(?:{_MEMBER}(?:,{_MEMBER})*)?\}}\s*$"
# Mention rules of docs/pipeline.md, without look-around (as RE2 in tweetlake): see bench/duckdb.
CANDIDATE = r"(?:^|[^A-Za-z0-9_@.])@[\p{L}\p{N}_]+@?"
STRIP = r"(^|[^A-Za-z0-9_@.])@[A-Za-z0-9_]{1,15}([^\p{L}\p{N}_@]|$)"
# RE2's \s (what tweetlake collapses); runs of two or more, or one that is not a space, become one space
# (the same result as replacing every run, with far fewer replacements)
WS = r"[\t\n\f\r ]"
DATE = r"^(?i)(?:mon|tue|wed|thu|fri|sat|sun) ([^\t\n\f\r ]+ [0-9]{1,2} [0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}) ([^\t\n\f\r ]+) ([0-9]{4})$"
STRUCT = pl.Struct({f: pl.String for f in peer.SCHEMA_FIELDS})
BRONZE = {**{f: pl.String for f in peer.SCHEMA_FIELDS}, "_rescued_data": pl.String, "source_file": pl.String}


def _reject(constant):
    raise ValueError(constant)


def classify(line: str):
    """Python's reading of one line that is not a clean object: (fields, rescued) or an error text."""
    try:
        v = json.loads(line, parse_constant=_reject)
    except ValueError:
        return peer.NOT_JSON
    if not isinstance(v, dict):
        kind = {list: "array", str: "string", bool: "boolean", type(None): "null"}.get(type(v), "number")
        return peer.NOT_AN_OBJECT[kind]
    fields = {f: v[f] if isinstance(v.get(f), str) else None for f in peer.SCHEMA_FIELDS}
    rest = {k: x for k, x in v.items() if k not in peer.SCHEMA_FIELDS or not (x is None or isinstance(x, str))}
    return fields, (json.dumps(rest, ensure_ascii=False, separators=(",", ":")) if rest else None)


def bronze_batch(files: list, bronze: str, quarantine: str) -> int:
    now = datetime.now(timezone.utc)
    frames, good, bad = [], [], []
    for f in files:
        with open(f, "rb") as fh:
            lines = [ln[:-1] if ln.endswith("\r") else ln for ln in fh.read().decode("utf-8").split("\n")]
        frames.append(pl.DataFrame({"line_number": range(1, len(lines) + 1), "line": lines}).with_columns(source_file=pl.lit(f)))
    df = pl.concat(frames).filter(pl.col("line").str.strip_chars(" \t\r\n") != "")
    clean = df["line"].str.contains(CLEAN)
    fast = df.filter(clean)
    rows = fast.select(pl.col("line").str.json_decode(STRUCT).struct.unnest(), pl.lit(None, pl.String).alias("_rescued_data"), "source_file")
    offsets = {}
    for r in df.filter(~clean).iter_rows(named=True):
        got = classify(r["line"])
        if isinstance(got, str):
            if r["source_file"] not in offsets:  # byte offsets of the lines of that file (each line + '\n')
                with open(r["source_file"], "rb") as fh:
                    offsets[r["source_file"]] = [0] + list(accumulate(len(x) + 1 for x in fh.read().split(b"\n")))
            bad.append({**r, "error": got, "byte_offset": offsets[r["source_file"]][r["line_number"] - 1]})
        else:
            good.append({**got[0], "_rescued_data": got[1], "source_file": r["source_file"]})
    if good:
        rows = pl.concat([rows, pl.DataFrame(good, schema=BRONZE)])
    rows.with_columns(processing_time=pl.lit(now, pl.Datetime("us", "UTC"))).write_delta(bronze, mode="append")
    if bad:
        pl.DataFrame(bad).select(
            "source_file", "line_number", pl.col("line").alias("raw_text"), "error", pl.lit("bronze_stream").alias("stream"),
            pl.lit(now, pl.Datetime("us", "UTC")).alias("quarantined_at"), "byte_offset", pl.lit(None, pl.String).alias("raw_bytes"),
        ).write_delta(quarantine, mode="append")
    return df.height


def silver(lf: pl.LazyFrame, zones: dict) -> pl.LazyFrame:
    d = pl.col("date")
    zone = d.str.extract(DATE, 2)
    numeric = pl.when(zone.str.starts_with("-")).then(-1).otherwise(1) * (
        zone.str.slice(1, 2).cast(pl.Int64, strict=False) * 60 + zone.str.slice(3, 2).cast(pl.Int64, strict=False)
    )
    named = zone.str.to_uppercase().replace_strict({z: int(round(h * 60)) for z, h in zones.items()}, default=None, return_dtype=pl.Int64)
    minutes = pl.when(zone.str.contains(r"^[+-][0-9]{4}$")).then(numeric).otherwise(named)
    local = (d.str.extract(DATE, 1) + " " + d.str.extract(DATE, 3)).str.strptime(pl.Datetime("us"), "%b %d %H:%M:%S %Y", strict=False)
    ts = (local - pl.duration(minutes=minutes)).dt.replace_time_zone("UTC")
    e = pl.element()
    found = pl.col("text").str.extract_all(CANDIDATE).list.eval(e.filter(~e.str.ends_with("@")))
    words = found.list.eval(e.str.extract(r"@([\p{L}\p{N}_]+)$", 1))
    handles = words.list.eval(e.filter(e.str.contains(r"^[A-Za-z0-9_]{1,15}$")))
    mentions = handles.list.eval(pl.lit("@") + e.str.to_lowercase()).list.unique(maintain_order=True)
    strip = lambda x: x.str.replace_all(STRIP, "${1}${2}")  # noqa: E731
    cleaned = strip(strip(pl.col("text"))).str.replace_all(f"{WS}{{2,}}|[\\t\\n\\f\\r]", " ").str.strip_chars(" ")
    return lf.select(
        ts.alias("timestamp"), mentions.alias("mention"), cleaned.alias("cleaned_text"), "sentiment"
    ).explode("mention", empty_as_null=True)


def gold(lf: pl.LazyFrame) -> pl.LazyFrame:
    n = pl.col("cleaned_text").fill_null("").str.len_bytes()
    label = (n % 3).replace_strict({0: "NEG", 1: "NEU", 2: "POS"}, return_dtype=pl.String)
    return lf.with_columns(predicted_sentiment=label, predicted_score=(n % 101).cast(pl.Float64)).with_columns(
        sentiment_id=pl.col("sentiment").str.to_lowercase().replace_strict(
            {"negative": 0, "positive": 1, "neutral": 2}, default=None, return_dtype=pl.Int32),
        predicted_sentiment_id=pl.col("predicted_sentiment").replace_strict(
            {"NEG": 0, "POS": 1, "NEU": 2}, default=None, return_dtype=pl.Int32),
    )


def application(lf: pl.LazyFrame) -> pl.LazyFrame:
    label = pl.col("predicted_sentiment")
    return lf.filter(pl.col("mention").is_not_null()).group_by("mention").agg(
        pl.col("timestamp").min().alias("min_timestamp"),
        pl.col("timestamp").max().alias("max_timestamp"),
        (label == "NEG").sum().cast(pl.Int64).alias("negative"),
        (label == "NEU").sum().cast(pl.Int64).alias("neutral"),
        (label == "POS").sum().cast(pl.Int64).alias("positive"),
        pl.len().cast(pl.Int64).alias("total"),
    )


def medallion(args, t: dict, zones: dict) -> dict:
    stages = {}
    s = peer.Stage("bronze")
    for files in peer.batches(peer.source_files(args.source), args.max_files_per_trigger):
        s.batch(bronze_batch(files, t["bronze"], t["quarantine"]))
    stages["bronze"] = s.figures(t["bronze"], t["quarantine"])
    for name, before, step, mode in [
        ("silver", "bronze", lambda lf: silver(lf, zones), "append"),
        ("gold", "silver", gold, "append"),
        ("application", "gold", application, "overwrite"),
    ]:
        s = peer.Stage(name)
        s.batch(peer.table_rows(t[before]))
        step(pl.scan_delta(t[before])).sink_delta(t[name], mode=mode)
        stages[name] = s.figures(t[name])
    return stages


def check(t: dict) -> dict:
    """Untimed: the figures of each table the runner compares with tweetlake's, computed by Polars."""
    r = {k: pl.scan_delta(t[k]) for k in peer.STAGES}
    c = pl.col
    epoch = lambda x: c(x).dt.epoch("s").sum().cast(pl.String)  # noqa: E731
    one = lambda lf, *exprs: {k: v[0] for k, v in lf.select(*exprs).collect().to_dict(as_series=False).items()}  # noqa: E731
    label = c("predicted_sentiment")
    return {
        "bronze": one(r["bronze"], pl.len().alias("rows"), c("text").drop_nulls().n_unique().alias("texts")),
        "silver": one(
            r["silver"], pl.len().alias("rows"), c("mention").count().alias("mentions"),
            c("mention").drop_nulls().n_unique().alias("handles"), c("timestamp").count().alias("timestamps"),
            epoch("timestamp").alias("ts_sum"), c("cleaned_text").str.len_bytes().cast(pl.Int64).sum().cast(pl.String).alias("text_bytes"),
        ),
        "gold": one(
            r["gold"], pl.len().alias("rows"), (label == "NEG").sum().alias("neg"), (label == "NEU").sum().alias("neu"),
            (label == "POS").sum().alias("pos"), c("sentiment_id").count().alias("sentiment_ids"),
        ),
        "application": one(
            r["application"], pl.len().alias("rows"),
            *[c(k).sum().cast(pl.String).alias(k) for k in ["total", "negative", "neutral", "positive"]],
            epoch("min_timestamp").alias("min_ts_sum"), epoch("max_timestamp").alias("max_ts_sum"),
            (c("mention").str.len_bytes().cast(pl.Int64) * c("total")).sum().cast(pl.String).alias("weighted"),
        ),
    }


if __name__ == "__main__":
    peer.run("polars-medallion", {"polars": "polars", "deltalake": "deltalake"}, medallion, check)
