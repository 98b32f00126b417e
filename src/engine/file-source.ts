import * as nodePath from 'node:path';
import type { DuckSession, JsonValue } from '../duck/session.js';
import { literalList } from '../duck/session.js';
import { LocalObjectStore } from '../storage/local-store.js';
import { ObjectExists, type ObjectMeta, type ObjectStore } from '../storage/object-store.js';
import type { AdmissionLimits, Source, SourceBatch } from './source.js';

/** A file the source admitted into a batch. */
interface SeenFile {
  path: string;
  size: number;
  mtime: number;
}

export interface FileSourceOptions {
  /** Folder watched for new files (recursively; names starting with '.' or '_' are ignored). */
  path: string;
  /** Only files whose names match (default: everything not hidden). */
  pattern?: RegExp;
}

/**
 * Auto Loader-style file source for JSON: discovers new files in a folder in (modification time,
 * name) order, admits each file once ever (its admission is logged in the checkpoint before the
 * batch runs), and yields their raw records. A batch is SQL with columns `source_file`,
 * `line_number` (line in a JSON Lines file, or element number in a JSON array), `line` (the raw
 * JSON text) and `file_error` (set when the whole file could not be read as JSON text).
 */
export class FileSource implements Source {
  readonly description: string;
  private readonly folder: LocalObjectStore;
  private log!: ObjectStore;
  private readonly seen = new Set<string>();
  private readonly batches = new Map<number, SeenFile[]>();
  private availableNowCap?: Set<string>;

  constructor(private readonly options: FileSourceOptions) {
    this.folder = new LocalObjectStore(options.path);
    this.description = `FileSource[${this.folder.root}]`;
  }

  async initialize(checkpoint: ObjectStore, _session: DuckSession): Promise<void> {
    this.log = checkpoint;
    for (const entry of await checkpoint.list('')) {
      const id = Number(entry.path);
      if (!Number.isInteger(id)) continue;
      const files = JSON.parse(new TextDecoder().decode(await checkpoint.get(entry.path))) as {
        files: SeenFile[];
      };
      this.batches.set(id, files.files);
      for (const f of files.files) this.seen.add(f.path);
    }
  }

  private async listNew(): Promise<ObjectMeta[]> {
    const all = await this.folder.list('');
    return all
      .filter((m) => !m.path.split('/').some((s) => s.startsWith('.') || s.startsWith('_')))
      .filter((m) => !this.options.pattern || this.options.pattern.test(nodePath.basename(m.path)))
      .filter((m) => !this.seen.has(this.folder.localPath(m.path)))
      .sort((a, b) => a.lastModified - b.lastModified || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  /** Files admitted so far, by this run or earlier ones. */
  get admittedFiles(): number {
    return this.seen.size;
  }

  async prepareForAvailableNow(): Promise<void> {
    this.availableNowCap = new Set((await this.listNew()).map((m) => this.folder.localPath(m.path)));
  }

  async latestOffset(start: JsonValue | undefined, limits: AdmissionLimits): Promise<JsonValue | undefined> {
    const startId = typeof start === 'number' ? start : -1;
    // A batch logged by a run that stopped before planning it: offer it again, unchanged.
    if (this.batches.has(startId + 1)) return startId + 1;
    let candidates = await this.listNew();
    if (this.availableNowCap)
      candidates = candidates.filter((m) => this.availableNowCap!.has(this.folder.localPath(m.path)));
    const chosen: SeenFile[] = [];
    let bytes = 0;
    for (const m of candidates) {
      if (limits.maxFilesPerTrigger !== undefined && chosen.length >= limits.maxFilesPerTrigger) break;
      if (
        limits.maxBytesPerTrigger !== undefined &&
        chosen.length > 0 &&
        bytes + m.size > limits.maxBytesPerTrigger
      )
        break;
      chosen.push({ path: this.folder.localPath(m.path), size: m.size, mtime: m.lastModified });
      bytes += m.size;
    }
    if (chosen.length === 0) return start;
    const id = startId + 1;
    try {
      await this.log.putIfAbsent(String(id), JSON.stringify({ files: chosen }));
    } catch (err) {
      if (!(err instanceof ObjectExists)) throw err;
      const existing = JSON.parse(new TextDecoder().decode(await this.log.get(String(id)))) as {
        files: SeenFile[];
      };
      this.remember(id, existing.files);
      return id;
    }
    this.remember(id, chosen);
    return id;
  }

  private remember(id: number, files: SeenFile[]): void {
    this.batches.set(id, files);
    for (const f of files) this.seen.add(f.path);
  }

  /** Files admitted in batches (start, end]. */
  filesBetween(start: JsonValue | undefined, end: JsonValue): SeenFile[] {
    const from = typeof start === 'number' ? start : -1;
    const to = Number(end);
    const out: SeenFile[] = [];
    for (let id = from + 1; id <= to; id++) out.push(...(this.batches.get(id) ?? []));
    return out;
  }

  async getBatch(start: JsonValue | undefined, end: JsonValue): Promise<SourceBatch> {
    const files = this.filesBetween(start, end);
    return {
      sql: rawRecordsSql(files.map((f) => f.path)),
      description: `${files.length} file(s)`,
      dispose: async () => {},
    };
  }

  async backlog(): Promise<{ files: number }> {
    return { files: (await this.listNew()).length };
  }
}

/**
 * SQL giving one row per JSON record of the files: JSON Lines files give a row per non-blank line;
 * a file whose text starts with '[' gives a row per array element; a file that is not UTF-8 text,
 * or an array that is not valid JSON, gives one row with `file_error` set. A leading UTF-8 byte-order
 * mark is skipped; a line's trailing CR (CRLF files) is dropped and blank lines give no row.
 */
export function rawRecordsSql(files: string[]): string {
  if (files.length === 0) {
    return `SELECT CAST(NULL AS VARCHAR) AS source_file, CAST(NULL AS BIGINT) AS line_number, CAST(NULL AS VARCHAR) AS line, CAST(NULL AS VARCHAR) AS file_error WHERE false`;
  }
  return `WITH blobs AS (
    SELECT filename AS source_file, ltrim(try(decode(content)), chr(65279)) AS text FROM read_blob(${literalList(files)})
  ), lined AS (
    SELECT source_file, string_split(text, chr(10)) AS parts FROM blobs
    WHERE text IS NOT NULL AND NOT starts_with(ltrim(text, ' ' || chr(9) || chr(10) || chr(13)), '[')
  ), arrays AS (
    SELECT source_file, text, json_valid(text) AS ok FROM blobs
    WHERE text IS NOT NULL AND starts_with(ltrim(text, ' ' || chr(9) || chr(10) || chr(13)), '[')
  ), elements AS (
    SELECT source_file, list_transform(json_extract(text, '$[*]'), x -> CAST(x AS VARCHAR)) AS els FROM arrays WHERE ok
  )
  SELECT source_file, CAST(i AS BIGINT) AS line_number, line, CAST(NULL AS VARCHAR) AS file_error FROM (
      SELECT source_file, i, CASE WHEN ends_with(p, chr(13)) THEN rtrim(p, chr(13)) ELSE p END AS line
      FROM (SELECT source_file, unnest(parts) AS p, generate_subscripts(parts, 1) AS i FROM lined))
    WHERE regexp_matches(line, '[^ ]')
  UNION ALL
  SELECT source_file, CAST(i AS BIGINT), els[i], NULL FROM elements, range(1, len(els) + 1) r(i)
  UNION ALL
  SELECT source_file, NULL, NULL, 'the file is not UTF-8 text' FROM blobs WHERE text IS NULL
  UNION ALL
  SELECT source_file, NULL, text, 'the file starts with [ but is not a valid JSON array' FROM arrays WHERE NOT ok`;
}
