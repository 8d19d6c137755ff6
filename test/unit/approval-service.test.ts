/** ApprovalService with in-memory ports at a controlled instant: quorum, refusals, races and the task callback. */
import { describe, expect, it } from 'vitest';
import { ApprovalService } from '../../shared/approvals/approval-service.ts';
import type { DecisionInput } from '../../shared/approvals/approval-service.ts';
import {
  AlreadyDecidedError,
  ApprovalClosedError,
  ApprovalExistsError,
  ApprovalNotFoundError,
  NotAnApproverError,
  SelfApprovalError,
  UnknownApproverGroupError,
} from '../../shared/approvals/errors.ts';
import type { Approval, ApprovalDecision, ApprovalStatus } from '../../shared/approvals/model.ts';
import type { ApprovalStore, ApprovalTaskError, TaskCallbacks } from '../../shared/approvals/ports.ts';
import type { AuditEventInput } from '../../shared/audit/event.ts';
import { GatehouseConfigSchema } from '../../shared/config/schema.ts';
import type { GatehouseConfig } from '../../shared/config/schema.ts';
import type { AccessRequest, Principal } from '../../shared/model.ts';

const START = new Date('2026-11-23T10:00:00.000Z');
const TOKEN = 'AAAAKgAAAAIAAAAAAAAAAe1-the-task-token';

/** An ApprovalStore in memory with the DynamoDB adapter's conditions; each method yields first, so calls interleave. */
class MemoryApprovalStore implements ApprovalStore {
  approvals = new Map<string, Approval>();
  tokens = new Map<string, string>();
  concludeCalls = 0;
  /** Runs once, just before the next decision is written: lets a test land another write first. */
  beforeRecord?: () => Promise<void>;

  async create(approval: Approval, taskToken: string) {
    await tick();
    if (this.approvals.has(approval.requestId)) throw new ApprovalExistsError(approval.requestId);
    this.approvals.set(approval.requestId, structuredClone(approval));
    this.tokens.set(approval.requestId, taskToken);
  }
  async get(requestId: string) {
    await tick();
    return structuredClone(this.approvals.get(requestId));
  }
  async recordDecision(requestId: string, decision: ApprovalDecision) {
    const hook = this.beforeRecord;
    this.beforeRecord = undefined;
    await hook?.();
    await tick();
    const approval = this.approvals.get(requestId);
    if (!approval) throw new ApprovalNotFoundError(requestId);
    if (approval.decisions.some((entry) => entry.approverId === decision.approverId)) {
      throw new AlreadyDecidedError(requestId, decision.approverId);
    }
    if (approval.status !== 'pending') throw new ApprovalClosedError(requestId, approval.status);
    approval.decisions.push(structuredClone(decision));
    return structuredClone(approval);
  }
  async conclude(requestId: string, status: Exclude<ApprovalStatus, 'pending'>, outcome: string, at: string) {
    this.concludeCalls += 1;
    await tick();
    const approval = this.approvals.get(requestId);
    if (!approval) throw new ApprovalNotFoundError(requestId);
    if (approval.status !== 'pending') return false;
    Object.assign(approval, { status, outcome, concludedAt: at });
    return true;
  }
  async taskToken(requestId: string) {
    await tick();
    return this.tokens.get(requestId);
  }
  async replaceTaskToken(requestId: string, taskToken: string) {
    await tick();
    if (!this.approvals.has(requestId)) throw new ApprovalNotFoundError(requestId);
    this.tokens.set(requestId, taskToken);
  }
  async pendingTaskTokens(limit: number) {
    await tick();
    return [...this.approvals.values()]
      .filter((approval) => approval.status === 'pending' && this.tokens.has(approval.requestId))
      .sort((a, b) => a.expiresAt.localeCompare(b.expiresAt))
      .slice(0, limit)
      .map((approval) => ({ requestId: approval.requestId, taskToken: this.tokens.get(approval.requestId)! }));
  }
}

type Callback =
  | { kind: 'succeed'; taskToken: string; output: { decision: 'approved' } }
  | { kind: 'fail'; taskToken: string; error: ApprovalTaskError; cause: string };

class RecordingCallbacks implements TaskCallbacks {
  calls: Callback[] = [];
  /** Heartbeats, by token, kept apart from the answers. */
  beats: string[] = [];
  /** Tokens Step Functions no longer waits on, and tokens whose heartbeat fails with an error of the given kind. */
  notWaiting = new Set<string>();
  failing = new Map<string, string>();
  async succeed(taskToken: string, output: { decision: 'approved' }) {
    await tick();
    this.calls.push({ kind: 'succeed', taskToken, output });
  }
  async fail(taskToken: string, error: ApprovalTaskError, cause: string) {
    await tick();
    this.calls.push({ kind: 'fail', taskToken, error, cause });
  }
  async heartbeat(taskToken: string) {
    await tick();
    this.beats.push(taskToken);
    const kind = this.failing.get(taskToken);
    if (kind) throw Object.assign(new Error(`heartbeat failed: ${kind}`), { name: 'TaskCallbackError', kind });
    return !this.notWaiting.has(taskToken);
  }
}

function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function parseConfig(approvers: unknown): GatehouseConfig {
  return GatehouseConfigSchema.parse({
    version: 1,
    issuers: [{ name: 'github', issuer: 'https://token.actions.githubusercontent.com', audience: 'gatehouse' }],
    clusters: [
      {
        name: 'prod',
        region: 'us-east-1',
        account: '123456789012',
        accessLevels: { edit: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy' },
      },
    ],
    policies: { files: ['access.cedar'] },
    approvers,
  });
}

const many = Array.from({ length: 10 }, (_, index) => `member-${index}`);
const PEOPLE = [
  {
    id: 'alice',
    email: 'alice@example.com',
    slackUserId: 'U0ALICE',
    githubLogin: 'alice-gh',
    gitlabLogin: 'alice-gl',
    principals: ['okta:00u-alice'],
  },
  { id: 'bob', email: 'bob@example.com', slackUserId: 'U0BOB' },
  { id: 'carol', email: 'carol@example.com', slackUserId: 'U0CAROL' },
  { id: 'dave', email: 'dave@example.com' },
  { id: 'erin', slackUserId: 'U0ERIN' },
  ...many.map((id) => ({ id })),
];
const GROUPS = [
  { name: 'sre', members: ['alice', 'bob', 'carol'], quorum: 2, timeoutSeconds: 1800 },
  { name: 'security', members: ['dave', 'erin'], quorum: 1, timeoutSeconds: 900 },
  { name: 'solo', members: ['alice', 'bob', 'carol'], quorum: 1 },
  { name: 'many', members: many, quorum: 3 },
];

const githubRequester: Principal = {
  id: 'github:repo:acme/api:ref:refs/heads/main',
  issuer: 'https://token.actions.githubusercontent.com',
  issuerName: 'github',
  subject: 'repo:acme/api:ref:refs/heads/main',
  groups: [],
  ci: { provider: 'github-actions', repository: 'acme/api', ref: 'refs/heads/main', actor: 'octo-bot' },
};

function accessRequest(id: string, principal: Principal = githubRequester): AccessRequest {
  return {
    id,
    principal,
    cluster: 'prod',
    namespaces: ['payments'],
    access: 'edit',
    durationSeconds: 900,
    purpose: 'hotfix',
    via: 'direct',
    status: 'pending',
    createdAt: START.toISOString(),
    updatedAt: START.toISOString(),
  };
}

function setup() {
  const state = { config: parseConfig({ people: PEOPLE, groups: GROUPS }), now: START };
  const store = new MemoryApprovalStore();
  const callbacks = new RecordingCallbacks();
  const events: AuditEventInput[] = [];
  const requests = new Map<string, AccessRequest>();
  const audit = {
    failOn: undefined as AuditEventInput['type'] | undefined,
    async append(event: AuditEventInput) {
      if (event.type === audit.failOn) throw new Error('audit store unavailable');
      events.push(structuredClone(event));
      return undefined as never;
    },
  };
  const service = new ApprovalService({
    config: () => state.config,
    store,
    callbacks,
    audit,
    access: { getRequest: async (id) => structuredClone(requests.get(id)) },
    clock: { now: () => state.now },
  });
  /** Opens an approval for a new request by `principal` that needs `groups`. */
  const open = async (id: string, groups: string[], principal: Principal = githubRequester) => {
    const request = accessRequest(id, principal);
    requests.set(id, request);
    return service.open(request, groups, TOKEN);
  };
  const decide = (requestId: string, approverId: string, decision: 'approve' | 'deny' = 'approve', extra = {}) =>
    service.decide({ requestId, identity: { approverId }, decision, channel: 'local', ...extra });
  const typesOf = () => events.map((event) => event.type);
  const refusals = () =>
    events.filter((event) => event.type === 'approval.refused').map((event) => event.details?.reason);
  return { state, store, callbacks, events, audit, requests, service, open, decide, typesOf, refusals };
}

describe('ApprovalService.open', () => {
  it('opens a pending approval that expires after the shortest timeout of its groups, and records it', async () => {
    const { open, store, events } = setup();

    const approval = await open('req_1', ['sre security']);

    expect(approval).toEqual({
      requestId: 'req_1',
      status: 'pending',
      requirement: {
        groups: [
          { name: 'sre', quorum: 2 },
          { name: 'security', quorum: 1 },
        ],
        timeoutSeconds: 900,
      },
      decisions: [],
      createdAt: '2026-11-23T10:00:00.000Z',
      expiresAt: '2026-11-23T10:15:00.000Z',
    });
    expect(await store.get('req_1')).toEqual(approval);
    expect(store.tokens.get('req_1')).toBe(TOKEN);
    expect(events).toEqual([
      {
        type: 'approval.requested',
        stream: 'request/req_1',
        actor: expect.objectContaining({ id: githubRequester.id }),
        subject: { cluster: 'prod', namespaces: ['payments'] },
        requestId: 'req_1',
        details: {
          groups: ['sre', 'security'],
          quorum: { sre: 2, security: 1 },
          timeoutSeconds: 900,
          expiresAt: '2026-11-23T10:15:00.000Z',
        },
      },
    ]);
    expect(JSON.stringify(events)).not.toContain(TOKEN);
  });

  it('refuses, records and stores nothing when a policy names an unknown approver group', async () => {
    const { open, store, events } = setup();

    await expect(open('req_1', ['sre platform'])).rejects.toBeInstanceOf(UnknownApproverGroupError);

    expect(store.approvals.size).toBe(0);
    expect(events).toMatchObject([
      { type: 'approval.refused', details: { reason: 'unknown-approver-group', groups: ['platform'] } },
    ]);
  });

  it('keeps a pending approval opened again (a retried RequestApproval) and answers the newest task token', async () => {
    const { open, service, store, requests, events } = setup();
    await open('req_1', ['solo']);
    const first = await store.get('req_1');

    const reopened = await service.open(requests.get('req_1')!, ['solo'], 'token-of-the-retry');

    expect(reopened).toEqual(first);
    expect(await store.taskToken('req_1')).toBe('token-of-the-retry');
    expect(events.filter((event) => event.type === 'approval.requested')).toHaveLength(1);
  });

  it('refuses to open an approval again once it has ended', async () => {
    const { open, service, requests, store } = setup();
    await open('req_1', ['solo']);
    await store.conclude('req_1', 'expired', 'expired', new Date().toISOString());

    await expect(service.open(requests.get('req_1')!, ['solo'], 'late')).rejects.toBeInstanceOf(ApprovalExistsError);
  });
});

describe('ApprovalService.decide: quorum', () => {
  it('waits for N of M: the first approval of two needed leaves it pending and answers nothing', async () => {
    const { open, decide, callbacks, store } = setup();
    await open('req_1', ['sre']);

    const result = await decide('req_1', 'alice', 'approve', { reason: 'ok', channel: 'slack' });

    expect(result.concluded).toBe(false);
    expect(result.approval.status).toBe('pending');
    expect(result.approval.decisions).toEqual([
      {
        approverId: 'alice',
        decision: 'approve',
        reason: 'ok',
        channel: 'slack',
        at: START.toISOString(),
        groups: ['sre'],
      },
    ]);
    expect(callbacks.calls).toEqual([]);
    expect(store.concludeCalls).toBe(0);
  });

  it('approves at quorum and answers the waiting task once, with its token', async () => {
    const { open, decide, callbacks, events } = setup();
    await open('req_1', ['sre']);
    await decide('req_1', 'alice');

    const result = await decide('req_1', 'bob');

    expect(result.concluded).toBe(true);
    expect(result.approval).toMatchObject({
      status: 'approved',
      outcome: 'approved by alice, bob',
      concludedAt: START.toISOString(),
    });
    expect(callbacks.calls).toEqual([{ kind: 'succeed', taskToken: TOKEN, output: { decision: 'approved' } }]);
    expect(events.at(-1)).toMatchObject({
      type: 'approval.concluded',
      actor: { id: 'approver:bob' },
      details: { status: 'approved', approvedBy: ['alice', 'bob'], deniedBy: [] },
    });
    expect(JSON.stringify(events)).not.toContain(TOKEN);
  });

  it('needs every listed group: a full sre quorum still waits for security', async () => {
    const { open, decide, callbacks } = setup();
    await open('req_1', ['sre', 'security']);
    await decide('req_1', 'alice');

    const sreDone = await decide('req_1', 'bob');
    expect(sreDone).toMatchObject({ concluded: false, approval: { status: 'pending' } });
    expect(callbacks.calls).toEqual([]);

    const securityDone = await decide('req_1', 'dave');

    expect(securityDone).toMatchObject({ concluded: true, approval: { status: 'approved' } });
    expect(callbacks.calls).toEqual([{ kind: 'succeed', taskToken: TOKEN, output: { decision: 'approved' } }]);
  });

  it('records the groups each approver counted for at decision time', async () => {
    const { open, decide } = setup();
    await open('req_1', ['sre security']);

    const { approval } = await decide('req_1', 'erin');

    expect(approval.decisions.map((decision) => [decision.approverId, decision.groups])).toEqual([
      ['erin', ['security']],
    ]);
  });
});

describe('ApprovalService.decide: deny', () => {
  it('ends the approval at the first deny, failing the task with ApprovalDeniedError and the reason', async () => {
    const { open, decide, callbacks, events } = setup();
    await open('req_1', ['sre']);
    await decide('req_1', 'alice');

    const result = await decide('req_1', 'carol', 'deny', { reason: '  not during the freeze ' });

    expect(result).toMatchObject({
      concluded: true,
      approval: { status: 'denied', outcome: 'denied by carol: not during the freeze' },
    });
    expect(callbacks.calls).toEqual([
      { kind: 'fail', taskToken: TOKEN, error: 'ApprovalDeniedError', cause: 'denied by carol: not during the freeze' },
    ]);
    expect(
      events.find((event) => event.type === 'approval.decided' && event.actor.id === 'approver:carol'),
    ).toMatchObject({
      details: {
        approverId: 'carol',
        decision: 'deny',
        reason: 'not during the freeze',
        channel: 'local',
        groups: ['sre'],
      },
    });
  });

  it('refuses any decision after a deny, records the refusal, and answers the task no second time', async () => {
    const { open, decide, callbacks, refusals } = setup();
    await open('req_1', ['sre']);
    await decide('req_1', 'carol', 'deny');

    await expect(decide('req_1', 'alice')).rejects.toBeInstanceOf(ApprovalClosedError);

    expect(refusals()).toEqual(['closed']);
    expect(callbacks.calls).toHaveLength(1);
  });
});

describe('ApprovalService.decide: who may decide', () => {
  const selfCases: [string, Principal][] = [
    ['the same principal', { ...githubRequester, id: 'okta:00u-alice', issuerName: 'okta', ci: undefined }],
    ['the same email, in another case', { ...githubRequester, email: 'ALICE@example.com' }],
    [
      'the GitHub actor who triggered the job',
      { ...githubRequester, ci: { provider: 'github-actions', actor: 'Alice-GH' } },
    ],
    [
      'the GitLab user who started the pipeline',
      { ...githubRequester, ci: { provider: 'gitlab', userLogin: 'alice-gl' } },
    ],
  ];

  for (const [mapping, principal] of selfCases) {
    it(`refuses self-approval through ${mapping}, on any channel, and records nothing but the refusal`, async () => {
      const { open, service, store, refusals, typesOf } = setup();
      await open('req_1', ['solo'], principal);

      const bySlack = service.decide({
        requestId: 'req_1',
        identity: { slackUserId: 'U0ALICE' },
        decision: 'approve',
        channel: 'slack',
      });

      await expect(bySlack).rejects.toBeInstanceOf(SelfApprovalError);
      expect((await store.get('req_1'))?.decisions).toEqual([]);
      expect(refusals()).toEqual(['self-approval']);
      expect(typesOf()).not.toContain('approval.decided');
    });
  }

  it('lets another approver decide the same request', async () => {
    const { open, decide } = setup();
    await open('req_1', ['solo'], { ...githubRequester, email: 'alice@example.com' });

    await expect(decide('req_1', 'bob')).resolves.toMatchObject({ concluded: true });
  });

  it('refuses an identity that is no configured approver', async () => {
    const { open, service, refusals, events } = setup();
    await open('req_1', ['solo']);

    await expect(
      service.decide({
        requestId: 'req_1',
        identity: { slackUserId: 'U0MALLORY' },
        decision: 'approve',
        channel: 'slack',
      }),
    ).rejects.toBeInstanceOf(NotAnApproverError);

    expect(refusals()).toEqual(['unknown-approver']);
    expect(events.at(-1)?.actor).toEqual({ id: 'slack:U0MALLORY' });
  });

  it('refuses an approver who is in none of the required groups', async () => {
    const { open, decide, refusals } = setup();
    await open('req_1', ['security']);

    await expect(decide('req_1', 'alice')).rejects.toBeInstanceOf(NotAnApproverError);

    expect(refusals()).toEqual(['not-in-required-group']);
  });

  it('checks membership at decision time: someone removed from the group since the request is refused', async () => {
    const { open, decide, state, store, refusals } = setup();
    await open('req_1', ['sre']);
    state.config = parseConfig({
      people: PEOPLE,
      groups: GROUPS.map((group) => (group.name === 'sre' ? { ...group, members: ['bob', 'carol'] } : group)),
    });

    await expect(decide('req_1', 'alice')).rejects.toBeInstanceOf(NotAnApproverError);

    expect((await store.get('req_1'))?.decisions).toEqual([]);
    expect(refusals()).toEqual(['not-in-required-group']);
  });

  it('checks membership at decision time: someone added since the request counts', async () => {
    const { open, decide, state } = setup();
    await open('req_1', ['security']);
    state.config = parseConfig({
      people: PEOPLE,
      groups: GROUPS.map((group) => (group.name === 'security' ? { ...group, members: ['dave', 'alice'] } : group)),
    });

    await expect(decide('req_1', 'alice')).resolves.toMatchObject({
      concluded: true,
      approval: { status: 'approved' },
    });
  });

  it('refuses a decision on a request that has no approval', async () => {
    const { decide, refusals } = setup();

    await expect(decide('req_nothing', 'alice')).rejects.toBeInstanceOf(ApprovalNotFoundError);

    expect(refusals()).toEqual(['approval-not-found']);
  });

  it('refuses a decision when the access request is gone, since the requester cannot be checked', async () => {
    const { open, decide, requests, refusals } = setup();
    await open('req_1', ['solo']);
    requests.delete('req_1');

    await expect(decide('req_1', 'bob')).rejects.toBeInstanceOf(ApprovalNotFoundError);

    expect(refusals()).toEqual(['request-not-found']);
  });
});

describe('ApprovalService.decide: one decision per approver', () => {
  it('refuses the same approver a second time, from another channel too, and keeps the first decision', async () => {
    const { open, decide, service, store, refusals } = setup();
    await open('req_1', ['sre']);
    await decide('req_1', 'alice');

    await expect(decide('req_1', 'alice', 'deny')).rejects.toBeInstanceOf(AlreadyDecidedError);
    await expect(
      service.decide({
        requestId: 'req_1',
        identity: { email: 'ALICE@example.com' },
        decision: 'approve',
        channel: 'email',
      }),
    ).rejects.toBeInstanceOf(AlreadyDecidedError);

    expect((await store.get('req_1'))?.decisions.map((decision) => decision.decision)).toEqual(['approve']);
    expect(refusals()).toEqual(['already-decided', 'already-decided']);
  });

  it('refuses a double click that passed the first read: the store condition decides, and it is recorded', async () => {
    const { open, decide, store, refusals, typesOf } = setup();
    await open('req_1', ['sre']);
    // The other click's write lands between this click's read and its write.
    store.beforeRecord = async () => {
      store.approvals.get('req_1')!.decisions.push({
        approverId: 'alice',
        decision: 'approve',
        channel: 'slack',
        at: START.toISOString(),
        groups: ['sre'],
      });
    };

    await expect(decide('req_1', 'alice')).rejects.toBeInstanceOf(AlreadyDecidedError);

    expect(typesOf()).toEqual(['approval.requested', 'approval.decided', 'approval.refused']);
    expect(refusals()).toEqual(['already-decided']);
    expect(store.approvals.get('req_1')!.decisions).toHaveLength(1);
  });

  it('records a double click racing itself once', async () => {
    const { open, decide, store, callbacks } = setup();
    await open('req_1', ['sre']);

    const results = await Promise.allSettled([decide('req_1', 'alice'), decide('req_1', 'alice')]);

    expect(results.map((result) => result.status).toSorted()).toEqual(['fulfilled', 'rejected']);
    expect((results.find((result) => result.status === 'rejected') as PromiseRejectedResult).reason).toBeInstanceOf(
      AlreadyDecidedError,
    );
    expect(store.approvals.get('req_1')!.decisions).toHaveLength(1);
    expect(callbacks.calls).toEqual([]);
  });
});

describe('ApprovalService.decide: races to the end', () => {
  it('lets the first terminal decision win when an approval and a deny race, answering the task once', async () => {
    const { open, decide, store, callbacks, typesOf } = setup();
    await open('req_1', ['solo']);

    const results = await Promise.all([decide('req_1', 'alice'), decide('req_1', 'bob', 'deny')]);

    expect(results.filter((result) => result.concluded)).toHaveLength(1);
    const final = store.approvals.get('req_1')!;
    expect(callbacks.calls).toHaveLength(1);
    expect(callbacks.calls[0]!.kind).toBe(final.status === 'approved' ? 'succeed' : 'fail');
    expect(callbacks.calls[0]!.taskToken).toBe(TOKEN);
    expect(typesOf().filter((type) => type === 'approval.concluded')).toHaveLength(1);
  });

  it('with ten approvers racing for a quorum of three, ends once and answers the task once', async () => {
    const { open, decide, store, callbacks, typesOf } = setup();
    await open('req_1', ['many']);

    const results = await Promise.allSettled(many.map((id) => decide('req_1', id)));

    const decided = results.filter((result) => result.status === 'fulfilled');
    const refused = results.filter((result) => result.status === 'rejected');
    for (const result of refused) expect(result.reason).toBeInstanceOf(ApprovalClosedError);
    expect(decided.filter((result) => result.value.concluded)).toHaveLength(1);
    const final = store.approvals.get('req_1')!;
    expect(final.status).toBe('approved');
    expect(final.decisions).toHaveLength(decided.length);
    expect(new Set(final.decisions.map((decision) => decision.approverId)).size).toBe(final.decisions.length);
    expect(final.decisions.length).toBeGreaterThanOrEqual(3);
    expect(callbacks.calls).toEqual([{ kind: 'succeed', taskToken: TOKEN, output: { decision: 'approved' } }]);
    expect(typesOf().filter((type) => type === 'approval.concluded')).toHaveLength(1);
  });
});

describe('ApprovalService: time runs out', () => {
  it('refuses a decision after the approval expired, ends it as expired and fails the task once', async () => {
    const { open, decide, state, store, callbacks, refusals } = setup();
    await open('req_1', ['security']);
    state.now = new Date('2026-11-23T10:15:00.000Z');

    await expect(decide('req_1', 'dave')).rejects.toBeInstanceOf(ApprovalClosedError);
    await expect(decide('req_1', 'erin')).rejects.toBeInstanceOf(ApprovalClosedError);

    expect(store.approvals.get('req_1')).toMatchObject({ status: 'expired', decisions: [] });
    expect(callbacks.calls).toEqual([
      { kind: 'fail', taskToken: TOKEN, error: 'ApprovalExpiredError', cause: 'no decision within 900 s' },
    ]);
    expect(refusals()).toEqual(['expired', 'closed']);
  });

  it('expire ends a pending approval as expired, records it, and leaves the task to the state machine', async () => {
    const { open, service, store, callbacks, events } = setup();
    await open('req_1', ['sre']);

    const result = await service.expire('req_1');

    expect(result).toMatchObject({
      concluded: true,
      approval: { status: 'expired', outcome: 'no decision within 1800 s' },
    });
    expect(store.approvals.get('req_1')?.status).toBe('expired');
    expect(callbacks.calls).toEqual([]);
    expect(events.at(-1)).toMatchObject({
      type: 'approval.concluded',
      actor: { id: 'system:approvals' },
      details: { status: 'expired' },
    });
  });

  it('expire is idempotent, and never overturns a decision that ended the approval first', async () => {
    const { open, decide, service, store, typesOf } = setup();
    await open('req_1', ['solo']);
    await open('req_2', ['solo']);
    await decide('req_2', 'bob');
    await service.expire('req_1');

    const again = await service.expire('req_1');
    const afterApproval = await service.expire('req_2');

    expect(again).toMatchObject({ concluded: false, approval: { status: 'expired' } });
    expect(afterApproval).toMatchObject({ concluded: false, approval: { status: 'approved' } });
    expect(store.approvals.get('req_2')?.status).toBe('approved');
    expect(typesOf().filter((type) => type === 'approval.concluded')).toHaveLength(2);
  });

  it('expire refuses a request that has no approval', async () => {
    const { service } = setup();

    await expect(service.expire('req_nothing')).rejects.toBeInstanceOf(ApprovalNotFoundError);
  });
});

describe('ApprovalService: fail closed', () => {
  it('stores no decision when its audit event cannot be recorded', async () => {
    const { open, decide, audit, store, callbacks } = setup();
    await open('req_1', ['solo']);
    audit.failOn = 'approval.decided';

    await expect(decide('req_1', 'bob')).rejects.toThrow('audit store unavailable');

    expect(store.approvals.get('req_1')).toMatchObject({ status: 'pending', decisions: [] });
    expect(callbacks.calls).toEqual([]);
  });

  it('stores no approval when approval.requested cannot be recorded', async () => {
    const { open, audit, store } = setup();
    audit.failOn = 'approval.requested';

    await expect(open('req_1', ['solo'])).rejects.toThrow('audit store unavailable');

    expect(store.approvals.size).toBe(0);
  });

  it('answers no task when approval.concluded cannot be recorded', async () => {
    const { open, decide, audit, callbacks } = setup();
    await open('req_1', ['solo']);
    audit.failOn = 'approval.concluded';

    await expect(decide('req_1', 'bob')).rejects.toThrow('audit store unavailable');

    expect(callbacks.calls).toEqual([]);
  });

  it('refuses an identity with no field as no approver', async () => {
    const { open, service } = setup();
    await open('req_1', ['solo']);
    const input: DecisionInput = { requestId: 'req_1', identity: {}, decision: 'approve', channel: 'api' };

    await expect(service.decide(input)).rejects.toBeInstanceOf(NotAnApproverError);
  });
});

describe('ApprovalService.heartbeat', () => {
  /** Opens approvals whose executions wait on `token-<id>`. */
  async function openAll(t: ReturnType<typeof setup>, ids: string[], groups = ['solo']) {
    for (const id of ids) {
      await t.open(id, groups);
      t.store.tokens.set(id, `token-${id}`);
    }
  }

  it('beats the task token of every pending approval, none of the ended ones, and audits nothing', async () => {
    const t = setup();
    await openAll(t, ['req_pending_1', 'req_approved', 'req_denied', 'req_expired', 'req_pending_2']);
    await t.decide('req_approved', 'bob');
    await t.decide('req_denied', 'bob', 'deny');
    await t.service.expire('req_expired');
    const recorded = t.events.length;

    const result = await t.service.heartbeat();

    expect(new Set(t.callbacks.beats)).toEqual(new Set(['token-req_pending_1', 'token-req_pending_2']));
    expect(t.callbacks.beats).toHaveLength(2);
    expect(result).toEqual({ pending: 2, sent: 2, notWaiting: 0, failures: {} });
    expect(t.events).toHaveLength(recorded);
    expect(t.store.approvals.get('req_pending_1')?.status).toBe('pending');
  });

  it('ignores a token Step Functions no longer waits on (InvalidToken, TaskTimedOut) and beats the rest', async () => {
    const t = setup();
    await openAll(t, ['req_gone', 'req_alive']);
    t.callbacks.notWaiting.add('token-req_gone');

    const result = await t.service.heartbeat();

    expect(result).toEqual({ pending: 2, sent: 1, notWaiting: 1, failures: {} });
    expect(t.callbacks.beats.sort()).toEqual(['token-req_alive', 'token-req_gone']);
    expect(t.store.approvals.get('req_gone')?.status).toBe('pending');
    expect(t.callbacks.calls).toEqual([]);
  });

  it('counts other failures by kind without stopping, and names no token', async () => {
    const t = setup();
    await openAll(t, ['req_a', 'req_b', 'req_c']);
    t.callbacks.failing.set('token-req_a', 'AccessDeniedException');
    t.callbacks.failing.set('token-req_b', 'AccessDeniedException');

    const result = await t.service.heartbeat();

    expect(result).toEqual({ pending: 3, sent: 1, notWaiting: 0, failures: { AccessDeniedException: 2 } });
    expect(JSON.stringify(result)).not.toContain('token-');
  });

  it('beats at most `limit` approvals, soonest expiry first', async () => {
    const t = setup();
    await openAll(t, ['req_later'], ['sre']);
    await openAll(t, ['req_sooner'], ['security']);

    const result = await t.service.heartbeat(1);

    expect(result.sent).toBe(1);
    expect(t.callbacks.beats).toEqual(['token-req_sooner']);
  });

  it('throws when the pending approvals cannot be read (the errors alarm), beating nothing', async () => {
    const t = setup();
    await openAll(t, ['req_1']);
    t.store.pendingTaskTokens = () => Promise.reject(new Error('store unavailable'));

    await expect(t.service.heartbeat()).rejects.toThrow('store unavailable');
    expect(t.callbacks.beats).toEqual([]);
  });
});
