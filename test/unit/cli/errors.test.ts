import { promises as fs } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Interrupted, presentError, QueryError, UsageError } from '../../../src/cli/errors.js';
import { SqlError } from '../../../src/duck/session.js';
import { StreamingQueryException } from '../../../src/engine/query.js';
import { TweetlakeError } from '../../../src/errors.js';
import { redactSecrets, withoutUserInfo } from '../../../src/redact.js';

const OUR_SQL = `SELECT * FROM read_parquet(['/lake/bronze/part-00000-1.snappy.parquet']) WHERE x`;
const duck = (head: string) => new SqlError(`${head}\n\nLINE 1: ${OUR_SQL}\n                 ^`, OUR_SQL);

describe('presentError', () => {
  it('maps each domain to its exit code and keeps the error code', () => {
    expect(presentError(new UsageError('--limit must be a whole number'))).toMatchObject({
      code: 'USAGE',
      exitCode: 2,
    });
    expect(presentError(new TweetlakeError('X', 'server down', { domain: 'external' })).exitCode).toBe(3);
    expect(presentError(new TweetlakeError('Y', 'our bug', { domain: 'internal' })).exitCode).toBe(70);
    expect(presentError(new Interrupted('SIGINT')).exitCode).toBe(130);
    expect(presentError(new Interrupted('SIGTERM')).exitCode).toBe(143);
  });

  it('an unknown error is a bug of ours (70), with how to get its stack trace', () => {
    const p = presentError(new TypeError('x is undefined'));
    expect(p).toMatchObject({ code: 'INTERNAL', domain: 'internal', exitCode: 70 });
    expect(p.message).toMatch(/x is undefined.*TWEETLAKE_DEBUG=1/);
  });

  it("never quotes our SQL; the user's own SQL error keeps its quote", () => {
    const binder = presentError(duck('Binder Error: Referenced column "x" not found'));
    expect(binder.message).toBe(
      'Binder Error: Referenced column "x" not found (an internal error: TWEETLAKE_DEBUG=1 prints its stack trace; please report it)',
    );
    expect(binder.exitCode).toBe(70);
    const oom = presentError(
      new StreamingQueryException('bronze_stream', duck('Out of Memory Error: failed to allocate')),
    );
    expect(oom).toMatchObject({ code: 'STREAMING_QUERY_FAILED', domain: 'external', exitCode: 3 });
    expect(oom.message).not.toMatch(/LINE|parquet/);
    expect(oom.message).toMatch(/memoryLimit/);
    const mine = presentError(new QueryError('Parser Error: syntax error\n\nLINE 1: SELEC oops\n        ^'));
    expect(mine).toMatchObject({
      exitCode: 2,
      message: 'Parser Error: syntax error\n\nLINE 1: SELEC oops\n        ^',
    });
  });

  it("the user's SQL failing on a file underneath is external (3); their SQL mistake stays theirs (2)", () => {
    const io = new QueryError(
      'IO Error: No files found that match the pattern "/lake/x.parquet"',
      new SqlError('IO Error: No files found that match the pattern "/lake/x.parquet"', 'SELECT 1'),
    );
    expect(io.domain).toBe('external');
    expect(presentError(io)).toMatchObject({ code: 'SQL_QUERY', domain: 'external', exitCode: 3 });
    const typo = new QueryError('Parser Error: syntax error at or near "SELEC"', duck('Parser Error: x'));
    expect(presentError(typo)).toMatchObject({ code: 'SQL_QUERY', domain: 'user', exitCode: 2 });
    const ours = presentError(duck('IO Error: Cannot open file "/lake/bronze/part-0.parquet"'));
    expect(ours).toMatchObject({ domain: 'external', exitCode: 3 });
  });

  it('a path the user gave that is not usable is a user error naming the path', async () => {
    const err = await fs.readFile('/no/such/file.json').catch((e: unknown) => e);
    expect(presentError(err)).toMatchObject({
      code: 'ENOENT',
      exitCode: 2,
      message: '/no/such/file.json: no such file or directory',
    });
  });

  it('redacts secrets from every message', () => {
    const err = new TweetlakeError(
      'MLFLOW',
      'cannot reach http://bob:pw@host:5000/api?token=abc123&x=1 (Bearer abcdefghij)',
      {
        domain: 'external',
      },
    );
    const p = presentError(err).message;
    expect(p).not.toMatch(/bob|pw@|abc123|abcdefghij/);
    expect(p).toMatch(/http:\/\/\*\*\*@host:5000\/api\?token=\*\*\*&x=1/);
  });
});

describe('redactSecrets', () => {
  it('masks user info, credential parameters, auth headers, hub tokens and secret variables', () => {
    const env = { MLFLOW_TRACKING_TOKEN: 'dapi-secret-1234', HF_TOKEN: 'x' };
    expect(redactSecrets('https://u:p@db.example/x and s3://bucket/k', env)).toBe(
      'https://***@db.example/x and s3://bucket/k',
    );
    expect(redactSecrets('GET /o?X-Amz-Signature=deadbeef&a=b', env)).toBe('GET /o?X-Amz-Signature=***&a=b');
    expect(redactSecrets('authorization: Basic Ym9iOnB3ZA==', env)).toBe('authorization: Basic ***');
    expect(redactSecrets('token hf_abcdefghijklmnopqrstu used', env)).toBe('token *** used');
    expect(redactSecrets('sent dapi-secret-1234 to the server', env)).toBe('sent *** to the server');
    expect(redactSecrets('a short HF_TOKEN x is not masked everywhere', env)).toBe(
      'a short HF_TOKEN x is not masked everywhere',
    );
    expect(withoutUserInfo('http://bob:pw@127.0.0.1:5000/')).toBe('http://127.0.0.1:5000/');
  });
});
