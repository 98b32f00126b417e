import { isIP } from 'node:net';
import type { S3ClientConfig } from '@aws-sdk/client-s3';
import { S3BadEndpoint } from './s3-errors.js';

/** How to reach S3: every field optional, the standard AWS variables and chain fill the rest. */
export interface S3ConnectionOptions {
  /** e.g. `http://127.0.0.1:7070`; default `AWS_ENDPOINT_URL_S3`, then `AWS_ENDPOINT_URL`, then AWS itself. */
  endpoint?: string;
  /** Default `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's region; `us-east-1` for a custom endpoint. */
  region?: string;
  /** Path-style URLs (`endpoint/bucket/key`); default: on when the endpoint is an IP address or localhost. */
  forcePathStyle?: boolean;
  /** Allow plain HTTP to an endpoint that is not on loopback or an IP address (default false). */
  allowHttp?: boolean;
  /** Fixed credentials (tests, embedding); default: the AWS chain (variables, AWS_PROFILE, SSO, roles). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Socket idle timeout of one request, ms (default 30 s). */
  requestTimeoutMs?: number;
}

/** The SDK client configuration, with what messages may say about it (never a secret). */
export interface ResolvedS3Connection {
  config: S3ClientConfig;
  /** The endpoint as messages show it. */
  endpointLabel: string;
  /** Where credentials come from, by name only. */
  credentialSource: string;
}

type Env = Record<string, string | undefined>;

/** Whether a host name is an IP address or localhost (path-style addressing, plain HTTP allowed). */
export function isLocalHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '');
  return isIP(host) !== 0 || host === 'localhost' || host.endsWith('.localhost');
}

function parseEndpoint(endpoint: string, allowHttp: boolean): URL {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new S3BadEndpoint(endpoint, 'not a URL; write it as https://host[:port] or http://127.0.0.1:port');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new S3BadEndpoint(endpoint, `scheme ${url.protocol} is not http: or https:`);
  if (url.username || url.password)
    throw new S3BadEndpoint(
      url.host,
      'credentials do not belong in the URL: use AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY',
    );
  if (url.protocol === 'http:' && !allowHttp && !isLocalHost(url.hostname))
    throw new S3BadEndpoint(
      endpoint,
      'plain HTTP to a remote host sends requests unencrypted: use https://, or set allowHttp for a trusted network',
    );
  return url;
}

function describeCredentials(options: S3ConnectionOptions, env: Env): string {
  if (options.credentials) return 'the store options';
  if (env.AWS_ACCESS_KEY_ID) return 'AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY';
  if (env.AWS_PROFILE) return `profile "${env.AWS_PROFILE}" (AWS_PROFILE)`;
  return 'the default AWS chain (~/.aws files, SSO, web identity, container or instance role)';
}

/** Resolves endpoint, region, addressing style and credentials from options and the environment. */
export function resolveS3Connection(
  options: S3ConnectionOptions = {},
  env: Env = process.env,
): ResolvedS3Connection {
  const endpointText = options.endpoint ?? env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL;
  const endpoint = endpointText ? parseEndpoint(endpointText, options.allowHttp ?? false) : undefined;
  const custom = endpoint !== undefined;
  const region =
    options.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? (custom ? 'us-east-1' : undefined);
  const config: S3ClientConfig = {
    ...(region ? { region } : {}),
    ...(endpoint ? { endpoint: endpoint.toString().replace(/\/$/, '') } : {}),
    forcePathStyle: options.forcePathStyle ?? (endpoint ? isLocalHost(endpoint.hostname) : false),
    ...(options.credentials ? { credentials: options.credentials } : {}),
    // our own retries (s3-retry.ts) decide what is retried and count the attempts
    maxAttempts: 1,
    // S3-compatible servers differ in their support of the SDK's default flexible checksums
    ...(custom
      ? {
          requestChecksumCalculation: 'WHEN_REQUIRED' as const,
          responseChecksumValidation: 'WHEN_REQUIRED' as const,
        }
      : {}),
    requestHandler: { connectionTimeout: 5_000, requestTimeout: options.requestTimeoutMs ?? 30_000 },
  };
  return {
    config,
    endpointLabel: endpoint ? endpoint.origin : `AWS S3 (${region ?? 'region from the AWS chain'})`,
    credentialSource: describeCredentials(options, env),
  };
}
