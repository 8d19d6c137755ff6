/**
 * `gatehouse local` keeps its data between runs: a second start reuses the tables under the data directory, keeps the
 * development issuer's key and the local signing secret, and gives active grants their lifecycle back.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';

process.env.POWERTOOLS_METRICS_DISABLED = 'true';
process.env.POWERTOOLS_TRACE_ENABLED = 'false';
process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';

const { LOCAL_AUDIENCE, readLocalState, startLocal } = await import('../../local/start.ts');

const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-local-'));
const start = () => startLocal({ dataDir, configFile: 'gatehouse.config.yaml', port: 0 });

async function requestAccess(local: Awaited<ReturnType<typeof start>>) {
  const token = await local.issuer.sign({ sub: 'ci:demo', groups: ['ci'] }, { audience: LOCAL_AUDIENCE });
  const response = await fetch(`${local.apiUrl}/v1/access-requests`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      cluster: 'local',
      namespaces: ['demo'],
      access: 'view',
      durationSeconds: 900,
      purpose: 'restart test',
    }),
  });
  return { token, response, body: (await response.json()) as { id: string; grantId: string } };
}

describe('gatehouse local across restarts', () => {
  let first: { id: string; grantId: string };
  let firstKid: string;
  let firstSecret: string;

  beforeAll(async () => {
    const local = await start();
    try {
      const { response, body } = await requestAccess(local);
      expect(response.status).toBe(201);
      first = body;
      firstKid = local.issuer.currentKid;
      firstSecret = local.signingSecret;
    } finally {
      await local.stop();
    }
  });

  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('reuses the stored requests, keys and secret, and resumes the lifecycle of active grants', async () => {
    const local = await start();
    try {
      expect(local.rescheduled).toBe(1);
      expect(local.issuer.currentKid).toBe(firstKid);
      expect(local.signingSecret).toBe(firstSecret);
      const token = await local.issuer.sign({ sub: 'ci:demo', groups: ['ci'] }, { audience: LOCAL_AUDIENCE });
      const response = await fetch(`${local.apiUrl}/v1/access-requests/${first.id}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ id: first.id, status: 'granted', grant: { id: first.grantId } });
    } finally {
      await local.stop();
    }
  });

  it('writes what dev-token needs, and keeps secrets readable by the owner only', () => {
    const state = readLocalState(dataDir);
    expect(state).toMatchObject({ audience: LOCAL_AUDIENCE, apiUrl: expect.stringMatching(/^http:\/\/127\.0\.0\.1:/) });
    expect(statSync(join(dataDir, 'local-signing-secret')).mode & 0o077).toBe(0);
    expect(statSync(join(dataDir, 'dev-issuer-key.json')).mode & 0o077).toBe(0);
  });

  it('signs dev tokens for the issuer of the data directory named after `local dev-token`', async () => {
    const { code, stdout } = await runCli(['local', 'dev-token', '--data-dir', dataDir, '--sub', 'ci:demo']);
    expect(code).toBe(0);
    expect(decodeJwt(stdout.trim())).toMatchObject({ sub: 'ci:demo', iss: readLocalState(dataDir)?.issuerUrl });
  });
});
