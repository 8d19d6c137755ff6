import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsCommand,
  NoSuchKey,
  NotFound,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { ArchiveStore } from '../../evidence/ports.ts';
import { StoreError } from './tables.ts';

/**
 * The audit bucket. Writes never replace an object: a HEAD finds an existing one first (a replayed batch then costs a
 * HEAD, not a new object version), and `If-None-Match: *` makes S3 itself refuse the race the HEAD cannot see. Object
 * Lock retention comes from the bucket's default (COMPLIANCE), so a writer needs no retention permission.
 */
export class S3ArchiveStore implements ArchiveStore {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  async putIfAbsent(key: string, body: Uint8Array, sha256: string): Promise<'written' | 'exists'> {
    if (await this.exists(key)) return 'exists';
    return this.putNew(key, body, sha256);
  }

  /**
   * Writes an object whose key is new by construction (an exec session's recording), with no HEAD first: a writer that
   * may only put (the relay's task role) needs no read permission. `If-None-Match: *` still refuses an overwrite.
   */
  async putNew(key: string, body: Uint8Array, sha256: string): Promise<'written' | 'exists'> {
    try {
      await this.s3.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: body,
          ContentType: contentType(key),
          // S3 checks the bytes against it on arrival and keeps it with the object.
          ChecksumSHA256: Buffer.from(sha256, 'hex').toString('base64'),
          IfNoneMatch: '*',
        }),
      );
      return 'written';
    } catch (error) {
      // Another writer stored the same key first: same key, same content (keys derive from it).
      if (httpStatus(error) === 412) return 'exists';
      throw new StoreError(`archive object ${key} could not be written`, { cause: error });
    }
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      const result = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return result.Body ? await result.Body.transformToByteArray() : new Uint8Array();
    } catch (error) {
      if (error instanceof NoSuchKey || httpStatus(error) === 404) return undefined;
      throw new StoreError(`archive object ${key} could not be read`, { cause: error });
    }
  }

  async *list(prefix: string, startAfter?: string): AsyncIterable<{ key: string; lastModified: Date }> {
    // ListObjects (v1) paged by Marker, the last key seen: S3 answers it as v2 does, and s3rver cannot page v2 (its
    // continuation tokens use DES, which OpenSSL 3 no longer offers).
    let after = startAfter;
    for (;;) {
      let page;
      try {
        page = await this.s3.send(
          new ListObjectsCommand({ Bucket: this.bucket, Prefix: prefix, ...(after ? { Marker: after } : {}) }),
        );
      } catch (error) {
        throw new StoreError(`archive objects under ${prefix} could not be listed`, { cause: error });
      }
      for (const object of page.Contents ?? []) {
        if (!object.Key) continue;
        after = object.Key;
        yield { key: object.Key, lastModified: object.LastModified ?? new Date(0) };
      }
      if (!page.IsTruncated || !page.Contents?.length) return;
    }
  }

  private async exists(key: string): Promise<boolean> {
    try {
      await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return true;
    } catch (error) {
      if (error instanceof NotFound || httpStatus(error) === 404) return false;
      throw new StoreError(`archive object ${key} could not be checked`, { cause: error });
    }
  }
}

function contentType(key: string): string {
  if (key.endsWith('.pem')) return 'application/x-pem-file';
  // asciicast v2 (exec session recordings): newline-delimited JSON.
  if (key.endsWith('.cast')) return 'application/x-asciicast';
  return 'application/json';
}

function httpStatus(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
}
