import { TweetlakeError } from '../errors.js';
import { StreamingQuery, type StreamingQueryOptions } from './query.js';

/** Starts, lists and stops the streaming queries of a process (Spark's `spark.streams`). */
export class StreamingQueryManager {
  private readonly queries = new Map<string, StreamingQuery>();

  /** Starts a query; a name may run only once at a time. */
  async start(options: StreamingQueryOptions): Promise<StreamingQuery> {
    const existing = this.queries.get(options.name);
    if (existing?.isActive) {
      throw new TweetlakeError(
        'STREAM_ALREADY_ACTIVE',
        `a query named '${options.name}' is already running`,
        { domain: 'user' },
      );
    }
    const query = new StreamingQuery(options);
    this.queries.set(options.name, query);
    await query.start();
    return query;
  }

  /** Queries that are running. */
  get active(): StreamingQuery[] {
    return [...this.queries.values()].filter((q) => q.isActive);
  }

  /** Every query started here, running or not. */
  get all(): StreamingQuery[] {
    return [...this.queries.values()];
  }

  get(name: string): StreamingQuery | undefined {
    return this.queries.get(name);
  }

  /** Stops one query by name. */
  async stop(name: string): Promise<boolean> {
    const q = this.queries.get(name);
    if (!q) return false;
    await q.stop();
    return true;
  }

  /** Stops every query. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.queries.values()].map((q) => q.stop()));
  }

  /** Waits until every query has ended; rejects with the first failure. */
  async awaitAnyTermination(): Promise<void> {
    await Promise.race([...this.queries.values()].map((q) => q.awaitTermination()));
  }

  /** Waits for all queries to end; rejects with the first failure. */
  async awaitAll(): Promise<void> {
    await Promise.all([...this.queries.values()].map((q) => q.awaitTermination()));
  }
}
