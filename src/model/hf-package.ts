/** The MLflow model folder of an imported Hugging Face model, laid out like the bundled model. */
import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import { stringify } from 'yaml';

/** Where an imported model came from, as recorded in its MLmodel metadata. */
export type ImportOrigin =
  | { kind: 'hub'; repoId: string; revision: string; commit?: string; hubUrl: string }
  | { kind: 'folder'; folder: string };

/** The MLmodel file of an imported model: flavors onnx + python_function, as the bundled model has. */
export function hubMlmodel(info: {
  origin: ImportOrigin;
  labels: string[];
  id2label: Record<string, string>;
  maxLength: number;
  onnxFiles: string[];
  tokenizer: string;
  notes?: string[];
}): Record<string, unknown> {
  const data = `model/${info.onnxFiles[0]}`;
  const o = info.origin;
  return {
    flavors: {
      onnx: { code: null, data, providers: ['CPUExecutionProvider'] },
      python_function: {
        data,
        env: { conda: 'conda.yaml', virtualenv: 'python_env.yaml' },
        loader_module: 'mlflow.onnx',
        python_version: '3.11',
      },
    },
    metadata: {
      task: 'text-classification',
      labels: info.labels,
      id2label: info.id2label,
      max_length: info.maxLength,
      hf_dir: 'model',
      model_dir: 'model',
      tokenizer: 'model/tokenizer.json',
      tokenizer_source: info.tokenizer,
      ...(info.onnxFiles.includes('onnx/model_quantized.onnx')
        ? { onnx_int8: 'model/onnx/model_quantized.onnx' }
        : {}),
      ...(info.onnxFiles.includes('onnx/model.onnx') ? { onnx_fp32: 'model/onnx/model.onnx' } : {}),
      onnx_output: 'logits',
      transformers_js_dtype: info.onnxFiles[0] === 'onnx/model_quantized.onnx' ? 'q8' : 'fp32',
      ...(o.kind === 'hub'
        ? {
            source: 'huggingface',
            source_repo: o.repoId,
            source_revision: o.revision,
            ...(o.commit ? { source_commit: o.commit } : {}),
            source_hub: o.hubUrl,
          }
        : { source: 'folder', source_folder: o.folder }),
      ...(info.notes?.length ? { import_notes: info.notes } : {}),
    },
    model_uuid: randomUUID().replace(/-/g, ''),
    utc_time_created: new Date().toISOString().replace('T', ' ').replace('Z', ''),
  };
}

const REQUIREMENTS = ['mlflow', 'onnx', 'onnxruntime', 'numpy'];

/** Writes MLmodel (also next to the .onnx files) and the Python environment files into `dir`. */
export async function writeMlflowFolder(dir: string, mlmodel: Record<string, unknown>): Promise<void> {
  const text = stringify(mlmodel);
  await fs.writeFile(nodePath.join(dir, 'MLmodel'), text);
  // mlflow.onnx's pyfunc reads the MLmodel next to the .onnx file, as in the bundled model
  await fs.writeFile(nodePath.join(dir, 'model', 'onnx', 'MLmodel'), text);
  await fs.writeFile(nodePath.join(dir, 'requirements.txt'), `${REQUIREMENTS.join('\n')}\n`);
  await fs.writeFile(
    nodePath.join(dir, 'python_env.yaml'),
    stringify({ python: '3.11', build_dependencies: ['pip'], dependencies: ['-r requirements.txt'] }),
  );
  await fs.writeFile(
    nodePath.join(dir, 'conda.yaml'),
    stringify({
      channels: ['conda-forge'],
      dependencies: ['python=3.11', 'pip', { pip: REQUIREMENTS }],
      name: 'mlflow-env',
    }),
  );
}
