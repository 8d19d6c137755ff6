/**
 * kubectl through the relay (issue 6): the real kubectl against the relay in front of the project's Kubernetes API test
 * server, for what an agent does — get, list with paging, watch, logs (followed), exec, apply, delete, auth can-i —
 * with responses masked, the principal impersonated upstream, and one event per request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/local.ts';
import { startRelayHarness, type RelayHarness } from '../support/relay.ts';

const SSN = '123-45-6789';
const PHONE = '(312) 555-0182';

let harness: RelayHarness;
let kubeconfig: string;
let grantId: string;

function pod(name: string, labels: Record<string, string> = {}) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'claims', labels, annotations: { 'intake.acme.org/note': `caller ssn ${SSN}` } },
    spec: { containers: [{ name: 'app', image: 'busybox', env: [{ name: 'PATIENT_PHONE', value: PHONE }] }] },
  };
}

beforeAll(async () => {
  harness = await startRelayHarness();
  for (let index = 0; index < 5; index += 1) harness.api.create(pod(`intake-${index}`, { app: 'intake' }));
  const { grant, token } = await harness.grant({ namespaces: ['claims'], access: 'edit' });
  grantId = grant.id;
  kubeconfig = harness.kubeconfig(token);
});

afterAll(async () => {
  await harness?.close();
});

describe('kubectl through the relay', () => {
  it('gets a pod as JSON with its PHI masked, impersonating the principal upstream', async () => {
    const result = await harness.kubectl(kubeconfig, ['get', 'pod', 'intake-0', '-o', 'json']);
    expect(result.code, result.stderr).toBe(0);
    const object = JSON.parse(result.stdout);
    expect(object.metadata.name).toBe('intake-0');
    expect(result.stdout).not.toContain(SSN);
    expect(result.stdout).not.toContain(PHONE);
    expect(object.metadata.annotations['intake.acme.org/note']).toContain('[MASKED:');
    const upstream = harness.api.requests.filter(
      (request) => request.path === '/api/v1/namespaces/claims/pods/intake-0',
    );
    expect(upstream.at(-1)?.impersonateUser).toMatch(/^gatehouse:/);
    expect(upstream.at(-1)?.impersonateGroups).toEqual(['gatehouse:edit']);
    expect(upstream.at(-1)?.accept).not.toContain('protobuf');
  });

  it('lists pods as a Table in pages of two', async () => {
    const before = harness.api.requests.length;
    const result = await harness.kubectl(kubeconfig, ['get', 'pods', '--chunk-size=2']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/NAME\s+READY\s+STATUS/);
    for (let index = 0; index < 5; index += 1) expect(result.stdout).toContain(`intake-${index}`);
    const pages = harness.api.requests
      .slice(before)
      .filter((request) => request.path === '/api/v1/namespaces/claims/pods');
    expect(pages.length).toBe(3);
    expect(pages.every((page) => /as=Table/.test(page.accept ?? ''))).toBe(true);
  });

  it('refuses a namespace outside the grant with a Status kubectl prints', async () => {
    const result = await harness.kubectl(kubeconfig, ['get', 'pods', '-n', 'intake']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('namespace intake is outside the grant');
    const denied = harness.events.filter((event) => event.type === 'relay.denied' && event.grantId === grantId);
    expect(denied.at(-1)?.details).toMatchObject({ stage: 'scope', status: 403 });
  });

  it('refuses secret reads by guardrail', async () => {
    const result = await harness.kubectl(kubeconfig, ['get', 'secrets']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('list secrets in namespace claims is forbidden by policy no-secret-reads');
  });

  it('records one relay.request event per forwarded request, with its masking record', async () => {
    await harness.kubectl(kubeconfig, ['get', 'pod', 'intake-1', '-o', 'json']);
    const event = harness.events
      .filter((entry) => entry.type === 'relay.request' && (entry.details as { name?: string }).name === 'intake-1')
      .at(-1);
    expect(event).toMatchObject({ grantId, subject: { cluster: 'staging', namespace: 'claims', resource: 'pods' } });
    const details = event!.details as {
      verb: string;
      status: number;
      masking: { total: number; entries: { path: string }[] };
    };
    expect(details.verb).toBe('get');
    expect(details.status).toBe(200);
    expect(details.masking.total).toBeGreaterThanOrEqual(2);
    expect(JSON.stringify(event)).not.toContain(SSN);
  });

  it('follows logs with lines masked as they come', async () => {
    harness.api.appendLog('claims', 'intake-2', `admitted patient ssn ${SSN}`);
    const following = harness.kubectl(kubeconfig, ['logs', '-f', 'intake-2']);
    await new Promise((resolve) => setTimeout(resolve, 500));
    harness.api.appendLog('claims', 'intake-2', `callback ${PHONE}`);
    await new Promise((resolve) => setTimeout(resolve, 300));
    harness.api.endLog('claims', 'intake-2');
    const result = await following;
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('admitted patient ssn [MASKED:SSN]');
    expect(result.stdout).toContain('callback [MASKED:PHONE]');
  });

  it('watches pods and sees a new one, masked', async () => {
    const watching = harness.kubectl(kubeconfig, ['get', 'pods', '--watch', '-o', 'json'], { timeoutMs: 3000 });
    await new Promise((resolve) => setTimeout(resolve, 800));
    harness.api.create(pod('intake-new'));
    const result = await watching;
    expect(result.stdout).toContain('intake-new');
    expect(result.stdout).not.toContain(SSN);
  });

  it('applies and deletes a ConfigMap', async () => {
    const manifest = JSON.stringify({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'settings', namespace: 'claims' },
      data: { mode: 'a' },
    });
    const applied = await harness.kubectl(kubeconfig, ['apply', '-f', '-'], { input: manifest });
    expect(applied.code, applied.stderr).toBe(0);
    expect(harness.api.get('v1', 'ConfigMap', 'claims', 'settings')).toBeDefined();
    const deleted = await harness.kubectl(kubeconfig, ['delete', 'configmap', 'settings']);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(harness.api.get('v1', 'ConfigMap', 'claims', 'settings')).toBeUndefined();
  });

  it('answers auth can-i through the relay', async () => {
    const result = await harness.kubectl(kubeconfig, ['auth', 'can-i', 'get', 'pods']);
    expect(result.stdout.trim()).toBe('yes');
  });

  it('runs exec with its output masked and records the session', async () => {
    harness.api.setExecHandler(async (session) => {
      session.stdout?.write(`patient ssn ${SSN}\n`);
      return { exitCode: 0 };
    });
    const result = await harness.kubectl(kubeconfig, ['exec', 'intake-3', '--', 'cat', '/data/patient.txt']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('patient ssn [MASKED:SSN]');
    // The relay records the session's end once both sides have closed, which can be after kubectl has exited.
    const ended = await eventually(async () => harness.events.find((event) => event.type === 'session.ended'));
    const recording = (ended?.details as { recording: { key: string; sha256: string } }).recording;
    expect(harness.recordings.get(recording.key)?.sha256).toBe(recording.sha256);
    expect(Buffer.from(harness.recordings.get(recording.key)!.body).toString()).not.toContain(SSN);
  });
});
