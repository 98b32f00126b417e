/**
 * A real Apache Kafka broker on loopback for tests: one KRaft node (broker and controller in one
 * process) on free ports with a fresh data folder, started and stopped by the tests. Its jars come
 * from Maven Central (`org.apache.kafka:kafka_2.13` and its runtime dependencies, resolved by
 * `mvn dependency:copy-dependencies` on a generated pom) into a cache folder (TWEETLAKE_TEST_CACHE,
 * default ~/.cache/tweetlake-test) and are reused after that. Needs Java 17 and Maven.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, promises as fs, readFileSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { Admin } from '@platformatic/kafka';
import { freePort, withInstallLock } from './s3-server.js';

export const KAFKA_VERSION = '4.1.2';
/** Kafka 4.x logs through log4j 2; this binds slf4j to it. */
const LOG4J_VERSION = '2.25.3';

/** A running broker: its bootstrap address, and ways to make topics, stop and start it again. */
export interface KafkaTestServer {
  /** `host:port` of the broker's client listener. */
  bootstrap: string;
  /** `host:port` of its SASL_PLAINTEXT listener (PLAIN), when started with users. */
  saslBootstrap?: string;
  /** The broker's log file (server output, appended across restarts). */
  logFile: string;
  /** The last `chars` characters of the log, for a failing test's message. */
  logTail(chars?: number): string;
  /** Creates a topic with one replica and waits until every partition has a leader. */
  createTopic(name: string, partitions: number): Promise<void>;
  /** Kills the broker process (SIGKILL; the data stays); `start` brings it back on the same ports. */
  kill(): Promise<void>;
  start(): Promise<void>;
  /** Kills the broker and removes its data. */
  stop(): Promise<void>;
}

function cacheDir(): string {
  return process.env.TWEETLAKE_TEST_CACHE ?? nodePath.join(homedir(), '.cache', 'tweetlake-test');
}

function pom(): string {
  const dep = (g: string, a: string, v: string) =>
    `<dependency><groupId>${g}</groupId><artifactId>${a}</artifactId><version>${v}</version></dependency>`;
  return `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>tweetlake.test</groupId>
  <artifactId>kafka-broker</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    ${dep('org.apache.kafka', 'kafka_2.13', KAFKA_VERSION)}
    ${dep('org.apache.kafka', 'kafka-storage', KAFKA_VERSION)}
    ${dep('org.apache.logging.log4j', 'log4j-slf4j-impl', LOG4J_VERSION)}
  </dependencies>
</project>
`;
}

/** The folder of the broker's jars, resolved with Maven on first use. */
export async function kafkaLibs(): Promise<string> {
  const dir = nodePath.join(cacheDir(), `kafka-${KAFKA_VERSION}`);
  const libs = nodePath.join(dir, 'libs');
  const done = nodePath.join(dir, '.complete');
  if (existsSync(done)) return libs;
  await fs.mkdir(cacheDir(), { recursive: true });
  return withInstallLock(`${dir}.lock`, async () => {
    if (existsSync(done)) return libs;
    await fs.rm(dir, { recursive: true, force: true });
    await fs.mkdir(dir, { recursive: true });
    await fs.writeFile(nodePath.join(dir, 'pom.xml'), pom());
    const args = [
      '-B',
      '-q',
      'dependency:copy-dependencies',
      `-DoutputDirectory=${libs}`,
      '-DincludeScope=runtime',
    ];
    const result = spawnSync('mvn', args, { cwd: dir, encoding: 'utf8', timeout: 900_000 });
    if (result.error || result.status !== 0)
      throw new Error(
        `could not resolve Kafka ${KAFKA_VERSION}'s jars with Maven (is mvn installed and Maven Central ` +
          `reachable?): ${result.error?.message ?? `${result.stdout}\n${result.stderr}`}`,
      );
    await fs.writeFile(done, new Date().toISOString());
    return libs;
  });
}

function javaBinary(): string {
  return process.env.JAVA_HOME ? nodePath.join(process.env.JAVA_HOME, 'bin', 'java') : 'java';
}

/**
 * A random KRaft cluster id: 16 bytes, base64url without padding (Kafka's Uuid text form). Like
 * Kafka's own Uuid.randomUuid, never one that starts with '-': the storage tool's argument parser
 * reads such a value as an option (1 format in 64 failed so in CI).
 */
export function clusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/** Users of a SASL/PLAIN listener, and its port. */
interface SaslListener {
  port: number;
  users: Record<string, string>;
}

/** The JAAS value of a PLAIN listener: its users and their passwords (plain words, as the tests use). */
function plainJaas(users: Record<string, string>): string {
  for (const [u, p] of Object.entries(users))
    if (!/^[\w.-]+$/.test(u) || !/^[\w.-]+$/.test(p))
      throw new Error(`test SASL users and passwords are plain words: ${u}`);
  const entries = Object.entries(users).map(([u, p]) => `user_${u}="${p}"`);
  return `org.apache.kafka.common.security.plain.PlainLoginModule required ${entries.join(' ')};`;
}

function serverProperties(
  dataDir: string,
  port: number,
  controllerPort: number,
  sasl?: SaslListener,
): string {
  const extra = sasl ? `,SASL_PLAINTEXT://127.0.0.1:${sasl.port}` : '';
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
    `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}${extra}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${port}${extra}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    `listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT${sasl ? ',SASL_PLAINTEXT:SASL_PLAINTEXT' : ''}`,
    ...(sasl
      ? [
          'sasl.enabled.mechanisms=PLAIN',
          `listener.name.sasl_plaintext.plain.sasl.jaas.config=${plainJaas(sasl.users)}`,
        ]
      : []),
    `log.dirs=${nodePath.join(dataDir, 'logs')}`,
    // one node: every internal topic has one replica
    'offsets.topic.replication.factor=1',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    'group.initial.rebalance.delay.ms=0',
    'num.partitions=1',
    'auto.create.topics.enable=false',
    '',
  ].join('\n');
}

const LOG4J_CONFIG = `rootLogger.level=INFO
rootLogger.appenderRef.out.ref=OUT
appender.out.type=Console
appender.out.name=OUT
appender.out.layout.type=PatternLayout
appender.out.layout.pattern=[%d] %p %m (%c)%n
`;

/** Runs Kafka's storage tool (synchronously); throws with its output when it fails. */
function formatStorage(libs: string, dataDir: string, properties: string): void {
  const args = [
    '-cp',
    nodePath.join(libs, '*'),
    `-Dlog4j2.configurationFile=${nodePath.join(dataDir, 'log4j2.properties')}`,
  ];
  args.push('kafka.tools.StorageTool', 'format', `--cluster-id=${clusterId()}`, `--config=${properties}`);
  const result = spawnSync(javaBinary(), args, { encoding: 'utf8', timeout: 120_000 });
  if (result.error || result.status !== 0)
    throw new Error(
      `kafka-storage format failed: ${result.error?.message ?? result.stdout.slice(-2000) + result.stderr}`,
    );
}

/** Waits until the broker answers a metadata request (through our client) with itself. */
async function waitReady(bootstrap: string, child: ChildProcess, logTail: () => string): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`kafka exited with ${child.exitCode}: ${logTail()}`);
    const admin = new Admin({
      clientId: 'tweetlake-test-probe',
      bootstrapBrokers: [bootstrap],
      retries: 0,
      timeout: 2000,
    });
    try {
      const metadata = await admin.metadata({ topics: [] });
      if (metadata.brokers.size > 0) return;
    } catch {
      // not answering yet
    } finally {
      await admin.close().catch(() => undefined);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`kafka did not answer on ${bootstrap} within 120 s: ${logTail()}`);
}

/**
 * Starts a one-node KRaft Kafka on free loopback ports with a fresh, formatted data folder; with
 * `saslUsers`, also a SASL_PLAINTEXT listener (mechanism PLAIN, those users) at `saslBootstrap`.
 */
export async function startKafkaServer(
  options: { saslUsers?: Record<string, string> } = {},
): Promise<KafkaTestServer> {
  const libs = await kafkaLibs();
  const dataDir = mkdtempSync(nodePath.join(tmpdir(), 'tweetlake-kafka-'));
  const port = await freePort();
  const controllerPort = await freePort();
  const sasl = options.saslUsers ? { port: await freePort(), users: options.saslUsers } : undefined;
  const bootstrap = `127.0.0.1:${port}`;
  const properties = nodePath.join(dataDir, 'server.properties');
  const logFile = nodePath.join(dataDir, 'server.log');
  await fs.writeFile(properties, serverProperties(dataDir, port, controllerPort, sasl));
  await fs.writeFile(nodePath.join(dataDir, 'log4j2.properties'), LOG4J_CONFIG);
  formatStorage(libs, dataDir, properties);
  let child: ChildProcess | undefined;
  const killOnExit = () => child?.kill('SIGKILL');
  process.once('exit', killOnExit);
  const logTail = (chars = 4000) => {
    try {
      return readFileSync(logFile, 'utf8').slice(-chars);
    } catch {
      return '(no log)';
    }
  };

  const start = async () => {
    const out = openSync(logFile, 'a');
    const args = ['-Xms128m', '-Xmx512m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1'];
    args.push('-cp', nodePath.join(libs, '*'));
    args.push(`-Dlog4j2.configurationFile=${nodePath.join(dataDir, 'log4j2.properties')}`);
    args.push('kafka.Kafka', properties);
    const proc = spawn(javaBinary(), args, { stdio: ['ignore', out, out] });
    closeSync(out);
    child = proc;
    await waitReady(bootstrap, proc, () => logTail());
  };
  const kill = async () => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      proc.kill('SIGKILL');
    });
  };

  await start();
  return {
    bootstrap,
    ...(sasl ? { saslBootstrap: `127.0.0.1:${sasl.port}` } : {}),
    logFile,
    logTail,
    async createTopic(name, partitions) {
      const admin = new Admin({ clientId: 'tweetlake-test-admin', bootstrapBrokers: [bootstrap] });
      try {
        await admin.createTopics({ topics: [name], partitions, replicas: 1 });
        const deadline = Date.now() + 30_000;
        for (;;) {
          const meta = await admin.metadata({ topics: [name], forceUpdate: true }).catch(() => undefined);
          const parts = meta?.topics.get(name)?.partitions ?? [];
          if (parts.length === partitions && parts.every((p) => p.leader >= 0)) return;
          if (Date.now() > deadline)
            throw new Error(`topic ${name} has no leader for every partition after 30 s`);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      } finally {
        await admin.close();
      }
    },
    kill,
    start,
    async stop() {
      await kill();
      process.removeListener('exit', killOnExit);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
