import { promises as fs } from 'node:fs';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  UploadPartCommand,
  type CompletedPart,
  type S3Client,
} from '@aws-sdk/client-s3';
import { StagedFileChanged } from './s3-errors.js';

/** Runs one S3 request with the store's retries; throws `GaveUp` when it fails for good. */
export type Send = <T>(
  op: () => Promise<T>,
  conditional?: boolean,
) => Promise<{ value: T; attempts: number }>;

/** What a multipart upload needs: where, from which file, in which pieces. */
export interface MultipartUpload {
  client: S3Client;
  bucket: string;
  key: string;
  file: string;
  size: number;
  partSize: number;
  /** Parts in flight at once: memory is bounded by partSize × concurrency. */
  concurrency: number;
  /** Complete with `If-None-Match: *`: fails with 412 if the key appeared meanwhile. */
  ifAbsent: boolean;
}

/** Uploads parts read from the file one part at a time (never the whole file in memory). */
async function uploadParts(u: MultipartUpload, uploadId: string, send: Send): Promise<CompletedPart[]> {
  const count = Math.ceil(u.size / u.partSize);
  const parts: CompletedPart[] = new Array<CompletedPart>(count);
  const handle = await fs.open(u.file, 'r');
  let next = 0;
  try {
    const worker = async (): Promise<void> => {
      while (next < count) {
        const index = next++;
        const start = index * u.partSize;
        const body = Buffer.alloc(Math.min(u.partSize, u.size - start));
        const { bytesRead } = await handle.read(body, 0, body.length, start);
        if (bytesRead !== body.length) throw new StagedFileChanged(u.file);
        const { value } = await send(() =>
          u.client.send(
            new UploadPartCommand({
              Bucket: u.bucket,
              Key: u.key,
              UploadId: uploadId,
              PartNumber: index + 1,
              Body: body,
              ContentLength: body.length,
            }),
          ),
        );
        parts[index] = { PartNumber: index + 1, ETag: value.ETag };
      }
    };
    await Promise.all(Array.from({ length: Math.min(u.concurrency, count) }, worker));
  } finally {
    await handle.close();
  }
  return parts;
}

/**
 * Uploads a local file as a multipart upload; aborts it on any failure (the parts are not left
 * behind to be billed). Returns the attempts the completing request took (a retried completion may
 * answer NoSuchUpload or 412 although it was ours: the caller checks).
 */
export async function uploadMultipart(u: MultipartUpload, send: Send): Promise<number> {
  const { value: created } = await send(() =>
    u.client.send(new CreateMultipartUploadCommand({ Bucket: u.bucket, Key: u.key })),
  );
  const uploadId = created.UploadId!;
  try {
    const parts = await uploadParts(u, uploadId, send);
    const { attempts } = await send(
      () =>
        u.client.send(
          new CompleteMultipartUploadCommand({
            Bucket: u.bucket,
            Key: u.key,
            UploadId: uploadId,
            MultipartUpload: { Parts: parts },
            ...(u.ifAbsent ? { IfNoneMatch: '*' } : {}),
          }),
        ),
      u.ifAbsent,
    );
    return attempts;
  } catch (err) {
    // the original failure is what the caller must see; a failed abort leaves only billable parts
    // that the bucket's AbortIncompleteMultipartUpload lifecycle rule removes
    await send(() =>
      u.client.send(new AbortMultipartUploadCommand({ Bucket: u.bucket, Key: u.key, UploadId: uploadId })),
    ).catch(() => undefined);
    throw err;
  }
}
