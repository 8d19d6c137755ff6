/**
 * TokenMinter for the local runtime (no AWS account): the same `k8s-aws-v1.` presigned-URL format, signed with a
 * static local key whose secret lives in the local data directory. STS would reject these tokens; only a Gatehouse
 * local relay holding the same secret can verify them, with {@link verifyLocalToken}.
 *
 * Like a real STS session token, `X-Amz-Security-Token` names the session (grant, slot role, session name) and its end;
 * the signature covers it, so it cannot be altered without the secret.
 */
import { createHash } from 'node:crypto';
import type { DirectGrant, ExecCredential, Principal } from '../../model.ts';
import type { Clock, TokenMinter } from '../../ports.ts';
import { EksTokenError, TokenMintError, presignEksToken, toExecCredential } from '../../tokens/eks-token.ts';
import type { EksClusterLookup } from '../../tokens/eks-token.ts';
import { verifyEksToken } from '../../tokens/eks-token-verifier.ts';
import type { EksTokenClaims, EksTokenRejection } from '../../tokens/eks-token-verifier.ts';
import { isValidRoleSessionName } from '../../tokens/session-name.ts';

/** Local sessions last as long as real slot sessions. */
export const LOCAL_SESSION_SECONDS = 900;
/** A shorter secret is refused: it signs every local token. */
export const LOCAL_SECRET_MIN_LENGTH = 32;
const SESSION_TOKEN_PREFIX = 'GHLOCAL1.';

/** The session a local token stands for. */
export interface LocalSession {
  grantId: string;
  roleArn: string;
  sessionName: string;
  /** When the session ends (ISO-8601). */
  expiresAt: string;
}

export type LocalTokenCheck =
  | { ok: true; claims: EksTokenClaims; session: LocalSession }
  | { ok: false; reason: EksTokenRejection | 'bad-session' | 'session-expired'; message: string };

export interface LocalTokenMinterProps {
  /** The local signing secret (at least 32 characters). */
  secret: string;
  /** Where each Gatehouse cluster lives; the EKS name is the token's cluster id. */
  clusters: EksClusterLookup;
  clock: Clock;
}

/** The access key id of the local key: `GHLOCAL` and 13 hex digits of the secret's SHA-256, so it names the key. */
export function localAccessKeyId(secret: string): string {
  return `GHLOCAL${createHash('sha256').update(secret, 'utf8').digest('hex').slice(0, 13).toUpperCase()}`;
}

export class LocalTokenMinter implements TokenMinter {
  private readonly accessKeyId: string;

  constructor(private readonly props: LocalTokenMinterProps) {
    if (props.secret.length < LOCAL_SECRET_MIN_LENGTH) {
      throw new TokenMintError(`the local signing secret must be at least ${LOCAL_SECRET_MIN_LENGTH} characters`);
    }
    this.accessKeyId = localAccessKeyId(props.secret);
  }

  async mint({ grant }: { grant: DirectGrant; principal: Principal }): Promise<ExecCredential> {
    const location = this.props.clusters(grant.cluster);
    if (location === undefined) {
      throw new TokenMintError(`cluster ${JSON.stringify(grant.cluster)} of grant ${grant.id} is not configured`);
    }
    if (!isValidRoleSessionName(grant.sessionName)) {
      throw new TokenMintError(`grant ${grant.id} has an invalid session name`);
    }
    const now = this.props.clock.now();
    const expiration = new Date(now.getTime() + LOCAL_SESSION_SECONDS * 1000);
    const session: LocalSession = {
      grantId: grant.id,
      roleArn: grant.slot.roleArn,
      sessionName: grant.sessionName,
      expiresAt: expiration.toISOString(),
    };
    try {
      const { token, expiresAt } = await presignEksToken({
        credentials: {
          accessKeyId: this.accessKeyId,
          secretAccessKey: this.props.secret,
          sessionToken: SESSION_TOKEN_PREFIX + Buffer.from(JSON.stringify(session), 'utf8').toString('base64url'),
          expiration,
        },
        region: location.region,
        clusterName: location.eksClusterName,
        now,
      });
      return toExecCredential(token, expiresAt);
    } catch (error) {
      if (error instanceof EksTokenError) {
        throw new TokenMintError(`could not sign a local token for grant ${grant.id}: ${error.message}`);
      }
      throw error;
    }
  }
}

/**
 * Verifies a token minted by {@link LocalTokenMinter} with the same secret: every aws-iam-authenticator rule, the
 * signature for `clusterName` (the EKS cluster name), the local key's id, and the session it names still running.
 */
export function verifyLocalToken(token: string, secret: string, clusterName: string, now: Date): LocalTokenCheck {
  const check = verifyEksToken(token, {
    clusterId: clusterName,
    secretAccessKey: secret,
    accessKeyId: localAccessKeyId(secret),
    now,
  });
  if (!check.ok) return check;
  const session = readSession(token);
  if (session === undefined) return { ok: false, reason: 'bad-session', message: 'token names no local session' };
  if (now.getTime() >= Date.parse(session.expiresAt)) {
    return { ok: false, reason: 'session-expired', message: 'the local session has ended' };
  }
  return { ok: true, claims: check.claims, session };
}

function readSession(token: string): LocalSession | undefined {
  // The token already passed verification, so it decodes to a URL.
  const url = new URL(Buffer.from(token.slice(token.indexOf('.') + 1), 'base64url').toString('utf8'));
  const raw = url.searchParams.get('X-Amz-Security-Token');
  if (raw === null || !raw.startsWith(SESSION_TOKEN_PREFIX)) return undefined;
  try {
    const value: unknown = JSON.parse(
      Buffer.from(raw.slice(SESSION_TOKEN_PREFIX.length), 'base64url').toString('utf8'),
    );
    if (typeof value !== 'object' || value === null) return undefined;
    const { grantId, roleArn, sessionName, expiresAt } = value as Record<string, unknown>;
    if (
      typeof grantId !== 'string' ||
      typeof roleArn !== 'string' ||
      typeof sessionName !== 'string' ||
      typeof expiresAt !== 'string' ||
      Number.isNaN(Date.parse(expiresAt))
    ) {
      return undefined;
    }
    return { grantId, roleArn, sessionName, expiresAt };
  } catch {
    return undefined;
  }
}
