import cliProgress from 'cli-progress';
import type { QueryProgress } from '../engine/progress.js';
import { STREAM_NAMES, type StreamName } from '../pipeline/paths.js';

/** Progress bars per stream on a terminal; one line per batch elsewhere (CI logs). */
export class ProgressView {
  private readonly bars = new Map<StreamName, cliProgress.SingleBar>();
  private readonly multi?: cliProgress.MultiBar;
  private readonly rows = new Map<StreamName, number>();
  private printedTenth = -1;

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly totals: { sourceFiles: number },
  ) {
    if (out.isTTY) {
      this.multi = new cliProgress.MultiBar(
        {
          format: ' {name} |{bar}| {value}/{total} {unit} | batch {batch} | {rate} rows/s',
          hideCursor: true,
          clearOnComplete: false,
          stream: out,
          etaBuffer: 20,
        },
        cliProgress.Presets.shades_classic,
      );
    }
  }

  start(stream: StreamName): void {
    if (!this.multi) {
      this.out.write(`${stream}: started\n`);
      return;
    }
    const total = stream === 'bronze_stream' ? this.totals.sourceFiles : 0;
    const unit = stream === 'bronze_stream' ? 'files' : 'rows';
    this.bars.set(
      stream,
      this.multi.create(total, 0, { name: stream.padEnd(18), unit, batch: '-', rate: '-' }),
    );
  }

  /** Records a finished batch; `upstreamRows` is the size of the stream's input table when known. */
  update(stream: StreamName, p: QueryProgress, filesDone?: number, upstreamRows?: number): void {
    const rows = (this.rows.get(stream) ?? 0) + p.numInputRows;
    this.rows.set(stream, rows);
    const rate = Math.round(p.processedRowsPerSecond).toLocaleString('en-US');
    const bar = this.bars.get(stream);
    if (!bar) {
      const extra = Object.entries(p.metrics)
        .map(([k, v]) => `${k}=${Math.abs(v) < 10 && !Number.isInteger(v) ? v.toFixed(2) : Math.round(v)}`)
        .join(' ');
      this.out.write(
        `${stream}: batch ${p.batchId} ${p.numInputRows} rows in, ${p.sink.numOutputRows} out, ${rate} rows/s, ${p.durationMs.triggerExecution} ms${extra ? ` (${extra})` : ''}\n`,
      );
      return;
    }
    if (stream === 'bronze_stream') bar.update(filesDone ?? 0, { batch: p.batchId, rate });
    else {
      bar.setTotal(Math.max(upstreamRows ?? rows, rows));
      // Between batches the gold bar counts rows again, not the texts the model scored.
      bar.update(rows, { batch: p.batchId, rate, unit: 'rows' });
    }
  }

  /** Inference progress inside a gold batch: texts scored of the batch's distinct texts. */
  inference(done: number, total: number): void {
    const bar = this.bars.get('gold_stream');
    if (bar) {
      bar.setTotal(total);
      bar.update(done, { unit: 'texts scored' });
      return;
    }
    const tenth = Math.floor((done * 10) / Math.max(1, total));
    if (tenth > this.printedTenth || done === total) {
      this.printedTenth = done === total ? -1 : tenth;
      this.out.write(`gold_stream: scored ${done}/${total} distinct texts\n`);
    }
  }

  stop(): void {
    this.multi?.stop();
  }

  static readonly order = STREAM_NAMES;
}
