#!/usr/bin/env bash
# Interop suite: real delta-rs and Spark (delta-spark) read what tweetlake writes and write what it reads.
# Usage: npm run test:interop [-- vitest args]   (or: bash test/interop/run.sh [vitest args])
# Needs python3 (3.10+), Java 17, Go (the S3 server) and Maven (the Kafka broker's jars).
# Creates/reuses .venv-interop/ and .venv-mlserver/ at the repository root.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv-interop"
REQS="$ROOT/test/interop/requirements.txt"
STAMP="$VENV/.requirements.sha256"
PYTHON_BOOTSTRAP="${PYTHON:-python3}"

# --- Python environment -------------------------------------------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
  echo "interop: creating $VENV" >&2
  "$PYTHON_BOOTSTRAP" -m venv "$VENV"
fi
want="$(sha256sum "$REQS" | cut -d' ' -f1)"
have="$(cat "$STAMP" 2>/dev/null || true)"
if [ "$want" != "$have" ]; then
  echo "interop: installing $REQS" >&2
  "$VENV/bin/python" -m pip install --disable-pip-version-check -q --upgrade pip
  "$VENV/bin/python" -m pip install --disable-pip-version-check -q -r "$REQS"
  rm -f "$VENV/.spark-warm"
  echo "$want" >"$STAMP"
fi
export TWEETLAKE_PYTHON="$VENV/bin/python"

# --- MLServer (Open Inference Protocol tests), in a venv of its own ---------------------------------
MLVENV="$ROOT/.venv-mlserver"
MLREQS="$ROOT/test/interop/mlserver-requirements.txt"
if [ ! -x "$MLVENV/bin/python" ]; then
  echo "interop: creating $MLVENV" >&2
  "$PYTHON_BOOTSTRAP" -m venv "$MLVENV"
fi
want="$(sha256sum "$MLREQS" | cut -d' ' -f1)"
if [ "$want" != "$(cat "$MLVENV/.requirements.sha256" 2>/dev/null || true)" ]; then
  echo "interop: installing $MLREQS" >&2
  "$MLVENV/bin/python" -m pip install --disable-pip-version-check -q --upgrade pip
  "$MLVENV/bin/python" -m pip install --disable-pip-version-check -q -r "$MLREQS"
  echo "$want" >"$MLVENV/.requirements.sha256"
fi
export TWEETLAKE_MLSERVER="$MLVENV/bin/mlserver"

# --- Java for Spark -----------------------------------------------------------------------------
if [ -z "${JAVA_HOME:-}" ]; then
  if ! command -v java >/dev/null 2>&1; then
    echo "interop: java not found; install Java 17 (e.g. apt-get install openjdk-17-jre-headless)" >&2
    exit 1
  fi
  JAVA_HOME="$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")"
  export JAVA_HOME
fi

# --- Maven for the Kafka broker ----------------------------------------------------------------
# test/helpers/kafka-server.ts resolves org.apache.kafka:kafka_2.13 and its dependencies with Maven.
if ! command -v mvn >/dev/null 2>&1; then
  echo "interop: mvn not found; install Maven (e.g. apt-get install maven) for the Kafka tests" >&2
  exit 1
fi

# --- Delta and S3 jars --------------------------------------------------------------------------
# delta-spark's jars, and for s3a:// hadoop-aws (of pyspark's Hadoop version) with the AWS SDK bundle it
# depends on, come from Maven Central through spark.jars.packages (ivy cache: ~/.ivy2).
# Resolve them once here so that no test spends its time downloading (the SDK bundle is ~280 MB).
if [ ! -f "$VENV/.spark-warm" ] || ! ls "$HOME"/.ivy2/jars/io.delta_delta-spark_* >/dev/null 2>&1 ||
  ! ls "$HOME"/.ivy2/jars/org.apache.hadoop_hadoop-aws-* >/dev/null 2>&1; then
  echo "interop: resolving delta-spark and hadoop-aws jars (Maven Central) and starting Spark once" >&2
  "$TWEETLAKE_PYTHON" "$ROOT/test/interop/py/spark_job.py" --warm
  touch "$VENV/.spark-warm"
fi

# Spark's own Kafka source (spark-sql-kafka-0-10) for test/interop/kafka/kafka-run.test.ts, the same way.
if ! ls "$HOME"/.ivy2/jars/org.apache.spark_spark-sql-kafka-0-10_* >/dev/null 2>&1; then
  echo "interop: resolving Spark's Kafka source jars (Maven Central)" >&2
  "$TWEETLAKE_PYTHON" "$ROOT/test/interop/py/spark_kafka.py" --warm
fi

exec npx vitest run --project interop "$@"
