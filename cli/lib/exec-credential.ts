/** The ExecCredential kubectl reads from a credential plugin, in the apiVersion kubectl asks for. */
import { isExecCredentialApiVersion } from '#shared/tokens/eks-token.ts';
import type { ExecCredentialApiVersion } from '#shared/tokens/eks-token.ts';
import { UsageError } from '../errors.ts';

/** Gatehouse's contract is v1 (DESIGN.md section 2.3); kubectl says so itself in KUBERNETES_EXEC_INFO. */
export const GATEHOUSE_EXEC_API_VERSION: ExecCredentialApiVersion = 'client.authentication.k8s.io/v1';

/**
 * The apiVersion kubectl asks for in KUBERNETES_EXEC_INFO (`{"apiVersion": ..., "kind": "ExecCredential", ...}`);
 * no or unparsable info means a caller other than kubectl, which gets v1. A version this plugin cannot write is bad
 * input.
 */
export function requestedExecApiVersion(execInfo: string | undefined): ExecCredentialApiVersion {
  if (execInfo === undefined || execInfo.trim() === '') return GATEHOUSE_EXEC_API_VERSION;
  let parsed: unknown;
  try {
    parsed = JSON.parse(execInfo);
  } catch {
    return GATEHOUSE_EXEC_API_VERSION;
  }
  const apiVersion =
    typeof parsed === 'object' && parsed !== null ? (parsed as { apiVersion?: unknown }).apiVersion : undefined;
  if (apiVersion === undefined) return GATEHOUSE_EXEC_API_VERSION;
  if (!isExecCredentialApiVersion(apiVersion)) {
    throw new UsageError(
      `KUBERNETES_EXEC_INFO asks for ExecCredential ${JSON.stringify(String(apiVersion).slice(0, 80))}; this plugin writes client.authentication.k8s.io/v1 and v1beta1`,
    );
  }
  return apiVersion;
}

/** An ExecCredential as JSON text with a trailing newline, for stdout. */
export function formatExecCredential(
  token: string,
  expirationTimestamp: string,
  apiVersion: ExecCredentialApiVersion,
): string {
  return `${JSON.stringify({ apiVersion, kind: 'ExecCredential', spec: {}, status: { token, expirationTimestamp } })}\n`;
}
