import { existsSync, statSync } from 'node:fs';
import * as nodePath from 'node:path';
import type { Command } from 'commander';
import { ensureBundledModelRegistered } from '../model/bundled.js';
import { importFromFolder, importFromHub } from '../model/hf-import.js';
import { openRegistry } from '../model/registry-factory.js';
import type { ModelRegistry } from '../model/registry.js';
import { lakehousePaths } from '../pipeline/paths.js';
import { UsageError } from './errors.js';
import { renderTable } from './format.js';
import { configFor, lakehouseOptions } from './options.js';

/** The registry of a lakehouse (the MLflow server's when MLFLOW_TRACKING_URI is set). */
export type RegistryOpener = (mlflowDir: string) => Promise<ModelRegistry>;

/** Opens the registry of the lakehouse that a command's --root/--config name. */
type LakehouseRegistry = (opts: { root?: string; config?: string }) => Promise<ModelRegistry>;

const defaultOpener: RegistryOpener = async (dir) => openRegistry({ lakehouseMlflowDir: dir });

/** `tweetlake model list | register | promote | import-hf`. */
export function registerModelCommands(
  program: Command,
  out: NodeJS.WritableStream,
  open: RegistryOpener = defaultOpener,
): Command {
  const model = program.command('model').description('the MLflow model registry');
  const registry: LakehouseRegistry = async (opts) => {
    const config = configFor(opts);
    const r = await open(lakehousePaths(config.root).mlflow);
    await ensureBundledModelRegistered(r);
    return r;
  };

  lakehouseOptions(
    model.command('list').description('registered models and their versions, stages and aliases'),
  ).action((opts) => modelListCommand(opts, out, registry));

  lakehouseOptions(
    model.command('register <dir>').description('register an MLflow model folder as a new version'),
  )
    .requiredOption('--name <name>', 'registered model name')
    .option('--description <text>', 'version description')
    .action((dir, opts) => modelRegisterCommand(dir, opts, out, registry));

  lakehouseOptions(
    model.command('promote <name>').description('move a version to a stage, or point an alias at it'),
  )
    .requiredOption('--version <v>', 'model version')
    .option('--stage <stage>', 'None | Staging | Production | Archived')
    .option('--alias <alias>', 'alias to set (e.g. production)')
    .option('--archive-existing', 'archive the versions now in that stage')
    .action((name, opts) => modelPromoteCommand(name, opts, out, registry));
  lakehouseOptions(
    model
      .command('import-hf <repo-id-or-folder>')
      .description(
        'download an ONNX sequence classifier from the Hugging Face hub (or take a local folder in its layout) and register it',
      ),
  )
    .option('--revision <rev>', 'branch, tag or commit', 'main')
    .option('--name <name>', 'registered model name (default: the repo id with / as _)')
    .option('--hub <url>', 'hub URL (default: HF_ENDPOINT or https://huggingface.co)')
    .action((repoId, opts) => modelImportHfCommand(repoId, opts, out, registry));
  return model;
}

async function modelListCommand(
  opts: { root?: string; config?: string },
  out: NodeJS.WritableStream,
  registry: LakehouseRegistry,
): Promise<void> {
  const r = await registry(opts);
  const rows = (await r.listModels()).flatMap((m) =>
    m.versions.map((v) => ({
      name: m.name,
      version: v.version,
      stage: v.currentStage,
      aliases: v.aliases.join(', '),
      status: v.status,
      created: new Date(v.creationTimestamp).toISOString(),
      source: v.source,
    })),
  );
  out.write(renderTable(rows));
  out.write(`registry: ${r.location}\n`);
}

async function modelRegisterCommand(
  dir: string,
  opts: { root?: string; config?: string; name: string; description?: string },
  out: NodeJS.WritableStream,
  registry: LakehouseRegistry,
): Promise<void> {
  if (!existsSync(nodePath.join(dir, 'MLmodel')))
    throw new UsageError(
      `${dir} is not an MLflow model folder (it has no MLmodel file)`,
      'MODEL_DIR_INVALID',
    );
  const r = await registry(opts);
  const v = await r.createVersion(opts.name, dir, opts.description ? { description: opts.description } : {});
  out.write(`registered ${v.name} version ${v.version} from ${dir}\n`);
}

async function modelPromoteCommand(
  name: string,
  opts: {
    root?: string;
    config?: string;
    version: string;
    stage?: string;
    alias?: string;
    archiveExisting?: boolean;
  },
  out: NodeJS.WritableStream,
  registry: LakehouseRegistry,
): Promise<void> {
  if (!opts.stage && !opts.alias) throw new UsageError('give --stage or --alias (or both)');
  const r = await registry(opts);
  if (opts.stage) {
    const v = await r.transitionStage(name, opts.version, opts.stage, !!opts.archiveExisting);
    out.write(`${name} version ${v.version} is now in stage ${v.currentStage}\n`);
  }
  if (opts.alias) {
    await r.setAlias(name, opts.alias, opts.version);
    out.write(`${name}@${opts.alias} -> version ${opts.version}\n`);
  }
}

async function modelImportHfCommand(
  repoId: string,
  opts: { root?: string; config?: string; revision: string; name?: string; hub?: string },
  out: NodeJS.WritableStream,
  registry: LakehouseRegistry,
): Promise<void> {
  const config = configFor(opts);
  const r = await registry(opts);
  const cacheDir = lakehousePaths(config.root).modelCache;
  const isFolder = existsSync(repoId) && statSync(repoId).isDirectory();
  const result = isFolder
    ? await importFromFolder(repoId, {
        registry: r,
        cacheDir,
        ...(opts.name ? { name: opts.name } : {}),
      })
    : await importFromHub(repoId, {
        registry: r,
        revision: opts.revision,
        cacheDir,
        ...(opts.name ? { name: opts.name } : {}),
        ...(opts.hub ? { hubUrl: opts.hub } : {}),
      });
  const from = isFolder ? repoId : `${repoId}@${opts.revision}${result.commit ? ` (${result.commit})` : ''}`;
  out.write(
    `imported ${from} as ${result.name} version ${result.version.version}; ` +
      `labels ${result.labels.join(', ')}; tokenizer: ${result.tokenizer}; files: ${result.files.join(', ')}\n` +
      result.warnings.map((w) => `note: ${w}\n`).join('') +
      `use it with: tweetlake run --model models:/${result.name}/${result.version.version}\n`,
  );
}
