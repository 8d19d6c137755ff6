/**
 * Scheduled hourly at minute 10 (EventBridge): signs the digest of every archive hour that ended at least ten minutes
 * ago and has none yet (shared/evidence/digester.ts), with the KMS key `DIGEST_SIGNING_KEY_ARN` (ECDSA_SHA_256), and
 * publishes that key's public half under digests/keys/. A missed run is caught up by the next one, hour by hour.
 */
import { KMSClient } from '@aws-sdk/client-kms';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { KmsDigestSigner } from '#shared/adapters/aws/kms-digest-signer.ts';
import { Digester, lastDigestibleHour, type DigestResult } from '#shared/evidence/digester.ts';
import { getArchiveRuntime } from './lib/archive-runtime.ts';
import { logger, metrics, tracer } from './lib/observability.ts';

const kms = tracer.captureAWSv3Client(new KMSClient({}));

export const handler = middy<unknown, { target: string; digests: DigestResult[] }, Error, Context>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(captureLambdaHandler(tracer))
  .use(logMetrics(metrics))
  .handler(async () => {
    const keyArn = process.env.DIGEST_SIGNING_KEY_ARN;
    if (!keyArn) throw new Error('environment variable DIGEST_SIGNING_KEY_ARN is not set');
    const { archive, clock } = getArchiveRuntime();
    const target = lastDigestibleHour(clock.now());
    const digests = await new Digester({ store: archive, signer: new KmsDigestSigner(kms, keyArn), clock }).digestUpTo(
      target,
    );
    const written = digests.filter((digest) => digest.written);
    metrics.addMetric('DigestsWritten', 'Count', written.length);
    logger.info('digests written', {
      target: target.toISOString(),
      written: written.map((digest) => ({ key: digest.key, objects: digest.objects })),
    });
    return { target: target.toISOString(), digests };
  });
