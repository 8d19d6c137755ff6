/**
 * `gatehouse token` waiting for people, end to end: the CLI (in process, `main([...])`) asks the local runtime for
 * access that needs approval, long-polls while the test approves or denies through the signed Slack endpoint, and
 * prints the credential or exits 1 with the reason. Then `gatehouse requests show` and `list` on the same requests.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../cli/main.ts';
import { tokenCommand } from '../../cli/commands/token.ts';
import { verifyLocalToken } from '../../shared/adapters/local/local-token-minter.ts';
import {
  PAIR_CHANNEL,
  SLACK_USERS,
  eventually,
  startApprovalLocal,
  type ApprovalTestLocal,
} from '../support/approvals.ts';
import { captureOutput } from '../support/cli.ts';

const SENSITIVE = ['--cluster', 'dev', '--namespace', 'sensitive', '--access', 'view', '--duration', '600'];
const PAYMENTS = ['--cluster', 'dev', '--namespace', 'payments', '--access', 'view', '--duration', '600'];
const PURPOSE = ['--purpose', 'read the sensitive job logs'];

let t: ApprovalTestLocal;
let cacheDir: string;
let stdout = '';
let stderr = '';

beforeAll(async () => {
  t = await startApprovalLocal();
});
afterAll(async () => {
  await t?.stop();
});

beforeEach(async () => {
  cacheDir = mkdtempSync(join(tmpdir(), 'gatehouse-approval-cli-'));
  vi.stubEnv('GATEHOUSE_CACHE_DIR', cacheDir);
  vi.stubEnv('GATEHOUSE_API', t.apiUrl);
  vi.stubEnv('KUBERNETES_EXEC_INFO', '');
  vi.stubEnv('ACTIONS_ID_TOKEN_REQUEST_URL', '');
  vi.stubEnv('ACTIONS_ID_TOKEN_REQUEST_TOKEN', '');
  // A CI log, whatever runs the tests: plain status lines.
  Object.defineProperty(process.stderr, 'isTTY', { value: false, configurable: true });
  stdout = '';
  stderr = '';
  captureOutput(
    (text) => (stdout += text),
    (text) => (stderr += text),
  );
});
afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
  rmSync(cacheDir, { recursive: true, force: true });
});

/** Starts `gatehouse token` as `sub` and returns its exit code (a promise) and the request id once it is printed. */
async function startToken(sub: string, ...args: string[]) {
  vi.stubEnv('GATEHOUSE_OIDC_TOKEN', await t.token(sub));
  const before = stderr.length;
  const exit = main(['node', 'gatehouse', 'token', ...args]);
  const id = await eventually(async () => /request (req_[0-9A-Z]{26}) needs approval/.exec(stderr.slice(before))?.[1]);
  return { exit, id };
}

function credential() {
  return JSON.parse(stdout) as { kind: string; status: { token: string; expirationTimestamp: string } };
}

describe('gatehouse token waits for approval', () => {
  it('shows the request id, the approvers and a status line, then prints the credential once alice approves in Slack', async () => {
    const { exit, id } = await startToken('ci:cli-approve', ...SENSITIVE, ...PURPOSE);
    await t.notified(id);
    await eventually(async () => (stderr.includes('waiting for approval: 0 of 1 approval') ? true : undefined));

    await t.click(SLACK_USERS.alice, id, 'approve');

    expect(await exit).toBe(0);
    expect(stderr).toContain(`request ${id} needs approval`);
    expect(stderr).toContain('approvers asked: sre (1 approval)');
    expect(stderr).toMatch(/gatehouse: waiting for approval: 0 of 1 approval \(\d+s waited\)\n/);
    expect(stderr).toContain('approved (1 of 1 approval, approved by alice): grant grt_');
    expect(stderr).not.toContain('\r');
    const printed = credential();
    expect(printed.kind).toBe('ExecCredential');
    expect(verifyLocalToken(printed.status.token, t.local.signingSecret, 'acme-dev', new Date()).ok).toBe(true);
  });

  it('exits 1 with the reason when bob denies, and prints no credential', async () => {
    const { exit, id } = await startToken('ci:cli-deny', ...SENSITIVE, ...PURPOSE);
    await t.notified(id);

    await t.click(SLACK_USERS.bob, id, 'deny');

    expect(await exit).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toContain(`gatehouse: request ${id} was denied by bob\n`);
  });

  it('pair (quorum 2): keeps waiting after alice approves, and prints the credential after bob approves', async () => {
    const { exit, id } = await startToken('ci:cli-quorum', ...PAYMENTS, ...PURPOSE);
    let settled = false;
    void exit.then(() => (settled = true));
    await t.notified(id, PAIR_CHANNEL);
    expect(stderr).toContain('approvers asked: pair (2 approvals)');
    expect(stderr).toContain('waiting for approval: 0 of 2 approvals');

    await t.click(SLACK_USERS.alice, id, 'approve', PAIR_CHANNEL);
    // The API's long poll answers within 250 ms of a change of status; one approval of two changes none.
    await new Promise((resolve) => setTimeout(resolve, 750));
    expect(settled).toBe(false);
    expect(stdout).toBe('');
    await t.click(SLACK_USERS.bob, id, 'approve', PAIR_CHANNEL);

    expect(await exit).toBe(0);
    expect(stderr).toContain('approved (2 of 2 approvals, approved by alice, bob)');
    expect(credential().status.token).toMatch(/^k8s-aws-v1\./);
  });

  it('exits 1 when --wait elapses with the request still pending, naming the request', async () => {
    const { exit, id } = await startToken('ci:cli-wait', ...SENSITIVE, ...PURPOSE, '--wait', '1');

    expect(await exit).toBe(1);
    expect(stderr).toContain(`request ${id} is still pending after 1s (--wait)`);
    expect(stdout).toBe('');
  });

  it('on a terminal, draws a spinner line in place and replaces it with the outcome', async () => {
    // The terminal's carriage return and "erase line" (ECMA-48 EL, ESC [ 2 K) that redraw the line in place.
    /* eslint-disable no-control-regex */
    vi.stubEnv('GATEHOUSE_OIDC_TOKEN', await t.token('ci:cli-tty'));
    let err = '';
    let out = '';
    const command = tokenCommand({ isTTY: true, stderr: (text) => (err += text), stdout: (text) => (out += text) });
    const exit = command.parseAsync([...SENSITIVE, ...PURPOSE], { from: 'user' });
    const id = await eventually(async () => /request (req_[0-9A-Z]{26}) needs approval/.exec(err)?.[1]);
    await t.notified(id);
    await eventually(async () =>
      /\r\x1b\[2K. gatehouse: waiting for approval: 0 of 1 approval · \d+s/.test(err) ? true : undefined,
    );

    await t.click(SLACK_USERS.bob, id, 'approve');
    await exit;

    expect(err).toMatch(/\r\x1b\[2K[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] gatehouse: waiting for approval/);
    expect(err).toMatch(/\r\x1b\[2Kgatehouse: approved \(1 of 1 approval, approved by bob\)/);
    /* eslint-enable no-control-regex */
    expect(JSON.parse(out)).toMatchObject({ kind: 'ExecCredential' });
  });
});

describe('gatehouse requests', () => {
  it('show prints the status, the approval and its decisions, and the grant', async () => {
    const { exit, id } = await startToken('ci:cli-show', ...SENSITIVE, ...PURPOSE);
    await t.notified(id);
    await t.click(SLACK_USERS.alice, id, 'approve');
    expect(await exit).toBe(0);
    stdout = '';

    expect(await main(['node', 'gatehouse', 'requests', 'show', id])).toBe(0);

    expect(stdout).toMatch(new RegExp(`^request +${id}\n`));
    expect(stdout).toMatch(/\nstatus +granted\n/);
    expect(stdout).toMatch(/\napproval +approved: sre \(quorum 1\)/);
    expect(stdout).toMatch(/\n +alice approved via slack at \d{4}-/);
    expect(stdout).toMatch(/\ngrant +grt_[0-9A-Z]{26} active until /);
  });

  it('list shows the requests whose credentials are cached here, and says that only granted ones are', async () => {
    const denied = await startToken('ci:cli-list', ...SENSITIVE, ...PURPOSE);
    await t.notified(denied.id);
    await t.click(SLACK_USERS.bob, denied.id, 'deny');
    expect(await denied.exit).toBe(1);
    const granted = await startToken('ci:cli-list', ...SENSITIVE, ...PURPOSE);
    await t.notified(granted.id);
    await t.click(SLACK_USERS.alice, granted.id, 'approve');
    expect(await granted.exit).toBe(0);
    stdout = '';

    expect(await main(['node', 'gatehouse', 'requests', 'list'])).toBe(0);

    expect(stdout).toContain(`Requests with a credential cached by \`gatehouse token\` in ${cacheDir}.`);
    expect(stdout).toContain('Only granted requests are cached');
    const rows = stdout.split('\n').filter((line) => line.startsWith('req_'));
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatch(new RegExp(`^${granted.id} +grt_[0-9A-Z]{26} +active +\\d{4}-`));
    expect(stdout).not.toContain(denied.id);
  });
});
