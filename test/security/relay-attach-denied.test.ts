/**
 * Bypass class: exec into a denied pod through `attach` (issue 6). A pod labelled `phi=true` takes no shell without the
 * ticket that justifies it (guardrail `phi-exec-needs-ticket`, as in policies/relay.cedar). `attach` reaches the same
 * container's streams, so the guardrail names both; attach also needs an explicit permit. The relay reads the pod's
 * labels upstream (as the principal) before deciding, denies exec and attach alike, and a permit for attach does not
 * override the PHI forbid: in Cedar a forbid always wins. Without the label read, or with the ticket, the outcome
 * changes only as the policies say.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RelayGrant } from '#shared/model.ts';
import { startRelayHarness, type RelayHarness } from '../support/relay.ts';
import {
  bearer,
  detailsOf,
  eventMark,
  expectFailureStatus,
  openWebSocket,
  rawRequest,
  sessionEnd,
  upstreamMark,
  waitForDenied,
  waitForEvent,
} from '../support/relay-raw.ts';

/** Attach is allowed in `intake` only; PHI pods there are still covered by the forbid. */
const ATTACH_PERMIT = `
@id("permit-attach-in-intake")
permit (principal, action == Gatehouse::Action::"KubernetesRequest", resource)
when { resource.resource == "pods" && resource.subresource == "attach" && resource.namespace == "intake" };
`;

let harness: RelayHarness;
let token: string;
let grant: RelayGrant;
let ticketToken: string;

function pod(namespace: string, name: string, labels: Record<string, string>) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels },
    spec: { containers: [{ name: 'app', image: 'busybox' }] },
  };
}

beforeAll(async () => {
  harness = await startRelayHarness({ policies: ATTACH_PERMIT });
  harness.api.create(pod('claims', 'phi-0', { phi: 'true', app: 'intake' }));
  harness.api.create(pod('claims', 'plain-0', { app: 'intake' }));
  harness.api.create(pod('intake', 'phi-1', { phi: 'true' }));
  harness.api.create(pod('intake', 'plain-1', {}));
  harness.api.setExecHandler(async (session) => {
    session.stdout?.write('uid=0(root)\n');
    return { exitCode: 0 };
  });
  harness.api.setAttachHandler(async (session) => {
    session.stdout?.write('attached\n');
    return { exitCode: 0 };
  });
  ({ token, grant } = await harness.grant({ namespaces: ['claims', 'intake'], access: 'edit' }));
  ({ token: ticketToken } = await harness.grant({
    namespaces: ['claims', 'intake'],
    access: 'edit',
    ticket: 'INC-4711',
  }));
});

afterAll(async () => {
  await harness?.close();
});

const session = (namespace: string, name: string, subresource: 'exec' | 'attach') =>
  `/api/v1/namespaces/${namespace}/pods/${name}/${subresource}?${subresource === 'exec' ? 'command=sh&' : ''}stdin=true&stdout=true&tty=true`;

/** Opens `path` as a WebSocket and asserts the relay refused it, after reading only the pod, with no session upstream. */
async function expectSessionDenied(path: string, podPath: string, message: string, policies: string[]): Promise<void> {
  const upstream = upstreamMark(harness);
  const events = eventMark(harness);
  const streams = harness.api.streams.length;

  const result = await openWebSocket(harness, path, { Authorization: `Bearer ${token}` });

  expect(result.status).toBe(403);
  if (!('body' in result)) throw new Error('the session was opened');
  expectFailureStatus(result.body, 403, 'Forbidden', message);
  const denied = await waitForDenied(events);
  expect(denied.grantId).toBe(grant.id);
  expect(detailsOf(denied)).toMatchObject({ stage: 'guardrail', status: 403, policies });
  // Only the label read, as the principal; no exec or attach upstream, no session.
  const forwarded = upstream.since();
  expect(forwarded.map((request) => [request.method, request.path, request.upgrade])).toEqual([
    ['GET', podPath, undefined],
  ]);
  expect(forwarded[0]!.impersonateUser).toBe(grant.username);
  expect(harness.api.streams.length).toBe(streams);
}

describe('exec into a PHI pod without a ticket', () => {
  it('is denied by the PHI guardrail', async () => {
    await expectSessionDenied(
      session('claims', 'phi-0', 'exec'),
      '/api/v1/namespaces/claims/pods/phi-0',
      'get pods/phi-0/exec in namespace claims is forbidden by policy phi-exec-needs-ticket',
      ['phi-exec-needs-ticket'],
    );
  });

  it('is denied as a POST without an upgrade too', async () => {
    const upstream = upstreamMark(harness);
    const events = eventMark(harness);

    const response = await rawRequest(harness, {
      method: 'POST',
      target: '/api/v1/namespaces/claims/pods/phi-0/exec?command=sh&stdout=true',
      headers: [bearer(token), ['Content-Length', '0']],
    });

    expect(response.status).toBe(403);
    expectFailureStatus(
      response.body,
      403,
      'Forbidden',
      'create pods/phi-0/exec in namespace claims is forbidden by policy phi-exec-needs-ticket',
    );
    const denied = await waitForDenied(events);
    expect(detailsOf(denied)).toMatchObject({ stage: 'guardrail', policies: ['phi-exec-needs-ticket'] });
    expect(upstream.since().map((request) => [request.method, request.path])).toEqual([
      ['GET', '/api/v1/namespaces/claims/pods/phi-0'],
    ]);
  });
});

describe('attach into the same PHI pod', () => {
  it('is denied by the PHI guardrail, not merely for want of a permit', async () => {
    await expectSessionDenied(
      session('claims', 'phi-0', 'attach'),
      '/api/v1/namespaces/claims/pods/phi-0',
      'get pods/phi-0/attach in namespace claims is forbidden by policy phi-exec-needs-ticket',
      ['phi-exec-needs-ticket'],
    );
  });

  it('is denied where a policy permits attach: the PHI forbid overrides the permit', async () => {
    await expectSessionDenied(
      session('intake', 'phi-1', 'attach'),
      '/api/v1/namespaces/intake/pods/phi-1',
      'get pods/phi-1/attach in namespace intake is forbidden by policy phi-exec-needs-ticket',
      ['phi-exec-needs-ticket'],
    );
  });

  it('to a pod without PHI still needs a permit', async () => {
    await expectSessionDenied(
      session('claims', 'plain-0', 'attach'),
      '/api/v1/namespaces/claims/pods/plain-0',
      'get pods/plain-0/attach in namespace claims needs a policy that permits it, and none does',
      [],
    );
  });
});

describe('the sessions the policies do allow', () => {
  it('attaches to a pod without PHI where attach is permitted, so the denials above are the guardrails', async () => {
    const upstream = upstreamMark(harness);
    const events = eventMark(harness);

    const result = await openWebSocket(harness, session('intake', 'plain-1', 'attach'), {
      Authorization: `Bearer ${token}`,
    });

    expect(result.status).toBe(101);
    if ('socket' in result) await sessionEnd(result.socket);
    expect(
      upstream
        .since()
        .filter((request) => request.upgrade !== undefined)
        .map((request) => request.path),
    ).toEqual(['/api/v1/namespaces/intake/pods/plain-1/attach']);
    const recorded = await waitForEvent(events, (event) => event.type === 'relay.request');
    expect(detailsOf(recorded)).toMatchObject({
      subresource: 'attach',
      status: 101,
      decision: { policies: ['permit-attach-in-intake'] },
    });
  });

  it('execs into the PHI pod with a ticket on the grant', async () => {
    const result = await openWebSocket(harness, session('claims', 'phi-0', 'exec'), {
      Authorization: `Bearer ${ticketToken}`,
    });

    expect(result.status).toBe(101);
    if ('socket' in result) await sessionEnd(result.socket);
  });

  it('still denies attach to the PHI pod with a ticket where no policy permits attach', async () => {
    const events = eventMark(harness);

    const result = await openWebSocket(harness, session('claims', 'phi-0', 'attach'), {
      Authorization: `Bearer ${ticketToken}`,
    });

    expect(result.status).toBe(403);
    if ('body' in result) {
      expectFailureStatus(
        result.body,
        403,
        'Forbidden',
        'get pods/phi-0/attach in namespace claims needs a policy that permits it, and none does',
      );
    }
    await waitForDenied(events);
  });
});
