"""Peer of the benchmark (docs/BENCHMARKS.md): tweetlake's four medallion stages as a DuckDB (Python) +
delta-rs batch script, the way an engineer would write them today instead of Spark: SQL in DuckDB,
Delta tables written with deltalake.write_deltalake from DuckDB's Arrow stream, read back as Arrow
datasets that DuckDB scans. Same source files and rules as tweetlake (docs/pipeline.md) and the Spark
reference; gold is the benchmark fixture labeller. Events and check figures as bench/lib/peer.py says.

    python medallion.py --source DIR --work DIR --zones JSON [--max-files-per-trigger 10]
                        [--iterations 2] [--check] [--keep]

Bronze covers JSON Lines files (lines end at \\n or \\r\\n) in UTF-8; JSON array, .gz, CR-only and
non-UTF-8 files are tweetlake's alone (the benchmark's generated sources are JSON Lines).
"""

import os
import sys
from datetime import datetime, timezone

import duckdb
from deltalake import DeltaTable, write_deltalake

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import peer  # noqa: E402

# Mention rules of docs/pipeline.md in RE2 (no look-around): a candidate is '@' after the start or a
# character that is not an ASCII letter, digit, '_', '@' or '.', then the whole word (letters of any
# script); it is a mention when the word is 1-15 ASCII handle characters and no '@' follows it.
CANDIDATE = r"(?:^|[^A-Za-z0-9_@.])@[\p{L}\p{N}_]+@?"
HANDLE = r"[A-Za-z0-9_]{1,15}"
# A mention with the characters around it (kept when stripping); two passes, since a match consumes
# the character after a mention, which may be the one before the next.
STRIP = r"(^|[^A-Za-z0-9_@.])@[A-Za-z0-9_]{1,15}([^\p{L}\p{N}_@]|$)"
DATE = r"^(?i)(?:mon|tue|wed|thu|fri|sat|sun) (\S+ \d{1,2} \d{1,2}:\d{1,2}:\d{1,2}) (\S+) (\d{4})$"
ROWS_PER_BATCH = 122_880  # DuckDB's row group size: the Arrow stream's batches


def q(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def bronze_batch(con, files: list, bronze: str, quarantine: str) -> int:
    """One batch of source files -> bronze rows (+ rescued data) and quarantine rows; returns the
    input records."""
    now = datetime.now(timezone.utc)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE lines AS
        SELECT source_file, line_number, line, CASE
            WHEN NOT json_valid(line) THEN {q(peer.NOT_JSON)}
            ELSE CASE json_type(line) WHEN 'OBJECT' THEN NULL WHEN 'ARRAY' THEN {q(peer.NOT_AN_OBJECT['array'])}
              WHEN 'VARCHAR' THEN {q(peer.NOT_AN_OBJECT['string'])} WHEN 'BOOLEAN' THEN {q(peer.NOT_AN_OBJECT['boolean'])}
              WHEN 'NULL' THEN {q(peer.NOT_AN_OBJECT['null'])} ELSE {q(peer.NOT_AN_OBJECT['number'])} END
          END AS error
        FROM (SELECT filename AS source_file, rtrim(unnest(l), chr(13)) AS line, generate_subscripts(l, 1) AS line_number
              FROM (SELECT filename, string_split(content, chr(10)) AS l FROM read_text(?)))
        -- blank lines are no records (trim only where the line is not JSON: it costs more than the parse)
        WHERE json_valid(line) OR trim(line, ' ' || chr(9) || chr(10) || chr(13)) <> ''""",
        [files],
    )
    fields = ", ".join(q(f) for f in peer.SCHEMA_FIELDS)
    paths = ", ".join(q(f"$.{f}") for f in peer.SCHEMA_FIELDS)
    cols = ", ".join(
        f"CASE WHEN t[{i + 1}] = 'VARCHAR' THEN v[{i + 1}] END AS \"{f}\"" for i, f in enumerate(peer.SCHEMA_FIELDS)
    )
    # rescued: keys the schema does not know and schema fields whose value is not a string (or null)
    rescued = f"""CASE WHEN list_has_any(t, ['BIGINT', 'UBIGINT', 'DOUBLE', 'BOOLEAN', 'OBJECT', 'ARRAY'])
        OR NOT list_has_all([{fields}], json_keys(line)) THEN
        (SELECT '{{' || string_agg(to_json(k)::VARCHAR || ':' || json_extract(line, '$."' || k || '"')::VARCHAR, ',') || '}}'
         FROM (SELECT unnest(json_keys(line)) AS k)
         WHERE NOT list_contains([{fields}], k) OR json_type(line, '$."' || k || '"') NOT IN ('VARCHAR', 'NULL')) END"""
    rows = con.execute(
        f"""SELECT {cols}, {rescued} AS _rescued_data, source_file, ?::TIMESTAMPTZ AS processing_time
        FROM (SELECT line, source_file, json_extract_string(line, [{paths}]) AS v, json_type(line, [{paths}]) AS t
              FROM lines WHERE error IS NULL)""",
        [now],
    ).to_arrow_reader(ROWS_PER_BATCH)
    write_deltalake(bronze, rows, mode="append")
    n, bad = con.execute("SELECT count(*), count(error) FROM lines").fetchone()
    if bad:
        # byte offsets only where there are quarantine rows (each line + its '\n'; CRLF counted as 2)
        bad_rows = con.execute(
            """SELECT source_file, line_number, line AS raw_text, error, 'bronze_stream' AS stream,
                 ?::TIMESTAMPTZ AS quarantined_at, byte_offset, NULL::VARCHAR AS raw_bytes
            FROM (SELECT *, sum(strlen(l) + 1) OVER (PARTITION BY source_file ORDER BY line_number)::BIGINT - strlen(l) - 1 AS byte_offset
                  FROM (SELECT filename AS source_file, unnest(s) AS l, generate_subscripts(s, 1) AS line_number
                        FROM (SELECT filename, string_split(content, chr(10)) AS s FROM read_text(?))))
            JOIN lines USING (source_file, line_number) WHERE error IS NOT NULL""",
            [now, files],
        ).to_arrow_reader(ROWS_PER_BATCH)
        write_deltalake(quarantine, bad_rows, mode="append")
    return n


def silver_sql(zones: dict) -> str:
    cases = " ".join(f"WHEN {q(z)} THEN {int(round(h * 60))}" for z, h in zones.items())
    zone = "d.zone"
    minutes = f"""CASE WHEN regexp_matches({zone}, '^[+-]\\d{{4}}$')
        THEN (CASE WHEN starts_with({zone}, '-') THEN -1 ELSE 1 END)
             * (CAST(substr({zone}, 2, 2) AS INTEGER) * 60 + CAST(substr({zone}, 4, 2) AS INTEGER))
        ELSE CASE upper({zone}) {cases} END END"""
    local = "try_strptime(d.local || ' ' || d.year, '%b %d %H:%M:%S %Y')"
    ts = f"CAST({local} - to_minutes(CAST({minutes} AS BIGINT)) AS TIMESTAMPTZ)"
    mentions = f"""list_distinct(list_transform(list_filter(list_transform(
        list_filter(regexp_extract_all(text, {q(CANDIDATE)}, 0), m -> NOT ends_with(m, '@')),
        m -> regexp_extract(m, '@([\\p{{L}}\\p{{N}}_]+)$', 1)), h -> regexp_full_match(h, {q(HANDLE)})), h -> '@' || lower(h)))"""
    strip = lambda x: f"regexp_replace({x}, {q(STRIP)}, '\\1\\2', 'g')"  # noqa: E731
    cleaned = f"trim(regexp_replace({strip(strip('text'))}, '[\\t\\n\\f\\r ]{{2,}}|[\\t\\n\\f\\r]', ' ', 'g'))"
    return f"""SELECT "timestamp", unnest(CASE WHEN coalesce(len(ms), 0) = 0 THEN [NULL::VARCHAR] ELSE ms END) AS mention,
        cleaned_text, sentiment
      FROM (SELECT {ts} AS "timestamp", {mentions} AS ms, {cleaned} AS cleaned_text, sentiment
            FROM (SELECT *, regexp_extract(date, {q(DATE)}, ['local', 'zone', 'year']) AS d FROM bronze))"""


GOLD = """SELECT "timestamp", mention, cleaned_text, sentiment, predicted_sentiment, predicted_score,
    CASE lower(sentiment) WHEN 'negative' THEN 0 WHEN 'positive' THEN 1 WHEN 'neutral' THEN 2 END AS sentiment_id,
    CASE predicted_sentiment WHEN 'NEG' THEN 0 WHEN 'POS' THEN 1 WHEN 'NEU' THEN 2 END AS predicted_sentiment_id
  FROM (SELECT *, CAST(n % 101 AS DOUBLE) AS predicted_score, ['NEG', 'NEU', 'POS'][n % 3 + 1] AS predicted_sentiment
        FROM (SELECT *, strlen(coalesce(cleaned_text, '')) AS n FROM silver))"""

APPLICATION = """SELECT mention, min("timestamp") AS min_timestamp, max("timestamp") AS max_timestamp,
    count(*) FILTER (WHERE predicted_sentiment = 'NEG') AS negative,
    count(*) FILTER (WHERE predicted_sentiment = 'NEU') AS neutral,
    count(*) FILTER (WHERE predicted_sentiment = 'POS') AS positive, count(*) AS total
  FROM gold WHERE mention IS NOT NULL GROUP BY mention"""


def connect():
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    return con


def read(con, name: str, path: str) -> None:
    """A view of a Delta table's current snapshot: the Parquet files delta-rs lists, read by DuckDB's
    own multi-threaded reader (as DuckDB's delta extension would; it is not bundled with the wheel and
    needs a download). Plain reads are right here: delta-rs appends, no deletion vectors or column
    mapping. Scanning delta-rs's Arrow dataset instead takes about 4x as long (measured at 100k)."""
    uris = DeltaTable(path).file_uris()
    if uris:
        con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * FROM read_parquet([{', '.join(q(u) for u in uris)}])")
    else:
        con.register(name, DeltaTable(path).to_pyarrow_dataset())


def medallion(args, t: dict, zones: dict) -> dict:
    con = connect()
    stages = {}
    s = peer.Stage("bronze")
    for files in peer.batches(peer.source_files(args.source), args.max_files_per_trigger):
        s.batch(bronze_batch(con, files, t["bronze"], t["quarantine"]))
    stages["bronze"] = s.figures(t["bronze"], t["quarantine"])
    for name, before, sql, mode in [
        ("silver", "bronze", silver_sql(zones), "append"),
        ("gold", "silver", GOLD, "append"),
        ("application", "gold", APPLICATION, "overwrite"),
    ]:
        s = peer.Stage(name)
        read(con, before, t[before])
        s.batch(peer.table_rows(t[before]))
        write_deltalake(t[name], con.execute(sql).to_arrow_reader(ROWS_PER_BATCH), mode=mode)
        stages[name] = s.figures(t[name])
    con.close()
    return stages


def check(t: dict) -> dict:
    """Untimed: the figures of each table the runner compares with tweetlake's."""
    con = connect()
    for name in peer.STAGES:
        read(con, name, t[name])

    def one(sql):
        cur = con.execute(sql)
        names = [d[0] for d in cur.description]
        return dict(zip(names, cur.fetchone()))

    epoch = lambda c: f"CAST(epoch({c}) AS BIGINT)"  # noqa: E731
    out = {
        "bronze": one("SELECT count(*) AS rows, count(DISTINCT text) AS texts FROM bronze"),
        "silver": one(
            f"""SELECT count(*) AS rows, count(mention) AS mentions, count(DISTINCT mention) AS handles,
                count("timestamp") AS timestamps, CAST(sum({epoch('"timestamp"')}) AS VARCHAR) AS ts_sum,
                CAST(sum(strlen(cleaned_text)) AS VARCHAR) AS text_bytes FROM silver"""
        ),
        "gold": one(
            """SELECT count(*) AS rows, count(*) FILTER (WHERE predicted_sentiment = 'NEG') AS neg,
                count(*) FILTER (WHERE predicted_sentiment = 'NEU') AS neu,
                count(*) FILTER (WHERE predicted_sentiment = 'POS') AS pos, count(sentiment_id) AS sentiment_ids FROM gold"""
        ),
        "application": one(
            f"""SELECT count(*) AS rows, CAST(sum(total) AS VARCHAR) AS total, CAST(sum(negative) AS VARCHAR) AS negative,
                CAST(sum(neutral) AS VARCHAR) AS neutral, CAST(sum(positive) AS VARCHAR) AS positive,
                CAST(sum({epoch('min_timestamp')}) AS VARCHAR) AS min_ts_sum,
                CAST(sum({epoch('max_timestamp')}) AS VARCHAR) AS max_ts_sum,
                CAST(sum(strlen(mention) * total) AS VARCHAR) AS weighted FROM application"""
        ),
    }
    con.close()
    return out


if __name__ == "__main__":
    peer.run("duckdb-medallion", {"duckdb (Python)": "duckdb", "deltalake": "deltalake", "pyarrow": "pyarrow"}, medallion, check)
