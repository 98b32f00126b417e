import type { Command } from 'commander';
import { isSourceFile } from '../engine/file-source.js';
import { parseKafkaUri } from '../engine/kafka-uri.js';
import type { KafkaConnection } from '../engine/kafka-reader.js';
import { kafkaConnection } from '../pipeline/config.js';
import { produceFiles } from '../pipeline/produce.js';
import { storeAt } from '../storage/locations.js';
import { UsageError } from './errors.js';
import { configFor, positiveInt } from './options.js';

/** `tweetlake produce`: loads a Kafka topic from a folder of JSON files. */
export function registerKafkaCommands(program: Command, out: NodeJS.WritableStream): void {
  program
    .command('produce')
    .description('send the tweets of a folder of JSON files to a Kafka topic, one record each, keyed by user')
    .requiredOption(
      '--source <dir>',
      'folder or s3://bucket/prefix of JSON files (JSON Lines or JSON arrays)',
    )
    .requiredOption('--to <uri>', 'the topic, as kafka://host:port[,host:port]/topic')
    .option('--partitions <n>', 'create the topic with this many partitions if it does not exist')
    .option(
      '--config <file>',
      'config file (storage settings of an s3:// source; kafka.clientId, kafka.sasl, kafka.tls)',
    )
    .action((opts) => produceCommand(opts, out));
}

async function produceCommand(
  opts: { source: string; to: string; partitions?: string; config?: string },
  out: NodeJS.WritableStream,
): Promise<void> {
  await produceFolder(opts.source, opts, kafkaConnection(configFor(opts).kafka), out);
}

/** Sends the records of a folder's files (hidden ones left out) to `opts.to`; prints what it sent. */
export async function produceFolder(
  source: string,
  opts: { to: string; partitions?: string },
  connection: KafkaConnection,
  out: NodeJS.WritableStream,
): Promise<void> {
  const to = parseKafkaUri(opts.to);
  const partitions = opts.partitions === undefined ? undefined : positiveInt(opts.partitions, '--partitions');
  const store = storeAt(source);
  // the files a file source would read: hidden ones (., _) left out, in name order
  const keys = (await store.list(''))
    .map((m) => m.path)
    .filter(isSourceFile)
    .sort();
  if (keys.length === 0) throw new UsageError(`no files in ${source}: give --source a folder of JSON files`);
  const r = await produceFiles({
    store,
    keys,
    to,
    ...(partitions !== undefined ? { partitions } : {}),
    connection,
  });
  const seconds = r.elapsedMs / 1000;
  out.write(
    `${r.createdTopic ? `created topic ${to.topic} with ${partitions} partitions; ` : ''}` +
      `sent ${r.records} records (${r.bytes} bytes) from ${keys.length} files to ${to.uri} in ` +
      `${Math.round(r.elapsedMs)} ms: ${Math.round(r.records / Math.max(seconds, 0.001))} records/s\n`,
  );
  if (r.skipped > 0)
    out.write(
      `${r.skipped} records not sent: too long or unreadable (a file source would quarantine them)\n`,
    );
}
