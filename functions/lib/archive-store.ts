/**
 * The audit bucket as get-evidence reads it, in a module of its own: importing it brings the S3 client alone, not the
 * other adapters of `aws-adapters.ts` (Slack, SES, STS, EKS), so the function's bundle stays under 1 MB.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { S3ArchiveStore } from '#shared/adapters/aws/s3-archive-store.ts';
import type { AwsAdapters } from './aws-runtime.ts';
import { tracer } from './observability.ts';

/** The audit bucket named by AUDIT_BUCKET: its digests and public keys. */
export const s3ArchiveStore: NonNullable<AwsAdapters['archive']> = () => {
  const bucket = process.env.AUDIT_BUCKET;
  if (!bucket) throw new Error('environment variable AUDIT_BUCKET is not set');
  return new S3ArchiveStore(tracer.captureAWSv3Client(new S3Client({})), bucket);
};
