/**
 * Request bodies and answers of the two scoring protocols, as pure functions: the MLflow scoring
 * protocol (`POST /invocations` with `dataframe_split` or `inputs`; `mlflow models serve`, Databricks
 * Model Serving, SageMaker and Azure ML speak it) and the Open Inference Protocol v2 (`POST
 * /v2/models/NAME/infer`; KServe, Triton, MLServer, Seldon). Both carry texts in and a label and a
 * probability per text out, as the Hugging Face text-classification pipeline gives them.
 */
import { TweetlakeError } from '../errors.js';

/** A server's opinion of one text: its label as the server spells it, and the label's probability (0–1). */
export interface ServedPrediction {
  label: string;
  score: number;
}

/** How texts go into an MLflow scoring request. */
export type MlflowRequestFormat = 'dataframe_split' | 'inputs';

/** The endpoint answered, but not with predictions we can use: retrying will not help. */
export class ModelServerResponseInvalid extends TweetlakeError {
  constructor(where: string, why: string) {
    super(
      'MODEL_SERVER_RESPONSE_INVALID',
      `${where} answered something that is not text-classification predictions: ${why} ` +
        `(the endpoint must serve a text-in model returning a label and a score per text, as ` +
        `models/hf_tweet_sentiment does; see docs/operations.md "Model servers")`,
      { domain: 'external' },
    );
  }
}

/** The column (MLflow) or input tensor (OIP) that carries the texts. */
export const TEXT_INPUT = 'text';

/** JSON body of an MLflow scoring request for `texts`. */
export function mlflowRequestBody(texts: string[], format: MlflowRequestFormat): string {
  if (format === 'inputs') return JSON.stringify({ inputs: texts });
  return JSON.stringify({ dataframe_split: { columns: [TEXT_INPUT], data: texts.map((t) => [t]) } });
}

/** JSON body of an Open Inference Protocol v2 request for `texts` (one BYTES tensor, pandas content type). */
export function oipRequestBody(texts: string[]): string {
  return JSON.stringify({
    parameters: { content_type: 'pd' },
    inputs: [
      {
        name: TEXT_INPUT,
        datatype: 'BYTES',
        shape: [texts.length],
        data: texts,
        parameters: { content_type: 'str' },
      },
    ],
  });
}

function describe(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

function prediction(label: unknown, score: unknown, index: number, where: string): ServedPrediction {
  if (typeof label !== 'string' || label === '')
    throw new ModelServerResponseInvalid(where, `prediction ${index} has no label (${describe(label)})`);
  const s = typeof score === 'string' ? Number(score) : score;
  if (typeof s !== 'number' || !Number.isFinite(s) || s < 0 || s > 1)
    throw new ModelServerResponseInvalid(
      where,
      `prediction ${index} has score ${describe(score)}, not a probability between 0 and 1`,
    );
  return { label, score: s };
}

function columns(labels: unknown, scores: unknown, n: number, where: string): ServedPrediction[] {
  if (!Array.isArray(labels) || !Array.isArray(scores))
    throw new ModelServerResponseInvalid(where, 'expected a label and a score per text');
  if (labels.length !== n || scores.length !== n)
    throw new ModelServerResponseInvalid(
      where,
      `${labels.length} labels and ${scores.length} scores for ${n} texts`,
    );
  return labels.map((l, i) => prediction(l, scores[i], i, where));
}

/**
 * Predictions from an MLflow scoring answer: `{"predictions": [{"label", "score"}, …]}` (a pyfunc
 * returning a DataFrame, or a transformers pipeline), its column form `{"predictions": {"label": […],
 * "score": […]}}`, or the bare list older servers send.
 */
export function parseMlflowAnswer(body: unknown, n: number, where: string): ServedPrediction[] {
  const predictions =
    body !== null && typeof body === 'object' && !Array.isArray(body)
      ? (body as { predictions?: unknown }).predictions
      : body;
  if (Array.isArray(predictions)) {
    if (predictions.length !== n)
      throw new ModelServerResponseInvalid(where, `${predictions.length} predictions for ${n} texts`);
    return predictions.map((p, i) => {
      const row = (Array.isArray(p) && p.length === 1 ? p[0] : p) as unknown;
      if (row === null || typeof row !== 'object')
        throw new ModelServerResponseInvalid(where, `prediction ${i} is ${describe(row)}`);
      const r = row as { label?: unknown; score?: unknown };
      return prediction(r.label, r.score, i, where);
    });
  }
  if (predictions !== null && typeof predictions === 'object') {
    const c = predictions as { label?: unknown; score?: unknown };
    return columns(c.label, c.score, n, where);
  }
  throw new ModelServerResponseInvalid(where, `no predictions in ${describe(body)}`);
}

interface OipTensor {
  name?: unknown;
  data?: unknown;
  shape?: unknown;
}

/** Predictions from an OIP v2 answer: output tensors `label` (BYTES) and `score` (FP32/FP64). */
export function parseOipAnswer(body: unknown, n: number, where: string): ServedPrediction[] {
  const outputs = (body as { outputs?: unknown } | null)?.outputs;
  if (!Array.isArray(outputs))
    throw new ModelServerResponseInvalid(where, `no "outputs" in ${describe(body)}`);
  const find = (name: string) => (outputs as OipTensor[]).find((o) => o?.name === name)?.data;
  const names = (outputs as OipTensor[]).map((o) => String(o?.name));
  if (!names.includes('label') || !names.includes('score'))
    throw new ModelServerResponseInvalid(
      where,
      `expected outputs "label" and "score", got ${describe(names)}`,
    );
  return columns(find('label'), find('score'), n, where);
}
