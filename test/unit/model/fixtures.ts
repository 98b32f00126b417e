/** Test fixtures for the model layer: a stand-in MLflow model folder and a local HTTP server. */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as nodePath from 'node:path';
import { stringify } from 'yaml';
import { bundledModelDir } from '../../../src/model/bundled.js';

/** The bundled model's folder when it has been built (it is in CI), else undefined. */
export function bundledModelIfBuilt(): string | undefined {
  const dir = bundledModelDir();
  return existsSync(nodePath.join(dir, 'MLmodel')) && existsSync(nodePath.join(dir, 'model', 'config.json'))
    ? dir
    : undefined;
}

/** Writes the files of a tiny Hugging Face classifier (not a working network) into `hfDir`. */
export function writeFakeHfFiles(hfDir: string, labels = ['NEG', 'NEU', 'POS']): void {
  mkdirSync(nodePath.join(hfDir, 'onnx'), { recursive: true });
  const id2label = Object.fromEntries(labels.map((l, i) => [String(i), l]));
  writeFileSync(
    nodePath.join(hfDir, 'config.json'),
    JSON.stringify({
      architectures: ['BertForSequenceClassification'],
      model_type: 'bert',
      id2label,
      label2id: {},
      max_position_embeddings: 512,
    }),
  );
  writeFileSync(
    nodePath.join(hfDir, 'tokenizer.json'),
    JSON.stringify({ version: '1.0', model: { type: 'WordPiece', vocab: { '[UNK]': 0 } } }),
  );
  writeFileSync(
    nodePath.join(hfDir, 'tokenizer_config.json'),
    JSON.stringify({ model_max_length: 128, tokenizer_class: 'BertTokenizer' }),
  );
  writeFileSync(nodePath.join(hfDir, 'special_tokens_map.json'), JSON.stringify({ unk_token: '[UNK]' }));
  writeFileSync(
    nodePath.join(hfDir, 'onnx', 'model_quantized.onnx'),
    Buffer.from('not really onnx, but bytes that must survive the trip'),
  );
}

/** A stand-in MLflow model folder (MLmodel + model/ in the Hugging Face layout) in `dir`. */
export function writeFakeMlflowModel(dir: string, tag = 'fake'): string {
  writeFakeHfFiles(nodePath.join(dir, 'model'));
  writeFileSync(
    nodePath.join(dir, 'MLmodel'),
    stringify({
      flavors: {
        onnx: { data: 'model/onnx/model_quantized.onnx' },
        python_function: { loader_module: 'mlflow.onnx', data: 'model/onnx/model_quantized.onnx' },
      },
      metadata: { task: 'text-classification', labels: ['NEG', 'NEU', 'POS'], hf_dir: 'model', tag },
    }),
  );
  return dir;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => unknown;

/** Starts a node:http server on 127.0.0.1 and a random port. */
export async function startServer(
  handler: Handler,
): Promise<{ url: string; server: Server; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      Promise.resolve(handler(req, res, Buffer.concat(chunks))).catch((err: unknown) => {
        res.statusCode = 500;
        res.end(String(err));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
