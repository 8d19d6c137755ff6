/** The access-request flags `gatehouse token` and `gatehouse kubeconfig` share, parsed the same way in both. */
import { InvalidArgumentError } from 'commander';
import type { Command } from 'commander';
import { UsageError } from '../errors.ts';

export interface AccessOptions {
  api?: string;
  cluster: string;
  namespace: string[];
  access: string;
  duration: number;
  purpose: string;
  ticket?: string;
  audience: string;
  oidcTokenFile?: string;
  /** `direct` (an EKS token for the cluster's API server) or `relay` (a relay credential, only the relay accepts it). */
  via: AccessVia;
}

export type AccessVia = 'direct' | 'relay';

function accessVia(value: string): AccessVia {
  if (value !== 'direct' && value !== 'relay') throw new InvalidArgumentError('direct or relay');
  return value;
}

const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

function collectNamespace(value: string, previous: string[]): string[] {
  if (!NAMESPACE.test(value)) throw new InvalidArgumentError('not a Kubernetes namespace name (RFC 1123 label)');
  return previous.includes(value) ? previous : [...previous, value];
}

/** Same bounds as the API (60 s to 12 h); the cluster's configured maximum is the API's to enforce. */
function durationSeconds(value: string): number {
  const parsed = Number(value);
  if (!/^\d+$/.test(value) || !Number.isInteger(parsed) || parsed < 60 || parsed > 43_200) {
    throw new InvalidArgumentError('a whole number of seconds from 60 to 43200');
  }
  return parsed;
}

/** Adds the access-request flags; `--namespace` repeats. */
export function withAccessOptions(command: Command): Command {
  return command
    .option('--api <url>', 'Gatehouse API URL (default: GATEHOUSE_API)')
    .requiredOption('--cluster <name>', 'Gatehouse cluster name')
    .option('--namespace <name>', 'namespace to access; repeat for several', collectNamespace, [])
    .requiredOption('--access <level>', 'access level, e.g. view or edit')
    .requiredOption('--duration <seconds>', 'how long the grant lasts', durationSeconds)
    .requiredOption('--purpose <text>', 'why access is needed (recorded for auditors)')
    .option('--ticket <ref>', 'change or incident ticket, e.g. OPS-1234')
    .option('--audience <aud>', 'audience of the GitHub Actions OIDC token', 'gatehouse')
    .option('--oidc-token-file <file>', 'file holding the OIDC token (e.g. a GitLab id_tokens file)')
    .option(
      '--via <mode>',
      'direct (EKS token for the API server) or relay (credential for the Gatehouse relay)',
      accessVia,
      'direct',
    );
}

/** Checks what commander cannot: at least one namespace, and a purpose that says something. */
export function checkAccessOptions(options: AccessOptions): void {
  if (options.namespace.length === 0) throw new UsageError('pass at least one --namespace');
  if (options.purpose.trim() === '') throw new UsageError('--purpose must say why access is needed');
}
