/**
 * The AWS adapters that only some functions use, each behind its own factory. A handler names the ones it needs in
 * `apiHandler`/`lifecycleTask`, so esbuild bundles only those SDK clients into its function: the STS client only where
 * tokens are minted, EKS only where access entries change, Step Functions only in create-access-request.
 */
import { KMSClient } from '@aws-sdk/client-kms';
import { EksAccessEntries } from '#shared/adapters/aws/eks-access-entries.ts';
import { KmsRelayCredentialSigner } from '#shared/adapters/aws/kms-relay-credential-signer.ts';
import { SfnLifecycleScheduler } from '#shared/adapters/aws/sfn-lifecycle-scheduler.ts';
import { SfnTaskCallbacks } from '#shared/adapters/aws/sfn-task-callbacks.ts';
import { StsTokenMinter } from '#shared/adapters/aws/sts-token-minter.ts';
import { systemClock } from '#shared/adapters/system.ts';
import type { AwsAdapters } from './aws-runtime.ts';
import { tracer } from './observability.ts';

/** Tokens from STS `AssumeRole` on the grant's slot role (create-access-request, issue-token). */
export const stsTokenMinter: NonNullable<AwsAdapters['minter']> = (clusters) =>
  new StsTokenMinter({ clusters, clock: systemClock });

/** Relay credentials signed with the KMS relay credential key (create-access-request, issue-token). */
export const kmsRelayCredentialSigner: NonNullable<AwsAdapters['relaySigner']> = (keyArn) =>
  new KmsRelayCredentialSigner(tracer.captureAWSv3Client(new KMSClient({})), keyArn);

/** EKS access entries for slot roles (the functions that grant and revoke). */
export const eksAccessEntries: NonNullable<AwsAdapters['entries']> = (clusters) => new EksAccessEntries({ clusters });

/** Grant lifecycles as Step Functions executions (create-access-request). */
export const sfnLifecycleScheduler: NonNullable<AwsAdapters['scheduler']> = (stateMachineArn) =>
  new SfnLifecycleScheduler(stateMachineArn);

/** Answers the lifecycle's waiting approval task (the approval callback handlers) and beats it (approval-heartbeat). */
export const sfnTaskCallbacks: NonNullable<AwsAdapters['callbacks']> = () => new SfnTaskCallbacks();
