/**
 * Bypass class: exec into a denied pod through `attach` (issue 6). A pod labelled `phi=true` takes no shell without the
 * ticket that justifies it (guardrail `phi-exec-needs-ticket`, as in policies/relay.cedar). `attach` reaches the same
 * container's streams, so the guardrail names both; attach also needs an explicit permit. The relay reads the pod's
 * labels upstream (as the principal) before deciding, denies exec and attach alike, and a permit for attach does not
 * override the PHI forbid: in Cedar a forbid always wins. Without the label read, or with the ticket, the outcome
 * changes only as the policies say.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  bearer,
  detailsOf,
  eventMark,
  openWebSocket,
  sessionEnd,
  upstreamMark,
  waitForEvent,
} from '../support/relay-raw.ts';
import { expectRefused, podObject, useRelayHarness } from '../support/relay-security.ts';

/** Attach is allowed in `intake` only; PHI pods there are still covered by the forbid. */
const ATTACH_PERMIT = `
@id("permit-attach-in-intake")
permit (principal, action == Gatehouse::Action::"KubernetesRequest", resource)
when { resource.resource == "pods" && resource.subresource == "attach" && resource.namespace == "intake" };
`;

const relay = useRelayHarness({
  policies: ATTACH_PERMIT,
  objects: [
    podObject('claims', 'phi-0', { labels: { phi: 'true', app: 'intake' } }),
    podObject('claims', 'plain-0', { labels: { app: 'intake' } }),
    podObject('intake', 'phi-1', { labels: { phi: 'true' } }),
    podObject('intake', 'plain-1', { labels: {} }),
  ],
  grant: { namespaces: ['claims', 'intake'], access: 'edit' },
});
let ticketToken: string;

beforeAll(async () => {
  relay.harness.api.setExecHandler(async (session) => {
    session.stdout?.write('uid=0(root)\n');
    return { exitCode: 0 };
  });
  relay.harness.api.setAttachHandler(async (session) => {
    session.stdout?.write('attached\n');
    return { exitCode: 0 };
  });
  ({ token: ticketToken } = await relay.harness.grant({
    namespaces: ['claims', 'intake'],
    access: 'edit',
    ticket: 'INC-4711',
  }));
});

const session = (namespace: string, name: string, subresource: 'exec' | 'attach') =>
  `/api/v1/namespaces/${namespace}/pods/${name}/${subresource}?${subresource === 'exec' ? 'command=sh&' : ''}stdin=true&stdout=true&tty=true`;

/** Opens `path` as a WebSocket and asserts the relay refused it, after reading only the pod, with no session upstream. */
async function expectSessionDenied(path: string, podPath: string, message: string, policies: string[]): Promise<void> {
  const streams = relay.harness.api.streams.length;

  const { forwarded } = await expectRefused(
    relay.harness,
    () => openWebSocket(relay.harness, path, { Authorization: `Bearer ${relay.token}` }),
    {
      status: 403,
      reason: 'Forbidden',
      message,
      stage: 'guardrail',
      details: { policies },
      grantId: relay.grant.id,
      upstreamPaths: [podPath],
    },
  );

  // Only the label read, as the principal; no exec or attach upstream, no session.
  expect(forwarded.map((request) => [request.method, request.path, request.upgrade])).toEqual([
    ['GET', podPath, undefined],
  ]);
  expect(forwarded[0]!.impersonateUser).toBe(relay.grant.username);
  expect(relay.harness.api.streams.length).toBe(streams);
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
    const { forwarded } = await expectRefused(
      relay.harness,
      {
        method: 'POST',
        target: '/api/v1/namespaces/claims/pods/phi-0/exec?command=sh&stdout=true',
        headers: [bearer(relay.token), ['Content-Length', '0']],
      },
      {
        status: 403,
        reason: 'Forbidden',
        message: 'create pods/phi-0/exec in namespace claims is forbidden by policy phi-exec-needs-ticket',
        stage: 'guardrail',
        details: { policies: ['phi-exec-needs-ticket'] },
        upstreamPaths: ['/api/v1/namespaces/claims/pods/phi-0'],
      },
    );

    expect(forwarded.map((request) => [request.method, request.path])).toEqual([
      ['GET', '/api/v1/namespaces/claims/pods/phi-0'],
    ]);
  });
});

describe('attach into the same PHI pod', () => {
  it.each([
    [
      'is denied by the PHI guardrail, not merely for want of a permit',
      'claims',
      'phi-0',
      'get pods/phi-0/attach in namespace claims is forbidden by policy phi-exec-needs-ticket',
      ['phi-exec-needs-ticket'],
    ],
    [
      'is denied where a policy permits attach: the PHI forbid overrides the permit',
      'intake',
      'phi-1',
      'get pods/phi-1/attach in namespace intake is forbidden by policy phi-exec-needs-ticket',
      ['phi-exec-needs-ticket'],
    ],
    [
      'to a pod without PHI still needs a permit',
      'claims',
      'plain-0',
      'get pods/plain-0/attach in namespace claims needs a policy that permits it, and none does',
      [],
    ],
  ])('%s', async (_name, namespace, name, message, policies) => {
    await expectSessionDenied(
      session(namespace, name, 'attach'),
      `/api/v1/namespaces/${namespace}/pods/${name}`,
      message,
      policies,
    );
  });
});

describe('the sessions the policies do allow', () => {
  it('attaches to a pod without PHI where attach is permitted, so the denials above are the guardrails', async () => {
    const upstream = upstreamMark(relay.harness);
    const events = eventMark(relay.harness);

    const result = await openWebSocket(relay.harness, session('intake', 'plain-1', 'attach'), {
      Authorization: `Bearer ${relay.token}`,
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
    const result = await openWebSocket(relay.harness, session('claims', 'phi-0', 'exec'), {
      Authorization: `Bearer ${ticketToken}`,
    });

    expect(result.status).toBe(101);
    if ('socket' in result) await sessionEnd(result.socket);
  });

  it('still denies attach to the PHI pod with a ticket where no policy permits attach', async () => {
    await expectRefused(
      relay.harness,
      () =>
        openWebSocket(relay.harness, session('claims', 'phi-0', 'attach'), { Authorization: `Bearer ${ticketToken}` }),
      {
        status: 403,
        reason: 'Forbidden',
        message: 'get pods/phi-0/attach in namespace claims needs a policy that permits it, and none does',
        stage: 'guardrail',
        upstreamPaths: ['/api/v1/namespaces/claims/pods/phi-0'],
      },
    );
  });
});
