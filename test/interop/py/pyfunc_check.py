"""MLflow's pyfunc and PySpark's spark_udf use the bundled model as the original notebook does.

Usage: pyfunc_check.py --batch spec.json --out out.json

ops:
  predict    {model_uri, texts, tracking_uri?}: mlflow.pyfunc.load_model(model_uri).predict on a
             DataFrame (column text), a list and a Series; labels and scores of each, the flavor's
             loader module and the signature
  spark_udf  {model_uri, tracking_uri, silver}: the original's cell, over the silver Delta table:
             spark_udf(spark, model_uri) on cleaned_text, then predicted.label / predicted.score;
             one row per distinct cleaned_text: [cleaned_text, label, score]
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def predict(spec):
    import mlflow
    import pandas as pd

    if spec.get("tracking_uri"):
        mlflow.set_tracking_uri(spec["tracking_uri"])
        mlflow.set_registry_uri(spec["tracking_uri"])
    model = mlflow.pyfunc.load_model(spec["model_uri"])
    texts = spec["texts"]
    out = {"loader_module": model.metadata.flavors["python_function"]["loader_module"],
           "signature": {"inputs": model.metadata.signature.inputs.to_dict(),
                         "outputs": model.metadata.signature.outputs.to_dict()}}
    for name, data in (("dataframe", pd.DataFrame({"text": texts})), ("list", list(texts)),
                       ("series", pd.Series(texts, name="text"))):
        frame = model.predict(data)
        out[name] = {"columns": list(frame.columns), "labels": frame["label"].tolist(),
                     "scores": [float(x) for x in frame["score"]]}
    return out


def spark_udf(spec):
    import mlflow
    from pyspark.sql.functions import col

    from spark_job import spark_session, stop

    mlflow.set_tracking_uri(spec["tracking_uri"])
    mlflow.set_registry_uri(spec["tracking_uri"])
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # Spark's Python workers: this interpreter
    spark = spark_session()
    try:
        silver = spark.read.format("delta").load(spec["silver"])
        # the original notebook's cell
        sentiment_udf = mlflow.pyfunc.spark_udf(spark, spec["model_uri"])
        gold = silver.withColumn("predicted", sentiment_udf(col("cleaned_text")))
        rows = (gold.select("cleaned_text", col("predicted.label").alias("label"),
                            col("predicted.score").alias("score"))
                .distinct().collect())
        return {"rows": [[r["cleaned_text"], r["label"], float(r["score"])] for r in rows],
                "silver_rows": silver.count()}
    finally:
        stop(spark)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--batch", required=True)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    with open(a.batch) as f:
        spec = json.load(f)
    result = {"predict": predict, "spark_udf": spark_udf}[spec["op"]](spec)
    with open(a.out, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
