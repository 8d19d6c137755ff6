/**
 * Evidence end to end: access seeded through the real local API (requests, Slack approvals, grants, tokens,
 * revocations), archived by the local runtime into s3rver, digested by the real digester with a P-256 key file,
 * exported with `gatehouse evidence` through GET /v1/evidence, checked byte for byte against the bucket and by
 * `gatehouse audit verify --dir`, and the report opened in headless Chromium: it renders without errors, its numbers
 * match events.jsonl, and a screenshot is kept in test-artifacts/.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../cli/main.ts';
import type { AuditEvent } from '../../shared/audit/event.ts';
import {
  HOUR_MS,
  archiveObjectKey,
  digestKey,
  hourStart,
  publicKeyKey,
  sha256Hex,
} from '../../shared/evidence/archive-layout.ts';
import type { SignedDigest } from '../../shared/evidence/digest.ts';
import type { ArchiveStore } from '../../shared/evidence/ports.ts';
import {
  PAIR_CHANNEL,
  PAYMENTS_BODY,
  SENSITIVE_BODY,
  SLACK_USERS,
  eventually,
  startApprovalLocal,
  type ApprovalTestLocal,
} from '../support/approvals.ts';
import { captureOutput } from '../support/cli.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const SCREENSHOT = join(ROOT, 'test-artifacts', 'evidence-report.png');
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Members of `ci` may view `tight/app` at once (the approval policies cover `dev/sensitive` and `dev/payments`). */
const DIRECT_POLICY = `
@id("tight-app-direct")
permit (
  principal,
  action == Gatehouse::Action::"RequestAccess",
  resource == Gatehouse::Namespace::"tight/app"
)
when { principal in Gatehouse::Group::"ci" && context.access == "view" };
`;

/** The part of the browser's window the test calls inside the page (the test's own TypeScript has no DOM types). */
interface BrowserWindow {
  getComputedStyle(element: unknown): { backgroundColor: string };
}

let t: ApprovalTestLocal;
let archive: ArchiveStore;
let work: string;
let tokenFile: string;
let from: string;
let to: string;
let seeded: AuditEvent[];
let stdout: string;
let stderr: string;

beforeAll(async () => {
  t = await startApprovalLocal({
    withS3: true,
    extraPolicy: DIRECT_POLICY,
    config: (config) => ({ ...config, auditors: { principals: [], groups: ['auditors'] } }),
  });
  archive = t.local.runtime.parts.archive!;
  work = mkdtempSync(join(tmpdir(), 'gatehouse-evidence-'));
  tokenFile = join(work, 'auditor.jwt');
  writeFileSync(
    tokenFile,
    await t.local.issuer.sign({ sub: 'auditor', groups: ['auditors'] }, { audience: 'gatehouse' }),
  );

  from = new Date().toISOString();
  await seedAccess();
  to = new Date(Date.now() + 1).toISOString();
  seeded = await t.chain.queryRange(new Date(from), new Date(to));
  // The local runtime's stream archives every event; then the hours they were archived in are digested.
  await eventually(async () => {
    for (const event of seeded) if (!(await archive.get(archiveObjectKey(event)))) return undefined;
    return true;
  }, 30_000);
  const digester = t.local.digests!.digester;
  for (let hour = hourStart(new Date(from)).getTime() - HOUR_MS; hour <= Date.now(); hour += HOUR_MS) {
    await digester.digestHour(new Date(hour));
  }
}, 120_000);

afterAll(async () => {
  await t?.stop();
  rmSync(work, { recursive: true, force: true });
});

beforeEach(() => {
  stdout = '';
  stderr = '';
  captureOutput(
    (text) => (stdout += text),
    (text) => (stderr += text),
  );
});

afterEach(() => {
  vi.restoreAllMocks();
});

/** Five requests as people and pipelines make them: granted at once, approved by one, by two, denied, forbidden. */
async function seedAccess(): Promise<void> {
  const issue = async (token: string, requestId: string) => {
    const issued = await t.call('POST', `/v1/access-requests/${requestId}/token`, { token });
    expect(issued.status, issued.text).toBe(200);
  };
  const revoke = async (token: string, grantId: string, reason: string) => {
    const revoked = await t.call('POST', `/v1/grants/${grantId}/revoke`, { token, body: { reason } });
    expect(revoked.status, revoked.text).toBe(200);
  };

  const deployer = await t.githubToken('repo:acme/patient-portal:ref:refs/heads/main', 'dora');
  const direct = await t.call('POST', '/v1/access-requests', {
    token: deployer,
    body: {
      cluster: 'tight',
      namespaces: ['app'],
      access: 'view',
      durationSeconds: 900,
      purpose: 'smoke test',
      ticket: 'CHG-7',
    },
  });
  expect(direct.status, direct.text).toBe(201);
  const granted = direct.json<{ id: string; grantId: string }>();
  await issue(deployer, granted.id);
  await revoke(deployer, granted.grantId, 'smoke test done');

  const oncall = await t.token('ci:oncall');
  const sensitive = await t.requestPending(oncall, SENSITIVE_BODY);
  await t.notified(sensitive.id);
  await t.click(SLACK_USERS.alice, sensitive.id, 'approve');
  const approved = await t.poll(sensitive.id, oncall);
  expect(approved.status).toBe('granted');
  await issue(oncall, sensitive.id);
  await issue(oncall, sensitive.id);
  await revoke(oncall, approved.grant!.id, 'incident closed');

  const payments = await t.token('ci:payments-bot');
  const pair = await t.requestPending(payments, PAYMENTS_BODY);
  await t.notified(pair.id, PAIR_CHANNEL);
  await t.click(SLACK_USERS.alice, pair.id, 'approve', PAIR_CHANNEL);
  await t.click(SLACK_USERS.bob, pair.id, 'approve', PAIR_CHANNEL);
  expect((await t.poll(pair.id, payments)).status).toBe('granted');
  await issue(payments, pair.id);

  const intruder = await t.token('ci:intruder');
  const denied = await t.requestPending(intruder, { ...SENSITIVE_BODY, purpose: 'just looking' });
  await t.notified(denied.id);
  await t.click(SLACK_USERS.bob, denied.id, 'deny');
  expect((await t.poll(denied.id, intruder)).status).toBe('denied');

  const forbidden = await t.call('POST', '/v1/access-requests', {
    token: oncall,
    body: { ...SENSITIVE_BODY, namespaces: ['kube-system'] },
  });
  expect(forbidden.status).toBe(403);
}

function exportTo(out: string, token = tokenFile): Promise<number> {
  return main([
    'node',
    'gatehouse',
    'evidence',
    '--from',
    from,
    '--to',
    to,
    '--out',
    out,
    '--api',
    t.apiUrl,
    '--oidc-token-file',
    token,
  ]);
}

/** Every file under `dir`, by its "/"-separated relative path. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)).split('\\').join('/'))
    .sort();
}

describe('gatehouse evidence', () => {
  let out: string;

  beforeAll(async () => {
    out = join(work, 'bundle');
    const code = await exportTo(out);
    if (code !== 0) throw new Error(`gatehouse evidence exited ${code}: ${stderr}`);
  }, 60_000);

  it('writes events.jsonl as the archived objects byte for byte, by time, then stream and seq', async () => {
    const ordered = [...seeded].sort(
      (a, b) =>
        a.time.localeCompare(b.time) || a.chain.stream.localeCompare(b.chain.stream) || a.chain.seq - b.chain.seq,
    );
    const objects = await Promise.all(
      ordered.map(async (event) => Buffer.from((await archive.get(archiveObjectKey(event)))!)),
    );

    const jsonl = readFileSync(join(out, 'events.jsonl'));

    expect(jsonl.equals(Buffer.concat(objects))).toBe(true);
    expect(jsonl.toString('utf8').trimEnd().split('\n')).toHaveLength(seeded.length);
  });

  it('writes the digests that list every exported event, and their public key, exactly as stored', async () => {
    const files = filesUnder(out);
    const digestFiles = files.filter((file) => /^digests\/\d{4}-\d{2}-\d{2}\/\d{2}\.json$/.test(file));
    const keyFiles = files.filter((file) => file.startsWith('digests/keys/'));

    expect(digestFiles[0]).toBe(digestKey(new Date(hourStart(new Date(from)).getTime() - HOUR_MS)));
    const listed = new Set<string>();
    for (const file of digestFiles) {
      const bytes = readFileSync(join(out, file));
      expect(bytes.equals(Buffer.from((await archive.get(file))!)), file).toBe(true);
      const signed = JSON.parse(bytes.toString('utf8')) as SignedDigest;
      for (const object of signed.digest.objects) listed.add(object.key);
      expect(keyFiles).toContain(publicKeyKey(signed.digest.publicKeySha256));
    }
    for (const event of seeded) expect(listed.has(archiveObjectKey(event)), event.type).toBe(true);
    for (const file of keyFiles) {
      expect(readFileSync(join(out, file)).equals(Buffer.from((await archive.get(file))!))).toBe(true);
    }
  });

  it('writes manifest.json with the range, counts and the SHA-256 of every other file', () => {
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as {
      range: { from: string; to: string };
      generatedAt: string;
      counts: Record<string, number>;
      files: Record<string, string>;
    };

    expect(manifest.range).toEqual({ from, to });
    expect(Object.keys(manifest.files).sort()).toEqual(filesUnder(out).filter((file) => file !== 'manifest.json'));
    for (const [file, sha] of Object.entries(manifest.files))
      expect(sha256Hex(readFileSync(join(out, file))), file).toBe(sha);
    expect(manifest.counts).toMatchObject({ events: seeded.length, uncoveredEvents: 0 });
  });

  it('passes gatehouse audit verify --dir', async () => {
    const code = await main(['node', 'gatehouse', 'audit', 'verify', '--dir', out]);

    expect(code, `${stdout}\n${stderr}`).toBe(0);
  });

  it('records each page it read as evidence.exported, with counts and digest hours only', async () => {
    const reads = (await t.chain.queryRange(new Date(to), new Date(Date.now() + 1))).filter(
      (event) => event.type === 'evidence.exported' && event.actor.id === 'local:auditor',
    );

    expect(reads.length).toBeGreaterThan(0);
    expect(reads.reduce((n, event) => n + (event.details!.events as number), 0)).toBeGreaterThanOrEqual(seeded.length);
    expect(JSON.stringify(reads.map((event) => event.details))).not.toContain(SENSITIVE_BODY.purpose);
  });

  it('refuses a directory that is not empty (exit 2) and leaves it as it was', async () => {
    const busy = join(work, 'busy');
    mkdirSync(busy);
    writeFileSync(join(busy, 'keep.txt'), 'mine');

    const code = await exportTo(busy);

    expect(code).toBe(2);
    expect(readdirSync(busy)).toEqual(['keep.txt']);
  });

  it('fails for a caller who is not an auditor (exit 1) and writes nothing', async () => {
    const outsider = join(work, 'outsider.jwt');
    writeFileSync(outsider, await t.token('ci:curious'));
    const target = join(work, 'not-written');

    const code = await exportTo(target, outsider);

    expect(code).toBe(1);
    expect(stderr).toContain('only auditors');
    expect(existsSync(target)).toBe(false);
    expect(readdirSync(work).filter((name) => name.includes('.partial-'))).toEqual([]);
  });

  describe('report.html in headless Chromium', () => {
    let context: BrowserContext;
    let profile: string;

    beforeAll(async () => {
      profile = mkdtempSync(join(tmpdir(), 'gatehouse-chromium-'));
      context = await chromium.launchPersistentContext(profile, {
        executablePath: '/usr/bin/chromium',
        headless: true,
        args: CHROMIUM_ARGS,
        viewport: { width: 1280, height: 900 },
      });
    }, 60_000);

    afterAll(async () => {
      await context?.close();
      rmSync(profile, { recursive: true, force: true });
    });

    it('renders without errors, with both charts, and numbers that match events.jsonl', async () => {
      const events = readFileSync(join(out, 'events.jsonl'), 'utf8')
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line) as AuditEvent);
      const requested = events.filter((e) => e.type === 'access.requested');
      const countBy = (list: AuditEvent[], key: (e: AuditEvent) => string) =>
        list.reduce<Record<string, number>>((counts, e) => ({ ...counts, [key(e)]: (counts[key(e)] ?? 0) + 1 }), {});
      const expected = {
        requests: requested.length,
        grants: events.filter((e) => e.type === 'grant.created').length,
        approvals: events.filter((e) => e.type === 'approval.decided' && e.details?.decision === 'approve').length,
        tokens: events.filter((e) => e.type === 'token.issued').length,
        byPrincipal: countBy(requested, (e) => e.actor.id),
        grantsByPrincipal: countBy(
          events.filter((e) => e.type === 'grant.created'),
          (e) => e.actor.id,
        ),
        byCluster: countBy(requested, (e) => e.subject!.cluster!),
      };
      const page = await context.newPage();
      const problems: string[] = [];
      page.on('console', (message) => {
        if (message.type() === 'error' || message.type() === 'warning') problems.push(message.text());
      });
      page.on('pageerror', (error) => problems.push(error.message));
      page.on('request', (request) => {
        if (!request.url().startsWith('file://')) problems.push(`requested ${request.url()}`);
      });

      await page.goto(`file://${join(out, 'report.html')}`);

      const count = async (name: string) => Number(await page.locator(`[data-count="${name}"]`).textContent());
      const rows = (table: string): Promise<Record<string, { requests: number; grants: number }>> =>
        page.$$eval(
          `table[data-table="${table}"] tr[data-${table}]`,
          (trs, attribute) =>
            Object.fromEntries(
              trs.map((tr) => [
                tr.getAttribute(`data-${attribute}`),
                { requests: Number(tr.getAttribute('data-requests')), grants: Number(tr.getAttribute('data-grants')) },
              ]),
            ),
          table,
        );
      expect(await count('requests')).toBe(expected.requests);
      expect(await count('grants')).toBe(expected.grants);
      expect(await count('approvals')).toBe(expected.approvals);
      expect(await count('tokens')).toBe(expected.tokens);
      expect(await count('events')).toBe(events.length);
      // One credential with each grant made at once, one per /token call: 1 + 1, 2, 1.
      expect(expected).toMatchObject({ requests: 5, grants: 3, approvals: 3, tokens: 5 });
      const principals = await rows('principal');
      expect(Object.fromEntries(Object.entries(principals).map(([id, r]) => [id, r.requests]))).toEqual(
        expected.byPrincipal,
      );
      for (const [id, r] of Object.entries(principals)) expect(r.grants, id).toBe(expected.grantsByPrincipal[id] ?? 0);
      const clusters = await rows('cluster');
      expect(Object.fromEntries(Object.entries(clusters).map(([id, r]) => [id, r.requests]))).toEqual(
        expected.byCluster,
      );
      const timeBars = await page.$$eval('svg[data-chart="access-over-time"] g[data-bucket]', (groups) =>
        groups.reduce((n, g) => n + Number(g.getAttribute('data-requests')), 0),
      );
      expect(timeBars).toBe(expected.requests);
      const clusterBars = await page.$$eval('svg[data-chart="access-by-cluster"] g[data-cluster]', (groups) =>
        Object.fromEntries(
          groups.map((g) => [g.getAttribute('data-cluster'), Number(g.getAttribute('data-requests'))]),
        ),
      );
      expect(clusterBars).toEqual(expected.byCluster);
      expect(await page.locator('svg[data-chart] rect').count()).toBeGreaterThan(0);
      expect(await page.locator('article.story').count()).toBe(expected.requests);
      expect(await page.locator('[data-standard]').allTextContents()).toHaveLength(4);
      expect(await page.locator('[data-uncovered]').getAttribute('data-uncovered')).toBe('0');
      // The style applies (the CSP's hash admits it): the header is dark, not the browser's default white.
      expect(
        await page
          .locator('header')
          .evaluate((header) => (globalThis as unknown as BrowserWindow).getComputedStyle(header).backgroundColor),
      ).toBe('rgb(31, 53, 80)');
      expect(problems).toEqual([]);

      mkdirSync(join(ROOT, 'test-artifacts'), { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      expect(readFileSync(SCREENSHOT).subarray(1, 4).toString('latin1')).toBe('PNG');
    }, 60_000);
  });
});
