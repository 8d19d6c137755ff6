/**
 * The relay's operations (issue 6, points 3, 5 and 6): revocation ends open streams, a failing audit sink refuses new
 * requests until it recovers, the response bound, health and readiness, and @kubernetes/client-node as a second client.
 */
import * as k8s from '@kubernetes/client-node';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRelayHarness, type RelayHarness } from '../support/relay.ts';

const SSN = '123-45-6789';
let harness: RelayHarness;
let agent: Agent;

beforeAll(async () => {
  harness = await startRelayHarness({ maxResponseBytes: 64 * 1024 });
  agent = new Agent({ connect: { ca: harness.ca } });
  for (let index = 0; index < 3; index += 1) {
    harness.api.create({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `web-${index}`, namespace: 'claims', annotations: { note: `ssn ${SSN}` } },
      spec: { containers: [{ name: 'app', image: 'busybox' }] },
    });
  }
});

afterAll(async () => {
  await agent?.close();
  await harness?.close();
});

async function get(path: string, token: string) {
  const response = await request(`${harness.url}${path}`, {
    headers: { authorization: `Bearer ${token}` },
    dispatcher: agent,
  });
  return { status: response.statusCode, body: (await response.body.json()) as Record<string, unknown> };
}

describe('relay operations', () => {
  it('ends an open watch within the revocation window once the grant is revoked, and refuses the next request', async () => {
    const { grant, token } = await harness.grant();
    const response = await request(`${harness.url}/api/v1/namespaces/claims/pods?watch=1`, {
      headers: { authorization: `Bearer ${token}` },
      dispatcher: agent,
    });
    expect(response.statusCode).toBe(200);
    const ended = new Promise<string>((resolve) => {
      response.body.on('error', () => resolve('cut'));
      response.body.on('end', () => resolve('ended'));
      response.body.resume();
    });
    const revokedAt = Date.now();
    harness.revoke(grant.id);
    await ended;
    expect(Date.now() - revokedAt).toBeLessThan(5000);
    const after = await get('/api/v1/namespaces/claims/pods', token);
    expect(after.status).toBe(401);
    expect(after.body).toMatchObject({
      kind: 'Status',
      reason: 'Unauthorized',
      message: `grant ${grant.id} is revoked`,
    });
  });

  it('refuses new requests while the audit sink fails, and serves again once it recovers', async () => {
    const { token } = await harness.grant();
    harness.setAuditFailing(true);
    expect((await get('/api/v1/namespaces/claims/pods/web-0', token)).status).toBe(200);
    // The failed write is being retried: the relay now knows the sink is down.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const refused = await get('/api/v1/namespaces/claims/pods/web-0', token);
    expect(refused.status).toBe(503);
    expect(refused.body).toMatchObject({ kind: 'Status', reason: 'ServiceUnavailable' });
    const ready = await request(`${harness.url}/readyz`, { dispatcher: agent });
    expect(ready.statusCode).toBe(503);
    await ready.body.dump();
    harness.setAuditFailing(false);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await get('/api/v1/namespaces/claims/pods/web-0', token)).status).toBe(200);
    // The event of the request made while the sink was down was written once it came back: none was lost.
    expect(
      harness.events.filter(
        (event) => event.type === 'relay.request' && (event.details as { name?: string }).name === 'web-0',
      ).length,
    ).toBeGreaterThanOrEqual(2);
  });

  it('refuses a response larger than the bound with a Status that says how to page', async () => {
    const { token } = await harness.grant();
    for (let index = 0; index < 80; index += 1) {
      harness.api.create({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: `big-${index}`, namespace: 'claims' },
        data: { blob: 'x'.repeat(2000) },
      });
    }
    const response = await get('/api/v1/namespaces/claims/configmaps', token);
    expect(response.status).toBe(413);
    expect(response.body.message).toMatch(/larger than the relay's bound of 65536 bytes.*--chunk-size/);
    expect((await get('/api/v1/namespaces/claims/configmaps?limit=5', token)).status).toBe(200);
  });

  it('answers liveness without a credential', async () => {
    const response = await request(`${harness.url}/healthz`, { dispatcher: agent });
    expect(response.statusCode).toBe(200);
    expect(await response.body.text()).toBe('ok\n');
  });

  it('serves @kubernetes/client-node: list masked, and a watch event', async () => {
    const { token } = await harness.grant();
    const config = new k8s.KubeConfig();
    config.loadFromOptions({
      clusters: [{ name: 'relay', server: harness.url, caData: Buffer.from(harness.ca).toString('base64') }],
      users: [{ name: 'agent', token }],
      contexts: [{ name: 'relay', cluster: 'relay', user: 'agent', namespace: 'claims' }],
      currentContext: 'relay',
    });
    const core = config.makeApiClient(k8s.CoreV1Api);
    const pods = await core.listNamespacedPod({ namespace: 'claims' });
    expect(pods.items.map((pod) => pod.metadata?.name)).toContain('web-1');
    expect(JSON.stringify(pods)).not.toContain(SSN);
    const seen = new Promise<string>((resolve, reject) => {
      void new k8s.Watch(config)
        .watch(
          '/api/v1/namespaces/claims/pods',
          {},
          (type, object: k8s.V1Pod) => {
            if (object.metadata?.name === 'web-late') resolve(`${type} ${JSON.stringify(object)}`);
          },
          reject,
        )
        .then((controller) => setTimeout(() => controller.abort(), 4000));
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    harness.api.create({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'web-late', namespace: 'claims', annotations: { note: `ssn ${SSN}` } },
      spec: { containers: [{ name: 'app', image: 'busybox' }] },
    });
    const event = await seen;
    expect(event.startsWith('ADDED')).toBe(true);
    expect(event).not.toContain(SSN);
  });
});
