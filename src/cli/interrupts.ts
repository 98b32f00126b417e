/**
 * Ctrl-C (or SIGTERM) during a run: the first asks the streams to stop after their current batch
 * and says so; a second one aborts at once. Either way the next run resumes from the last committed
 * batch (checkpoints and the tables' txn make that exactly-once).
 */
export class InterruptHandler {
  /** The first signal received, if any. */
  signal?: NodeJS.Signals;

  constructor(
    private readonly out: NodeJS.WritableStream,
    private readonly onFirst: (signal: NodeJS.Signals) => void,
  ) {
    process.on('SIGINT', this.handle);
    process.on('SIGTERM', this.handle);
  }

  private readonly handle = (signal: NodeJS.Signals): void => {
    if (this.signal) {
      this.out.write(`\n${signal}: aborting now; the next run resumes from the last committed batch\n`);
      // Die of the signal itself (the shell reports 130, or 143 for SIGTERM): exiting normally would
      // run the native teardown of DuckDB and the inference workers while they are mid-call.
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
      return;
    }
    this.signal = signal;
    this.out.write(
      `\n${signal === 'SIGINT' ? 'Ctrl-C' : signal}: stopping after the current batch (Ctrl-C again to abort)\n`,
    );
    this.onFirst(signal);
  };

  /** Stops listening (the default handlers apply again). */
  dispose(): void {
    process.off('SIGINT', this.handle);
    process.off('SIGTERM', this.handle);
  }
}
