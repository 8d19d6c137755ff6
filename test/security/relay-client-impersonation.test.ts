/**
 * Bypass class: a client's own `Impersonate-*` headers (issue 6; DESIGN.md section 7). The relay forwards with its own
 * credential, which may impersonate anyone; a client header that reached the cluster would make the relay act as
 * `system:admin` in `system:masters`. The relay neutralises them: every `Impersonate-*` header the client sent, in any
 * case, is dropped; the cluster sees only the grant's user, groups and extras; and the request is recorded with
 * `strippedImpersonation: true`. Exec sessions, which open their own upstream WebSocket, are checked too.
 */
import { describe, expect, it } from 'vitest';
import type { RecordedRequest } from '../support/k8s-api-server.ts';
import { AGENT } from '../support/relay.ts';
import {
  bearer,
  detailsOf,
  eventMark,
  openWebSocket,
  rawRequest,
  sessionEnd,
  upstreamMark,
  waitForEvent,
} from '../support/relay-raw.ts';
import { podObject, useRelayHarness } from '../support/relay-security.ts';

const relay = useRelayHarness({ objects: [podObject('claims', 'intake-0')] });

/** Asserts the upstream request carries the relay's credential and the grant's impersonation, and nothing else. */
function expectGrantImpersonation(request: RecordedRequest): void {
  expect(request.authenticated).toBe(true);
  expect(request.headers.authorization).toBe(`Bearer ${relay.harness.api.token}`);
  expect(request.impersonateUser).toBe(relay.grant.username);
  expect(request.impersonateGroups).toEqual(['gatehouse:edit']);
  expect(request.impersonateExtra).toEqual({
    'gatehouse.io%2fgrant': [relay.grant.id],
    'gatehouse.io%2fprincipal': [encodeURIComponent(AGENT.id)],
  });
  expect(request.user).toEqual({ username: relay.grant.username, groups: ['gatehouse:edit', 'system:authenticated'] });
  const impersonation = Object.keys(request.headers).filter((name) => name.startsWith('impersonate-'));
  expect(impersonation.sort()).toEqual([
    'impersonate-extra-gatehouse.io%2fgrant',
    'impersonate-extra-gatehouse.io%2fprincipal',
    'impersonate-group',
    'impersonate-user',
  ]);
  const headers = JSON.stringify(request.headers);
  for (const injected of ['system:admin', 'system:masters', 'grant-999', 'root-uid', 'cluster-admin']) {
    expect(headers).not.toContain(injected);
  }
}

describe('client Impersonate-* headers', () => {
  it.each([
    ['Impersonate-User', [['Impersonate-User', 'system:admin']]],
    [
      'Impersonate-Group (twice)',
      [
        ['Impersonate-Group', 'system:masters'],
        ['Impersonate-Group', 'cluster-admin'],
      ],
    ],
    [
      'Impersonate-User with a group in any case',
      [
        ['IMPERSONATE-USER', 'system:admin'],
        ['impersonate-group', 'system:masters'],
      ],
    ],
    ['Impersonate-Uid', [['Impersonate-Uid', 'root-uid']]],
    ['an Impersonate-Extra of its own', [['Impersonate-Extra-Scopes', 'cluster-admin']]],
    ['an Impersonate-Extra that names the grant', [['Impersonate-Extra-gatehouse.io%2Fgrant', 'grant-999']]],
    [
      'impersonation named hop-by-hop in Connection',
      [
        ['Connection', 'keep-alive, Impersonate-User'],
        ['Impersonate-User', 'system:admin'],
      ],
    ],
  ] as const)('strips %s and forwards as the grant, recording that it did', async (_name, headers) => {
    const upstream = upstreamMark(relay.harness);
    const events = eventMark(relay.harness);

    const response = await rawRequest(relay.harness, {
      target: '/api/v1/namespaces/claims/pods/intake-0',
      headers: [bearer(relay.token), ...headers],
    });

    expect(response.status).toBe(200);
    expect(JSON.parse(response.body)).toMatchObject({ kind: 'Pod', metadata: { name: 'intake-0' } });
    const forwarded = upstream.since();
    expect(forwarded.map((request) => request.url)).toEqual(['/api/v1/namespaces/claims/pods/intake-0']);
    expectGrantImpersonation(forwarded[0]!);
    const recorded = await waitForEvent(events, (event) => event.type === 'relay.request');
    expect(recorded.grantId).toBe(relay.grant.id);
    expect(detailsOf(recorded)).toMatchObject({ verb: 'get', status: 200, strippedImpersonation: true });
    expect(JSON.stringify(recorded)).not.toContain('system:admin');
  });

  it('does not mark a request without client impersonation as stripped', async () => {
    const events = eventMark(relay.harness);

    await rawRequest(relay.harness, {
      target: '/api/v1/namespaces/claims/pods/intake-0',
      headers: [bearer(relay.token)],
    });

    const recorded = await waitForEvent(events, (event) => event.type === 'relay.request');
    expect(detailsOf(recorded).strippedImpersonation).toBeUndefined();
  });

  it('strips them from a write, so the object is created as the grant', async () => {
    const upstream = upstreamMark(relay.harness);
    const events = eventMark(relay.harness);
    const body = JSON.stringify({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'written-as', namespace: 'claims' },
      data: { a: 'b' },
    });

    const response = await rawRequest(relay.harness, {
      method: 'POST',
      target: '/api/v1/namespaces/claims/configmaps',
      headers: [
        bearer(relay.token),
        ['Impersonate-User', 'system:admin'],
        ['Impersonate-Group', 'system:masters'],
        ['Content-Type', 'application/json'],
        ['Content-Length', String(Buffer.byteLength(body))],
      ],
      body,
    });

    expect(response.status).toBe(201);
    const forwarded = upstream.since();
    expect(forwarded.map((request) => [request.method, request.url])).toEqual([
      ['POST', '/api/v1/namespaces/claims/configmaps'],
    ]);
    expectGrantImpersonation(forwarded[0]!);
    expect(forwarded[0]!.body).toBe(body);
    const recorded = await waitForEvent(events, (event) => event.type === 'relay.request');
    expect(detailsOf(recorded)).toMatchObject({ verb: 'create', status: 201, strippedImpersonation: true });
  });

  it('strips them from an exec session: the upstream WebSocket impersonates the grant', async () => {
    relay.harness.api.setExecHandler(async (session) => {
      session.stdout?.write('ok\n');
      return { exitCode: 0 };
    });
    const upstream = upstreamMark(relay.harness);
    const events = eventMark(relay.harness);

    const session = await openWebSocket(
      relay.harness,
      '/api/v1/namespaces/claims/pods/intake-0/exec?command=id&stdout=true',
      {
        Authorization: `Bearer ${relay.token}`,
        'Impersonate-User': 'system:admin',
        'Impersonate-Group': ['system:masters', 'cluster-admin'],
      },
    );

    expect(session.status).toBe(101);
    if ('socket' in session) await sessionEnd(session.socket);
    const upgrades = upstream.since().filter((request) => request.upgrade !== undefined);
    expect(upgrades.map((request) => request.path)).toEqual(['/api/v1/namespaces/claims/pods/intake-0/exec']);
    expectGrantImpersonation(upgrades[0]!);
    const recorded = await waitForEvent(events, (event) => event.type === 'relay.request');
    expect(detailsOf(recorded)).toMatchObject({ subresource: 'exec', status: 101, strippedImpersonation: true });
  });
});
