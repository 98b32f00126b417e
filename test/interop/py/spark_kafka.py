"""Reads a Kafka topic with Spark's own Kafka source (spark-sql-kafka-0-10), in a batch query.

    spark_kafka.py --warm                                  # resolve the Kafka source's jars, start Spark once
    spark_kafka.py --batch spec.json --out result.json     # spec: {"bootstrap": "host:port", "topic": "..."}

The result is {"sparkVersion", "rows": [{"partition", "offset", "value"}, ...]}: every record from the
earliest to the latest offset, the value as base64 of its bytes (a value need not be UTF-8 text).
"""

import argparse
import base64
import json
import os
import shutil
import tempfile

# Spark's Kafka source for the 3.5 line. The pyspark here is 3.5.5, whose own spark-sql-kafka-0-10 is not
# on the Maven mirror this project can reach (3.5.3 and 3.5.7 are); a connector of an earlier 3.5 patch
# release runs on a later one (the same Spark APIs).
KAFKA_PACKAGE = "org.apache.spark:spark-sql-kafka-0-10_2.12:3.5.3"


def spark_session():
    from pyspark.sql import SparkSession

    scratch = tempfile.mkdtemp(prefix="tweetlake-spark-kafka-")
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("tweetlake-interop-kafka")
        .config("spark.jars.packages", KAFKA_PACKAGE)
        # the ivy cache run.sh resolves into ($HOME/.ivy2), whatever Java thinks home is
        .config("spark.jars.ivy", os.path.join(os.path.expanduser("~"), ".ivy2"))
        .config("spark.sql.warehouse.dir", os.path.join(scratch, "warehouse"))
        .config("spark.driver.memory", "1g")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.driver.extraJavaOptions", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark, scratch


def read_topic(spark, bootstrap, topic):
    df = (
        spark.read.format("kafka")
        .option("kafka.bootstrap.servers", bootstrap)
        .option("subscribe", topic)
        .option("startingOffsets", "earliest")
        .option("endingOffsets", "latest")
        .load()
        .select("partition", "offset", "value")
    )
    return [
        {
            "partition": r["partition"],
            "offset": r["offset"],
            "value": None if r["value"] is None else base64.b64encode(bytes(r["value"])).decode("ascii"),
        }
        for r in df.toLocalIterator()
    ]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--warm", action="store_true")
    ap.add_argument("--batch")
    ap.add_argument("--out")
    args = ap.parse_args()
    spark, scratch = spark_session()
    try:
        if args.warm:
            return
        with open(args.batch) as f:
            spec = json.load(f)
        rows = read_topic(spark, spec["bootstrap"], spec["topic"])
        with open(args.out, "w") as f:
            json.dump({"sparkVersion": spark.version, "rows": rows}, f)
    finally:
        spark.stop()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
