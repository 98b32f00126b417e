import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

/** Lints a file's text as if it lived at `filePath` under the repository, with the project's config. */
async function importErrors(filePath: string, code: string): Promise<string[]> {
  const eslint = new ESLint({ cwd: process.cwd() });
  const [result] = await eslint.lintText(code, { filePath });
  return result!.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('npm run lint enforces the layers (docs/architecture.md)', () => {
  it.each([
    ['src/delta/upward.ts', "import { lakehousePaths } from '../pipeline/paths.js';\nvoid lakehousePaths;\n"],
    [
      'src/storage/upward.ts',
      "import type { Snapshot } from '../delta/snapshot.js';\nexport type S = Snapshot;\n",
    ],
    ['src/pipeline/upward.ts', "import { renderPng } from '../analytics/render.js';\nvoid renderPng;\n"],
    [
      'src/mlflow/upward.ts',
      "import { openRegistry } from '../model/registry-factory.js';\nvoid openRegistry;\n",
    ],
    ['src/tracking/upward.ts', "export { DashboardServer } from '../ui/server.js';\n"],
    ['src/log2.ts', "import { DuckSession } from './duck/session.js';\nvoid DuckSession;\n"],
  ])('rejects an upward import in %s', async (filePath, code) => {
    const errors = await importErrors(filePath, code);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/may import only the layers below it \(storage < duck < delta/);
  });

  it.each([
    ['src/pipeline/downward.ts', "import { DeltaTable } from '../delta/table.js';\nvoid DeltaTable;\n"],
    [
      'src/model/downward.ts',
      "import { MlflowHttpClient } from '../mlflow/http-client.js';\nvoid MlflowHttpClient;\n",
    ],
    [
      'src/analytics/downward.ts',
      "import { lakehousePaths } from '../pipeline/paths.js';\nvoid lakehousePaths;\n",
    ],
    ['src/index.ts', "export { Pipeline } from './pipeline/pipeline.js';\n"],
  ])('accepts a downward import in %s', async (filePath, code) => {
    expect(await importErrors(filePath, code)).toEqual([]);
  });
});
