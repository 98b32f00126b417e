"""Reference implementation of tweetlake's medallion stages in PySpark + delta-spark (see
docs/BENCHMARKS.md). Same source files, same rules, same Delta output, run the way the original notebook
runs them: one Structured Streaming query per stage, each with trigger(availableNow=True), one after
another, in local mode on every core.

    python medallion.py --source DIR --work DIR --zones JSON [--max-files-per-trigger 10]
                        [--iterations 2] [--model HF_DIR] [--gold-mode rows|distinct] [--batch-size 32]
                        [--cores N] [--check]

Iteration 1 runs in the freshly started JVM (cold); later iterations reuse the session (warm). Every
iteration writes to a fresh folder under --work and deletes it afterwards. Progress goes to stdout as
lines `@@bench {json}` (the runner, bench/main.ts, reads them); Spark's own logging goes to stderr.

Stages (tables <work>/iter-K/<name>, checkpoints <work>/iter-K/_checkpoints/<stream>):
  bronze       JSON Lines -> date, user, text, sentiment (strings), source_file, processing_time
  silver       timestamp (UTC, zone abbreviations as src/pipeline/silver.ts ZONE_OFFSETS, passed in
               --zones), one row per distinct mention, '@' + the lower-cased handle (explode_outer), cleaned_text, sentiment
  gold         without --model: the benchmark fixture labeller (label from the UTF-8 length of
               cleaned_text, as bench/tweetlake/fixture-labeller.ts), a built-in Spark expression;
               with --model: the ONNX model through onnxruntime + tokenizers in a pandas UDF
               (bench/spark/ort_model.py), per row (--gold-mode rows, how a Spark user writes it) or
               once per distinct text of each micro-batch (--gold-mode distinct, what tweetlake does)
  application  per-mention min/max timestamp and counts of predicted labels (streaming aggregation,
               output mode complete)
"""

import argparse
import json
import os
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# Mention rules of src/pipeline/silver.ts (docs/pipeline.md), in Java regex: '@' not preceded by an ASCII
# letter, digit, '_', '@' or '.'; 1-15 handle characters; then not a letter/digit of any script, '_' or '@'.
# tweetlake (RE2, no look-around) consumes the neighbouring characters and checks them in SQL; the
# look-around form accepts exactly the same mentions.
MENTION = r"(?<![A-Za-z0-9_@.])@([A-Za-z0-9_]{1,15})(?![\p{L}\p{N}_@])"
MENTION_STRIP = r"(?<![A-Za-z0-9_@.])@[A-Za-z0-9_]{1,15}(?![\p{L}\p{N}_@])"
# RE2's \s (what tweetlake's SQL collapses): tab, newline, form feed, carriage return, space (no \v).
SPACES = r"[\t\n\f\r ]+"
# tweetlake's parse: weekday abbreviation, month abbreviation, day, h:m:s, zone, year (case-insensitive).
DATE = r"^(?i)(?:mon|tue|wed|thu|fri|sat|sun) (\S+ \d{1,2} \d{1,2}:\d{1,2}:\d{1,2}) (\S+) (\d{4})$"


def emit(event: str, **fields) -> None:
    sys.stdout.write("@@bench " + json.dumps({"ev": event, **fields}) + "\n")
    sys.stdout.flush()


def spark_session(cores: str):
    from delta import configure_spark_with_delta_pip
    from pyspark.sql import SparkSession

    n = cores or "*"
    builder = (
        SparkSession.builder.master(f"local[{n}]")
        .appName("tweetlake-bench-spark")
        .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
        .config("spark.driver.memory", "2g")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.extraJavaOptions", "-Duser.timezone=UTC")
        # Tuned for one machine (the defaults, 200 shuffle partitions and 50 Delta snapshot partitions,
        # are made for clusters and cost seconds per micro-batch on two cores).
        .config("spark.sql.shuffle.partitions", str(os.cpu_count() if n == "*" else n))
        .config("spark.databricks.delta.snapshotPartitions", str(os.cpu_count() if n == "*" else n))
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.jars.ivy", os.path.join(os.path.expanduser("~"), ".ivy2"))
    )
    spark = configure_spark_with_delta_pip(builder).getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def count_files(path: str) -> dict:
    files = parquet = 0
    for _, _, names in os.walk(path):
        for name in names:
            files += 1
            parquet += name.endswith(".parquet")
    return {"files": files, "parquet": parquet}


def run_stream(name: str, df, path: str, checkpoint: str, mode: str = "append", foreach=None):
    """Runs one stage as an availableNow streaming query; returns its timing and progress totals."""
    t0 = time.perf_counter()
    emit("stage-start", stage=name)
    writer = df.writeStream.queryName(name).option("checkpointLocation", checkpoint).trigger(availableNow=True)
    if foreach is not None:
        q = writer.foreachBatch(foreach).start()
    else:
        q = writer.format("delta").outputMode(mode).start(path)
    q.awaitTermination()
    ms = (time.perf_counter() - t0) * 1000
    progress = q.recentProgress
    batches = [p for p in progress if p.get("numInputRows", 0) > 0 or p.get("batchId", -1) >= 0]
    return {
        "ms": ms,
        "batches": len(batches),
        "inputRows": sum(p.get("numInputRows", 0) for p in batches),
        "batchMs": sum(p.get("durationMs", {}).get("triggerExecution", 0) for p in batches),
    }


def medallion(spark, args, root: str, zones: dict) -> dict:
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType, StructField, StructType

    t = {k: os.path.join(root, k) for k in ["bronze", "silver", "gold", "application"]}
    cp = {k: os.path.join(root, "_checkpoints", f"{k}_stream") for k in t}
    mfpt = str(args.max_files_per_trigger)
    stages = {}

    # bronze: the four source strings, the file, the time of reading
    schema = StructType([StructField(n, StringType()) for n in ["date", "user", "text", "sentiment"]])
    raw = spark.readStream.schema(schema).option("maxFilesPerTrigger", mfpt).json(args.source)
    bronze = raw.select(
        "date", "user", "text", "sentiment",
        F.col("_metadata.file_path").alias("source_file"),
        F.current_timestamp().alias("processing_time"),
    )
    stages["bronze"] = run_stream("bronze_stream", bronze, t["bronze"], cp["bronze"])

    # silver: UTC timestamp, distinct mentions ('@' + lower-cased handle) exploded (outer), cleaned text
    b = spark.readStream.format("delta").option("maxFilesPerTrigger", mfpt).load(t["bronze"])
    zone = F.regexp_extract("date", DATE, 2)
    offsets = F.create_map(*[x for z, h in zones.items() for x in (F.lit(z), F.lit(int(round(h * 60))))])
    numeric = F.when(zone.startswith("-"), -1).otherwise(1) * (
        F.substring(zone, 2, 2).cast("int") * 60 + F.substring(zone, 4, 2).cast("int")
    )
    minutes = F.when(zone.rlike(r"^[+-]\d{4}$"), numeric).otherwise(offsets[F.upper(zone)])
    local_text = F.concat_ws(" ", F.regexp_extract("date", DATE, 1), F.regexp_extract("date", DATE, 3))
    local = F.unix_timestamp(F.to_timestamp(F.when(zone != "", local_text), "MMM d H:m:s yyyy"))
    ts = F.timestamp_seconds(local - minutes * 60)
    mentions = F.array_distinct(F.transform(F.regexp_extract_all("text", F.lit(MENTION), 1), lambda m: F.concat(F.lit("@"), F.lower(m))))
    cleaned = F.trim(F.regexp_replace(F.regexp_replace("text", MENTION_STRIP, ""), SPACES, " "))
    silver = b.select(
        ts.alias("timestamp"), mentions.alias("ms"), cleaned.alias("cleaned_text"), "sentiment"
    ).select("timestamp", F.explode_outer("ms").alias("mention"), "cleaned_text", "sentiment")
    stages["silver"] = run_stream("silver_stream", silver, t["silver"], cp["silver"])

    # gold: the model's (or the fixture's) label and score, and the id columns
    s = spark.readStream.format("delta").option("maxFilesPerTrigger", mfpt).load(t["silver"])

    def ids(df):
        return df.withColumn(
            "sentiment_id",
            F.expr("CASE lower(sentiment) WHEN 'negative' THEN 0 WHEN 'positive' THEN 1 WHEN 'neutral' THEN 2 END"),
        ).withColumn(
            "predicted_sentiment_id",
            F.expr("CASE predicted_sentiment WHEN 'NEG' THEN 0 WHEN 'POS' THEN 1 WHEN 'NEU' THEN 2 END"),
        )

    text = F.coalesce(F.col("cleaned_text"), F.lit(""))
    if not args.model:
        n = F.octet_length(text)
        gold = ids(s.select(
            "timestamp", "mention", "cleaned_text", "sentiment",
            (n % 101).cast("double").alias("predicted_score"),
            F.element_at(F.array(F.lit("NEG"), F.lit("NEU"), F.lit("POS")), (n % 3 + 1).cast("int")).alias("predicted_sentiment"),
        ))
        stages["gold"] = run_stream("gold_stream", gold, t["gold"], cp["gold"])
    else:
        predict = model_udf(args)
        if args.gold_mode == "rows":
            scored = s.repartition(spark.sparkContext.defaultParallelism).withColumn("p", predict(text))
            gold = ids(scored.select(
                "timestamp", "mention", "cleaned_text", "sentiment",
                F.col("p.predicted_score").alias("predicted_score"),
                F.col("p.predicted_sentiment").alias("predicted_sentiment"),
            ))
            stages["gold"] = run_stream("gold_stream", gold, t["gold"], cp["gold"])
        else:
            app_id = f"gold-{os.path.basename(root)}"

            def score_distinct(batch_df, batch_id):
                texts = batch_df.select(text.alias("k")).distinct()
                texts = texts.repartition(spark.sparkContext.defaultParallelism).withColumn("p", predict(F.col("k")))
                joined = batch_df.join(texts, text == F.col("k"), "left")
                out = ids(joined.select(
                    "timestamp", "mention", "cleaned_text", "sentiment",
                    F.col("p.predicted_score").alias("predicted_score"),
                    F.col("p.predicted_sentiment").alias("predicted_sentiment"),
                ))
                (out.write.format("delta").mode("append").option("txnAppId", app_id)
                    .option("txnVersion", batch_id).save(t["gold"]))

            stages["gold"] = run_stream("gold_stream", s, t["gold"], cp["gold"], foreach=score_distinct)

    # application: per-mention aggregation of gold, the whole table rewritten per batch (complete)
    g = spark.readStream.format("delta").option("maxFilesPerTrigger", mfpt).load(t["gold"])
    label = F.col("predicted_sentiment")
    app = g.where("mention IS NOT NULL").groupBy("mention").agg(
        F.min("timestamp").alias("min_timestamp"),
        F.max("timestamp").alias("max_timestamp"),
        F.count(F.when(label == "NEG", 1)).alias("negative"),
        F.count(F.when(label == "NEU", 1)).alias("neutral"),
        F.count(F.when(label == "POS", 1)).alias("positive"),
        F.count(F.lit(1)).alias("total"),
    )
    stages["application"] = run_stream("application_stream", app, t["application"], cp["application"], mode="complete")

    for k in stages:
        stages[k].update(count_files(t[k]))
        cf = count_files(cp[k])
        stages[k]["files"] += cf["files"]
        stages[k]["checkpointFiles"] = cf["files"]
    return stages


def model_udf(args):
    """The pandas UDF that scores texts with onnxruntime + tokenizers (bench/spark/ort_model.py)."""
    import pandas as pd
    from pyspark.sql import functions as F

    model_dir, batch, max_length = args.model, args.batch_size, args.max_length

    @F.pandas_udf("predicted_sentiment string, predicted_score double")
    def predict(texts: pd.Series) -> pd.DataFrame:
        import ort_model  # shipped to the Python workers with addPyFile; loads the session once per worker

        labels, scores = ort_model.classify(model_dir, list(texts), batch, max_length)
        return pd.DataFrame({"predicted_sentiment": labels, "predicted_score": scores})

    return predict


def check(spark, root: str) -> dict:
    """Untimed: figures of each table that both systems must agree on (compared by the runner)."""
    def one(sql):
        return spark.sql(sql).collect()[0].asDict()

    d = lambda name: f"delta.`{os.path.join(root, name)}`"  # noqa: E731
    return {
        "bronze": one(f"SELECT count(*) AS rows, count(DISTINCT text) AS texts FROM {d('bronze')}"),
        "silver": one(
            f"""SELECT count(*) AS rows, count(mention) AS mentions, count(DISTINCT mention) AS handles,
                count(timestamp) AS timestamps, CAST(sum(unix_seconds(timestamp)) AS STRING) AS ts_sum,
                CAST(sum(octet_length(cleaned_text)) AS STRING) AS text_bytes FROM {d('silver')}"""
        ),
        "gold": one(
            f"""SELECT count(*) AS rows, count_if(predicted_sentiment = 'NEG') AS neg,
                count_if(predicted_sentiment = 'NEU') AS neu, count_if(predicted_sentiment = 'POS') AS pos,
                count(sentiment_id) AS sentiment_ids FROM {d('gold')}"""
        ),
        "application": one(
            f"""SELECT count(*) AS rows, CAST(sum(total) AS STRING) AS total, CAST(sum(negative) AS STRING) AS negative,
                CAST(sum(neutral) AS STRING) AS neutral, CAST(sum(positive) AS STRING) AS positive,
                CAST(sum(unix_seconds(min_timestamp)) AS STRING) AS min_ts_sum,
                CAST(sum(unix_seconds(max_timestamp)) AS STRING) AS max_ts_sum,
                CAST(sum(octet_length(mention) * total) AS STRING) AS weighted FROM {d('application')}"""
        ),
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--source", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--zones", required=True, help="JSON object: zone abbreviation -> offset in hours")
    p.add_argument("--max-files-per-trigger", type=int, default=10)
    p.add_argument("--iterations", type=int, default=2)
    p.add_argument("--model", default="", help="Hugging Face layout folder of the ONNX model (gold with the model)")
    p.add_argument("--gold-mode", choices=["rows", "distinct"], default="rows")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--cores", default="")
    p.add_argument("--check", action="store_true")
    p.add_argument("--keep", action="store_true", help="keep the tables of the last iteration")
    args = p.parse_args()
    zones = json.loads(args.zones)

    t0 = time.perf_counter()
    spark = spark_session(args.cores)
    if args.model:
        spark.sparkContext.addPyFile(os.path.join(HERE, "ort_model.py"))
    import pyspark
    import delta  # noqa: F401

    emit(
        "ready",
        sessionMs=(time.perf_counter() - t0) * 1000,
        versions={
            "pyspark": pyspark.__version__,
            "delta-spark": _version("delta-spark"),
            "java": spark.sparkContext._jvm.System.getProperty("java.version"),
            "python": sys.version.split()[0],
            **({"onnxruntime": _version("onnxruntime"), "tokenizers": _version("tokenizers")} if args.model else {}),
        },
        parallelism=spark.sparkContext.defaultParallelism,
    )
    for i in range(args.iterations):
        root = os.path.join(args.work, f"iter-{i}")
        shutil.rmtree(root, ignore_errors=True)
        emit("iter-start", iter=i)
        t1 = time.perf_counter()
        stages = medallion(spark, args, root, zones)
        emit("iter-end", iter=i, ms=(time.perf_counter() - t1) * 1000, stages=stages)
        if args.check and i == 0:
            emit("check", iter=i, tables=check(spark, root))
        if not (args.keep and i == args.iterations - 1):
            shutil.rmtree(root, ignore_errors=True)
    spark.stop()
    emit("done")


def _version(dist: str) -> str:
    from importlib.metadata import version

    return version(dist)


if __name__ == "__main__":
    main()
