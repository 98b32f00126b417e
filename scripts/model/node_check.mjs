// Cross-runtime check of models/hf_tweet_sentiment with transformers.js + onnxruntime-node.
//
// Run it from a scratch folder OUTSIDE the repository that has the packages installed:
//   mkdir -p /tmp/mcheck && cd /tmp/mcheck && npm init -y >/dev/null
//   npm_config_onnxruntime_node_install=skip npm install @huggingface/transformers
//   cp /path/to/repo/scripts/model/node_check.mjs . && node node_check.mjs /path/to/repo/models/hf_tweet_sentiment
//
// It loads the int8 model exactly as the product is expected to (local model folder, dtype q8),
// classifies the texts of reference_outputs.json and compares token ids, logits and
// probabilities with the Python onnxruntime results stored there. Exit code 1 on mismatch.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { env, pipeline, AutoTokenizer, AutoModelForSequenceClassification } from '@huggingface/transformers';

const root = path.resolve(process.argv[2] ?? '/work/main/models/hf_tweet_sentiment');
const TOL = 1e-4;

env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = root; // model id 'model' -> <root>/model/{config.json,tokenizer*.json,onnx/model_quantized.onnx}

const ref = JSON.parse(readFileSync(path.join(root, 'reference_outputs.json'), 'utf8'));
const classify = await pipeline('text-classification', 'model', { dtype: 'q8' });
const tokenizer = await AutoTokenizer.from_pretrained('model');
const model = await AutoModelForSequenceClassification.from_pretrained('model', { dtype: 'q8' });

const softmax = (xs) => {
  const m = Math.max(...xs);
  const e = xs.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
};

let worst = 0;
let ok = true;
for (const c of ref.cases) {
  const text = c.preprocessed; // the product strips @mentions before classifying
  const enc = await tokenizer(text);
  const ids = Array.from(enc.input_ids.data, Number);
  const idsMatch = JSON.stringify(ids) === JSON.stringify(c.input_ids);
  const { logits } = await model(enc);
  const lg = Array.from(logits.data);
  const probs = softmax(lg);
  const out = await classify(text, { top_k: null });
  const byLabel = Object.fromEntries(out.map((o) => [o.label, o.score]));
  const diffs = [
    ...lg.map((x, i) => Math.abs(x - c.logits[i])),
    ...['NEG', 'NEU', 'POS'].map((l) => Math.abs(byLabel[l] - c.probabilities[l])),
    ...probs.map((p, i) => Math.abs(p - c.probabilities[['NEG', 'NEU', 'POS'][i]])),
  ];
  const d = Math.max(...diffs);
  worst = Math.max(worst, d);
  const top = out[0].label;
  const pass = idsMatch && d < TOL && top === c.label;
  ok &&= pass;
  console.log(
    `${pass ? 'ok  ' : 'FAIL'} ${JSON.stringify(c.text).padEnd(70)} -> ${top} ` +
      `(NEG ${byLabel.NEG.toFixed(4)} NEU ${byLabel.NEU.toFixed(4)} POS ${byLabel.POS.toFixed(4)}) ` +
      `python ${c.label}; ids ${idsMatch ? 'same' : 'DIFFER'}; max diff ${d.toExponential(2)}`,
  );
}
// Batched call (right padding + attention mask). Dynamic int8 scores depend on the batch, so
// compare with the Python batch in reference_outputs.json, not with the single-text results.
const batched = await classify(ref.batch.texts, { top_k: null });
let bworst = 0;
let bsingle = 0;
for (let i = 0; i < ref.batch.texts.length; i++) {
  const single = ref.cases.find((x) => x.preprocessed === ref.batch.texts[i]);
  for (const o of batched[i]) {
    bworst = Math.max(bworst, Math.abs(o.score - ref.batch.probabilities[i][o.label]));
    bsingle = Math.max(bsingle, Math.abs(o.score - single.probabilities[o.label]));
  }
}
console.log(
  `batched (${ref.batch.texts.length} texts, padded): max prob diff vs python batch ${bworst.toExponential(2)}; ` +
    `vs single-text results ${bsingle.toExponential(2)} (expected for dynamic int8)`,
);
console.log(`max abs diff vs python onnxruntime: ${worst.toExponential(2)} (tolerance ${TOL})`);
if (!ok || bworst > TOL) {
  console.error('MISMATCH');
  process.exit(1);
}
console.log('node check passed');
