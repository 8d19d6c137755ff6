/**
 * `gatehouse token` when nobody answers: the local runtime shortens the approval wait to one second, the real ASL
 * expires the request, and the waiting CLI exits 1 saying so, with no credential.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { tokenCommand } from '../../cli/commands/token.ts';
import { CommandFailedError } from '../../cli/errors.ts';
import { startApprovalLocal, type ApprovalTestLocal } from '../support/approvals.ts';

let t: ApprovalTestLocal;
let cacheDir: string;

beforeAll(async () => {
  t = await startApprovalLocal({ lifecycle: { approvalTimeoutSeconds: 1 } });
  cacheDir = mkdtempSync(join(tmpdir(), 'gatehouse-approval-cli-timeout-'));
});
afterAll(async () => {
  await t?.stop();
  rmSync(cacheDir, { recursive: true, force: true });
});

it('exits with the expiry as the reason when no approver decides in time, and prints no credential', async () => {
  const env = {
    GATEHOUSE_API: t.apiUrl,
    GATEHOUSE_OIDC_TOKEN: await t.token('ci:cli-timeout'),
    GATEHOUSE_CACHE_DIR: cacheDir,
  };
  let err = '';
  let out = '';
  const command = tokenCommand({ env, isTTY: false, stderr: (text) => (err += text), stdout: (text) => (out += text) });
  const args = ['--cluster', 'dev', '--namespace', 'sensitive', '--access', 'view', '--duration', '600'];

  const outcome = await command.parseAsync([...args, '--purpose', 'nobody answers'], { from: 'user' }).then(
    () => undefined,
    (error: unknown) => error,
  );

  expect(outcome).toBeInstanceOf(CommandFailedError);
  const id = /request (req_[0-9A-Z]{26}) needs approval/.exec(err)?.[1];
  expect((outcome as Error).message).toMatch(
    new RegExp(`^request ${id} expired: no decision before \\S+ \\(0 of 1 approval\\)$`),
  );
  expect(err).toContain(`gatehouse: request ${id} expired: no decision before`);
  expect(out).toBe('');
  vi.restoreAllMocks();
});
