/**
 * Kafka with SASL/PLAIN on a real broker's SASL_PLAINTEXT listener: the config file's `kafka.sasl`
 * (the password from the variable `passwordEnv` names) reaches `produce` and a group worker, which
 * load and read the topic; a wrong password is refused at once with the broker's reason, not retried.
 */
import { mkdtempSync, promises as fs, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeltaTable } from '../../../src/delta/table.js';
import { DuckSession } from '../../../src/duck/session.js';
import { startKafkaServer, type KafkaTestServer } from '../../helpers/kafka-server.js';
import { runCli } from '../../helpers/kill-restart.js';

const SAMPLE = nodePath.resolve(import.meta.dirname, '../../../data/sample/tweets-001.json');
const USER = 'tweetlake';
const PASSWORD = 'pa55-word_of-the-test';

let kafka: KafkaTestServer;
let work: string;
let session: DuckSession;
let records: number;

async function config(name: string, sasl: Record<string, string>): Promise<string> {
  const file = nodePath.join(work, name);
  await fs.writeFile(
    file,
    JSON.stringify({
      kafka: {
        startingOffsets: 'earliest',
        retryMs: 5_000,
        sasl: { mechanism: 'PLAIN', username: USER, ...sasl },
      },
    }),
  );
  return file;
}

beforeAll(async () => {
  kafka = await startKafkaServer({ saslUsers: { [USER]: PASSWORD } });
  await kafka.createTopic('tweets', 3);
  work = mkdtempSync(nodePath.join(tmpdir(), 'tweetlake-kafka-sasl-'));
  session = await DuckSession.create();
  await fs.mkdir(nodePath.join(work, 'source'));
  const text = readFileSync(SAMPLE, 'utf8');
  await fs.writeFile(nodePath.join(work, 'source', 'tweets-001.json'), text);
  records = text.split('\n').filter((l) => l.trim()).length;
}, 300_000);

afterAll(async () => {
  session?.close();
  await kafka?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('Kafka over SASL/PLAIN', () => {
  it('produce and a group worker authenticate with the configured user; a wrong password is refused', async () => {
    const uri = `kafka://${kafka.saslBootstrap}/tweets`;
    const good = await config('good.config.json', { passwordEnv: 'TL_TEST_KAFKA_PASSWORD' });
    const env = { TL_TEST_KAFKA_PASSWORD: PASSWORD };
    /** `tweetlake produce` of the source folder to the topic with a config file. */
    const produce = (configFile: string, vars?: Record<string, string>) =>
      runCli(
        ['produce', '--source', nodePath.join(work, 'source'), '--to', uri, '--config', configFile],
        vars,
      );
    const produced = await produce(good, env);
    expect(produced.code, produced.err).toBe(0);
    expect(produced.out).toContain(`sent ${records} records`);

    const root = nodePath.join(work, 'lake');
    const worker = await runCli(
      ['run', '--group', 'sasl', '--source', uri, '--root', root, '--config', good],
      env,
    );
    expect(worker.code, worker.out + worker.err).toBe(0);
    const bronze = await DeltaTable.forPath(nodePath.join(root, 'bronze'), session);
    expect((await bronze.snapshot()).numRecords).toBe(records);
    const gold = await (await DeltaTable.forPath(nodePath.join(root, 'gold'), session)).snapshot();
    expect(gold.numRecords).toBeGreaterThanOrEqual(records);

    // the variable not set: the config is refused before anything is sent
    const unset = await produce(good);
    expect(unset.code, unset.err).toBe(2);
    expect(unset.err).toMatch(/passwordEnv names TL_TEST_KAFKA_PASSWORD, which is not set/);

    // a wrong password: refused by the broker, said at once (no 5 s of retries), exit 3; produce too
    const wrongProduce = await produce(
      await config('wrong-produce.config.json', { password: 'not the password' }),
    );
    expect(wrongProduce.code, wrongProduce.err).toBe(3);
    expect(wrongProduce.err).toMatch(/error \[KAFKA_PRODUCE\].*(SASL|[Aa]uthentication)/s);
    expect(wrongProduce.err).not.toMatch(/is the broker running/);
    const wrong = await config('wrong.config.json', { password: 'not the password' });
    const t0 = performance.now();
    const refused = await runCli([
      'run',
      '--source',
      uri,
      '--root',
      nodePath.join(work, 'lake2'),
      '--config',
      wrong,
    ]);
    expect(refused.code, refused.out + refused.err).toBe(3);
    expect(refused.err).toMatch(/error \[KAFKA_SOURCE\].*(SASL|[Aa]uthentication)/s);
    expect(refused.err).not.toContain('not the password');
    expect(refused.err).not.toMatch(/is the broker running/);
    expect(performance.now() - t0).toBeLessThan(20_000);
  }, 600_000);
});
