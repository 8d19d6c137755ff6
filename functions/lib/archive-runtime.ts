/**
 * The archiver's composition root, apart from the control plane's (runtime.ts): the archive function needs only the
 * audit bucket, so its bundle carries neither Cedar nor the access service. Lambda builds it from `AUDIT_BUCKET` on
 * first use; the local runtime and tests install theirs (an S3ArchiveStore on s3rver) with `useArchiveRuntime`.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { S3ArchiveStore } from '#shared/adapters/aws/s3-archive-store.ts';
import { systemClock, ulidIds } from '#shared/adapters/system.ts';
import type { ArchiverDeps } from '#shared/evidence/archiver.ts';
import { tracer } from './observability.ts';

/** What the archive function runs on: the archive store, the clock and the manifest ids. */
export type ArchiveRuntime = ArchiverDeps;

let current: ArchiveRuntime | undefined;

/** Installs the archive runtime (the local runtime and tests do); undefined goes back to the AWS one. */
export function useArchiveRuntime(runtime: ArchiveRuntime | undefined): void {
  current = runtime;
}

/** The installed archive runtime, or else the AWS one, built once per process. */
export function getArchiveRuntime(): ArchiveRuntime {
  current ??= buildAwsArchiveRuntime();
  return current;
}

function buildAwsArchiveRuntime(): ArchiveRuntime {
  const bucket = process.env.AUDIT_BUCKET;
  if (!bucket) throw new Error('environment variable AUDIT_BUCKET is not set');
  return {
    archive: new S3ArchiveStore(tracer.captureAWSv3Client(new S3Client({})), bucket),
    clock: systemClock,
    ids: ulidIds,
  };
}
