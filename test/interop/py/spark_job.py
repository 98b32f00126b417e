"""Runs several Delta tasks in one Spark session (Spark takes ~20 s to start, so tests batch their work).

    spark_job.py --warm                                   # resolve the delta-spark jars, start Spark once
    spark_job.py --batch tasks.json --out result.json     # tasks: [{"id": ..., "op": ..., ...}, ...]
    spark_job.py --batch tasks.json --out result.json --s3 '{"endpoint": ..., "accessKey": ..., "secretKey": ..., "region": ...}'
                                                          # also reach an S3 server through s3a:// paths

Ops (paths are table directories; tables are addressed as delta.`path`):
  sql       {"statements": [...]}                               run SQL statements in order
  df_write  {"query", "path", "mode", "options"?, "partitionBy"?}  spark.sql(query).write.format("delta")...save(path)
  read      {"path", "versions": [null | N, ...]}                canonical rows (see canon.py) and schema per version
  history   {"path"}                                             DESCRIBE HISTORY (version, timestampMs, operation ...), oldest first
  detail    {"path"}                                             DESCRIBE DETAIL (numFiles, partitionColumns, properties ...)
  stream    {"path", "sink": "memory" | "delta", "sinkPath"?, "checkpoint", "options"?}
            readStream of the table with trigger(availableNow=True); rows the sink received
  skipping  {"path", "predicates": [...]}                         row counts with data skipping and without filters
  boundaries {"path", "columns": [...]}                          skipping checks on each file's min and max values
Every task reports {"id", "op", "ok", "result"} or {"id", "op", "ok": false, "error"}; a failing task does not
stop the others.
"""

import argparse
import glob
import json
import os
import shutil
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pyarrow as pa  # noqa: E402
from canon import emit, rows_summary  # noqa: E402


def hadoop_aws_package():
    """hadoop-aws of the Hadoop version bundled with pyspark (its pom brings the matching aws-java-sdk-bundle)."""
    import pyspark

    jars = glob.glob(os.path.join(os.path.dirname(pyspark.__file__), "jars", "hadoop-client-api-*.jar"))
    if len(jars) != 1:
        raise RuntimeError(f"cannot tell pyspark's Hadoop version from its jars: {jars}")
    version = os.path.basename(jars[0])[len("hadoop-client-api-") : -len(".jar")]
    return f"org.apache.hadoop:hadoop-aws:{version}"


def s3a_settings(s3):
    """Spark settings for s3a:// on an S3-compatible server: endpoint, static credentials, path-style, plain HTTP."""
    return {
        "spark.hadoop.fs.s3a.endpoint": s3["endpoint"],
        "spark.hadoop.fs.s3a.endpoint.region": s3.get("region", "us-east-1"),
        "spark.hadoop.fs.s3a.path.style.access": "true",
        "spark.hadoop.fs.s3a.connection.ssl.enabled": "false",
        "spark.hadoop.fs.s3a.aws.credentials.provider": "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider",
        "spark.hadoop.fs.s3a.access.key": s3["accessKey"],
        "spark.hadoop.fs.s3a.secret.key": s3["secretKey"],
        # S3A deletes the parent "dir/" marker objects after each write by default; versitygw's posix backend
        # refuses to delete a non-empty directory, and S3A retries that for minutes
        "spark.hadoop.fs.s3a.directory.marker.retention": "keep",
    }


def spark_session(s3=None):
    """A local Spark session with Delta; with `s3` ({} for the jars only) also hadoop-aws and its s3a settings."""
    from delta import configure_spark_with_delta_pip
    from pyspark.sql import SparkSession

    scratch = tempfile.mkdtemp(prefix="tweetlake-spark-")
    builder = (
        SparkSession.builder.master("local[2]")
        .appName("tweetlake-interop")
        .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
        .config("spark.sql.catalogImplementation", "in-memory")
        .config("spark.sql.warehouse.dir", os.path.join(scratch, "warehouse"))
        .config("spark.driver.memory", "2g")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.databricks.delta.snapshotPartitions", "2")
        # VACUUM lists directories with this many tasks (default 10000: minutes on two cores)
        .config("spark.sql.sources.parallelPartitionDiscovery.parallelism", "2")
        .config("spark.databricks.delta.retentionDurationCheck.enabled", "false")
        # the ivy cache run.sh checks for the delta jars ($HOME/.ivy2), whatever Java thinks home is
        .config("spark.jars.ivy", os.path.join(os.path.expanduser("~"), ".ivy2"))
        .config("spark.driver.extraJavaOptions", "-Duser.timezone=UTC -XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
    )
    extra_packages = None
    if s3 is not None:
        extra_packages = [hadoop_aws_package()]
        for k, v in (s3a_settings(s3) if s3 else {}).items():
            builder = builder.config(k, v)
    spark = configure_spark_with_delta_pip(builder, extra_packages=extra_packages).getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    SCRATCH.append(scratch)
    return spark


SCRATCH = []


def stop(spark):
    spark.stop()
    for d in SCRATCH:
        shutil.rmtree(d, ignore_errors=True)


def arrow_of(df):
    """The DataFrame's rows as an Arrow table (exact types: no pandas or Python datetime round trip)."""
    from pyspark.sql.pandas.types import to_arrow_schema

    batches = df._collect_as_arrow()
    if batches:
        return pa.Table.from_batches(batches)
    return pa.Table.from_batches([], schema=to_arrow_schema(df.schema))


def op_sql(spark, task):
    out = []
    for statement in task["statements"]:
        rows = spark.sql(statement).collect()
        out.append([r.asDict(recursive=True) for r in rows][:50])
    return {"statements": len(task["statements"]), "results": json.loads(json.dumps(out, default=str))}


def op_df_write(spark, task):
    writer = spark.sql(task["query"]).write.format("delta").mode(task.get("mode", "append"))
    for k, v in (task.get("options") or {}).items():
        writer = writer.option(k, v)
    if task.get("partitionBy"):
        writer = writer.partitionBy(*task["partitionBy"])
    writer.save(task["path"])
    return {}


def op_read(spark, task):
    out = []
    for version in task.get("versions") or [None]:
        reader = spark.read.format("delta")
        if version is not None:
            reader = reader.option("versionAsOf", version)
        try:
            df = reader.load(task["path"])
            entry = {"requestedVersion": version, "schema": df.schema.json()}
            entry.update(rows_summary(arrow_of(df)))
        except Exception as err:  # noqa: BLE001
            entry = {"requestedVersion": version, "error": f"{type(err).__name__}: {err}"[:3000]}
        out.append(entry)
    return out


def op_history(spark, task):
    from delta.tables import DeltaTable

    history = DeltaTable.forPath(spark, task["path"]).history()
    rows = history.selectExpr(
        "version",
        "unix_millis(timestamp) AS timestampMs",
        "operation",
        "operationParameters",
        "readVersion",
        "isBlindAppend",
        "engineInfo",
    ).collect()
    out = [
        {
            "version": r["version"],
            "timestampMs": r["timestampMs"],
            "operation": r["operation"],
            "operationParameters": dict(r["operationParameters"] or {}),
            "readVersion": r["readVersion"],
            "isBlindAppend": r["isBlindAppend"],
            "engineInfo": r["engineInfo"],
        }
        for r in rows
    ]
    return sorted(out, key=lambda e: e["version"])


def op_detail(spark, task):
    r = spark.sql(f"DESCRIBE DETAIL delta.`{task['path']}`").collect()[0].asDict(recursive=True)
    return json.loads(json.dumps(r, default=str))


def op_stream(spark, task):
    reader = spark.readStream.format("delta")
    for k, v in (task.get("options") or {}).items():
        reader = reader.option(k, v)
    df = reader.load(task["path"])
    sink = task.get("sink", "memory")
    name = f"tweetlake_stream_{int(time.time() * 1000)}"
    writer = df.writeStream.trigger(availableNow=True).option("checkpointLocation", task["checkpoint"])
    if sink == "memory":
        query = writer.format("memory").queryName(name).start()
    else:
        query = writer.format("delta").outputMode("append").start(task["sinkPath"])
    query.awaitTermination(300)
    if query.isActive:
        query.stop()
        raise RuntimeError("stream did not finish within 300 s")
    if query.exception() is not None:
        raise RuntimeError(str(query.exception()))
    progress = [p for p in query.recentProgress]
    result = {
        "batches": len([p for p in progress if p.get("numInputRows", 0) > 0]),
        "numInputRows": sum(p.get("numInputRows", 0) for p in progress),
    }
    out_df = spark.table(name) if sink == "memory" else spark.read.format("delta").load(task["sinkPath"])
    result.update(rows_summary(arrow_of(out_df)))
    return result


def scan_files_read(plan):
    """Sum of the 'number of files read' metric of the scans in an executed physical plan."""
    total, stack = 0, [plan]
    while stack:
        node = stack.pop()
        children = node.children()
        for i in range(children.size()):
            stack.append(children.apply(i))
        metric = node.metrics().get("numFiles")
        if "Scan" in node.nodeName() and metric.isDefined():
            total += metric.get().value()
    return total


def op_skipping(spark, task):
    """Per predicate: the rows Spark returns with Delta's data skipping (file statistics) and the files it
    read, against the rows counted in one aggregate over every row (no filter, so nothing is skipped)."""
    predicates = task["predicates"]
    path = task["path"]
    aggs = ", ".join(f"count_if({p}) AS c{i}" for i, p in enumerate(predicates))
    full = spark.sql(f"SELECT {aggs} FROM delta.`{path}`").collect()[0]
    spark.conf.set("spark.sql.adaptive.enabled", "false")  # plain plans, so scan metrics are reachable
    try:
        out = []
        for i, predicate in enumerate(predicates):
            df = spark.sql(f"SELECT count(*) AS n FROM delta.`{path}` WHERE {predicate}")
            n = df.collect()[0]["n"]
            files = scan_files_read(df._jdf.queryExecution().executedPlan())
            out.append({"predicate": predicate, "withSkipping": n, "withoutSkipping": full[f"c{i}"], "filesRead": files})
        return out
    finally:
        spark.conf.unset("spark.sql.adaptive.enabled")


def op_boundaries(spark, task):
    """Data skipping at the edges of each file's statistics: for every data file and column, filters on
    exactly the file's min and max values (as literals, so Delta can skip files by their stats) must return
    as many rows as the same predicates counted over every row with no filter."""
    path = task["path"]
    df = spark.read.format("delta").load(path)
    types = {f.name: f.dataType.simpleString() for f in df.schema.fields}
    predicates = []
    for c in task["columns"]:
        q = f"SELECT CAST(min(`{c}`) AS STRING) AS lo, CAST(max(`{c}`) AS STRING) AS hi FROM delta.`{path}` GROUP BY input_file_name()"
        values = set()
        for r in spark.sql(q).collect():
            values.update(v for v in (r["lo"], r["hi"]) if v is not None)
        for v in sorted(values):
            literal = v.replace("\\", "\\\\").replace("'", "\\'")
            predicates.append(f"`{c}` = CAST('{literal}' AS {types[c]})")
    return op_skipping(spark, {"path": path, "predicates": predicates})


OPS = {
    "sql": op_sql,
    "df_write": op_df_write,
    "read": op_read,
    "history": op_history,
    "detail": op_detail,
    "stream": op_stream,
    "skipping": op_skipping,
    "boundaries": op_boundaries,
}


def warm():
    spark = spark_session(s3={})  # resolves hadoop-aws and the AWS SDK bundle too
    path = tempfile.mkdtemp(prefix="tweetlake-spark-warm-")
    spark.range(3).write.format("delta").mode("overwrite").save(path)
    n = spark.read.format("delta").load(path).count()
    stop(spark)
    shutil.rmtree(path, ignore_errors=True)
    print(f"spark {spark.version} with delta is ready ({n} rows read back)", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--warm", action="store_true")
    ap.add_argument("--batch")
    ap.add_argument("--out")
    ap.add_argument("--s3", help="JSON: endpoint, accessKey, secretKey, region of an S3 server for s3a:// paths")
    args = ap.parse_args()
    if args.warm:
        warm()
        return
    with open(args.batch, encoding="utf-8") as f:
        tasks = json.load(f)
    started = time.time()
    spark = spark_session(json.loads(args.s3) if args.s3 else None)
    results = []
    for task in tasks:
        t0 = time.time()
        try:
            result = OPS[task["op"]](spark, task)
            results.append({"id": task.get("id"), "op": task["op"], "ok": True, "result": result})
        except Exception as err:  # noqa: BLE001 - reported to the test
            results.append(
                {
                    "id": task.get("id"),
                    "op": task["op"],
                    "ok": False,
                    "error": f"{type(err).__name__}: {err}"[:4000],
                    "traceback": traceback.format_exc()[-4000:],
                }
            )
        results[-1]["seconds"] = round(time.time() - t0, 2)
    emit({"sparkVersion": spark.version, "seconds": round(time.time() - started, 1), "tasks": results}, args.out)
    stop(spark)


if __name__ == "__main__":
    main()
