/** The approval rules, pure: requirement from annotations, approver lookup, self-approval, membership, tally. */
import { describe, expect, it } from 'vitest';
import {
  approvalRequirement,
  findApprover,
  groupsOf,
  isSelfApproval,
  parseApprovalGroups,
  tally,
} from '../../shared/approvals/approval-rules.ts';
import { UnknownApproverGroupError } from '../../shared/approvals/errors.ts';
import type { ApprovalDecision, ApprovalRequirement } from '../../shared/approvals/model.ts';
import { GatehouseConfigSchema } from '../../shared/config/schema.ts';
import type { ApproverConfig, GatehouseConfig } from '../../shared/config/schema.ts';
import type { Principal } from '../../shared/model.ts';

function configWith(approvers: unknown): GatehouseConfig {
  return GatehouseConfigSchema.parse({
    version: 1,
    issuers: [{ name: 'github', issuer: 'https://token.actions.githubusercontent.com', audience: 'gatehouse' }],
    clusters: [
      {
        name: 'prod',
        region: 'us-east-1',
        account: '123456789012',
        accessLevels: { view: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy' },
      },
    ],
    policies: { files: ['access.cedar'] },
    approvers,
  });
}

const config = configWith({
  people: [
    {
      id: 'alice',
      email: 'Alice@Example.com',
      slackUserId: 'U0ALICE',
      githubLogin: 'Alice-GH',
      gitlabLogin: 'alice.gl',
      principals: ['okta:00u-alice'],
    },
    { id: 'bob', email: 'bob@example.com', slackUserId: 'U0BOB' },
    { id: 'carol', slackUserId: 'U0CAROL' },
    { id: 'dave', email: 'dave@example.com' },
  ],
  groups: [
    { name: 'sre', members: ['alice', 'bob', 'carol'], quorum: 2, timeoutSeconds: 1800 },
    { name: 'security', members: ['carol', 'dave'], quorum: 1, timeoutSeconds: 600 },
    { name: 'owners', members: ['bob'] },
  ],
});

const alice = config.approvers.people.find((person) => person.id === 'alice')!;

const requester: Principal = {
  id: 'github:repo:acme/api:ref:refs/heads/main',
  issuer: 'https://token.actions.githubusercontent.com',
  issuerName: 'github',
  subject: 'repo:acme/api:ref:refs/heads/main',
  groups: [],
  ci: { provider: 'github-actions', repository: 'acme/api', actor: 'someone-else' },
};

function decision(approverId: string, groups: string[], kind: 'approve' | 'deny' = 'approve'): ApprovalDecision {
  return { approverId, decision: kind, channel: 'slack', at: '2026-11-23T10:01:00.000Z', groups };
}

describe('parseApprovalGroups', () => {
  it('splits annotation values on spaces and commas, drops empties and repeats, keeps first-mention order', () => {
    expect(parseApprovalGroups(['sre security', 'owners,sre', ' security ,, owners '])).toEqual([
      'sre',
      'security',
      'owners',
    ]);
  });

  it('finds no group in blank values', () => {
    expect(parseApprovalGroups(['', ' , '])).toEqual([]);
  });
});

describe('approvalRequirement', () => {
  it('takes the quorum and timeout of a single group from the configuration', () => {
    expect(approvalRequirement(config, ['sre'])).toEqual({
      groups: [{ name: 'sre', quorum: 2 }],
      timeoutSeconds: 1800,
    });
  });

  it('requires every listed group, and waits only as long as the shortest timeout', () => {
    expect(approvalRequirement(config, ['sre, security'])).toEqual({
      groups: [
        { name: 'sre', quorum: 2 },
        { name: 'security', quorum: 1 },
      ],
      timeoutSeconds: 600,
    });
  });

  it('uses the schema defaults for a group that sets neither quorum nor timeout', () => {
    expect(approvalRequirement(config, ['owners'])).toEqual({
      groups: [{ name: 'owners', quorum: 1 }],
      timeoutSeconds: 3600,
    });
  });

  it('fails closed on a group the configuration does not define, naming every unknown one', () => {
    let thrown: unknown;
    try {
      approvalRequirement(config, ['sre platform', 'dba']);
    } catch (error) {
      thrown = error;
    }

    expect(thrown).toBeInstanceOf(UnknownApproverGroupError);
    expect((thrown as UnknownApproverGroupError).groups).toEqual(['platform', 'dba']);
    expect((thrown as Error).message).toContain('"platform", "dba"');
  });

  it('fails closed on an annotation that names no group', () => {
    expect(() => approvalRequirement(config, [' '])).toThrow(UnknownApproverGroupError);
    expect(() => approvalRequirement(config, [])).toThrow(UnknownApproverGroupError);
  });
});

describe('findApprover', () => {
  it('finds a person by approver id, Slack user id, or email in any case', () => {
    expect(findApprover(config, { approverId: 'bob' })?.id).toBe('bob');
    expect(findApprover(config, { slackUserId: 'U0CAROL' })?.id).toBe('carol');
    expect(findApprover(config, { email: 'alice@EXAMPLE.com' })?.id).toBe('alice');
  });

  it('finds nobody for an unknown identity or an empty one', () => {
    expect(findApprover(config, { slackUserId: 'U0MALLORY' })).toBeUndefined();
    expect(findApprover(config, { email: 'mallory@example.com' })).toBeUndefined();
    expect(findApprover(config, { approverId: 'mallory' })).toBeUndefined();
    expect(findApprover(config, {})).toBeUndefined();
  });

  it('finds nobody when the fields given belong to different people', () => {
    expect(findApprover(config, { slackUserId: 'U0ALICE', email: 'bob@example.com' })).toBeUndefined();
    expect(findApprover(config, { slackUserId: 'U0ALICE', email: 'alice@example.com' })?.id).toBe('alice');
  });

  it('does not match an email against a person who has none', () => {
    expect(findApprover(config, { approverId: 'carol', email: 'carol@example.com' })).toBeUndefined();
  });
});

describe('isSelfApproval', () => {
  it('is true when the requester principal is one of the approver principals', () => {
    expect(isSelfApproval(alice, { ...requester, id: 'okta:00u-alice', ci: undefined })).toBe(true);
  });

  it('is true when the requester email is the approver email, in any case', () => {
    expect(isSelfApproval(alice, { ...requester, email: 'ALICE@example.COM' })).toBe(true);
  });

  it('is true when the GitHub Actions job was triggered by the approver GitHub login, in any case', () => {
    expect(isSelfApproval(alice, { ...requester, ci: { provider: 'github-actions', actor: 'alice-gh' } })).toBe(true);
  });

  it('is true when the GitLab pipeline was started by the approver GitLab login, in any case', () => {
    expect(isSelfApproval(alice, { ...requester, ci: { provider: 'gitlab', userLogin: 'Alice.GL' } })).toBe(true);
  });

  it('does not compare logins across providers', () => {
    expect(isSelfApproval(alice, { ...requester, ci: { provider: 'gitlab', actor: 'alice-gh' } })).toBe(false);
    expect(isSelfApproval(alice, { ...requester, ci: { provider: 'github-actions', userLogin: 'alice.gl' } })).toBe(
      false,
    );
  });

  it('is false for someone else, and for an approver with no identities to compare', () => {
    const bare: ApproverConfig = { id: 'zed', principals: [] };

    expect(isSelfApproval(alice, { ...requester, email: 'bob@example.com' })).toBe(false);
    expect(isSelfApproval(bare, { ...requester, email: 'bob@example.com' })).toBe(false);
  });
});

describe('groupsOf', () => {
  const requirement: ApprovalRequirement = approvalRequirement(config, ['sre security']);

  it('lists the required groups the approver belongs to in the configuration given', () => {
    expect(groupsOf(config, requirement, 'carol')).toEqual(['sre', 'security']);
    expect(groupsOf(config, requirement, 'alice')).toEqual(['sre']);
    expect(groupsOf(config, requirement, 'bob')).toEqual(['sre']);
  });

  it('ignores groups the request does not need', () => {
    expect(groupsOf(config, approvalRequirement(config, ['security']), 'bob')).toEqual([]);
  });

  it('follows the configuration at decision time: removed members and removed groups no longer count', () => {
    const later = configWith({
      people: config.approvers.people,
      groups: [{ name: 'sre', members: ['bob'], quorum: 1 }],
    });

    expect(groupsOf(later, requirement, 'alice')).toEqual([]);
    expect(groupsOf(later, requirement, 'carol')).toEqual([]);
    expect(groupsOf(later, requirement, 'bob')).toEqual(['sre']);
  });
});

describe('tally', () => {
  const sre2: ApprovalRequirement = { groups: [{ name: 'sre', quorum: 2 }], timeoutSeconds: 600 };
  const both: ApprovalRequirement = {
    groups: [
      { name: 'sre', quorum: 2 },
      { name: 'security', quorum: 1 },
    ],
    timeoutSeconds: 600,
  };

  it('is pending with no decisions, and below quorum', () => {
    expect(tally(sre2, [])).toBe('pending');
    expect(tally(sre2, [decision('alice', ['sre'])])).toBe('pending');
  });

  it('is approved once N of M distinct approvers approved', () => {
    expect(tally(sre2, [decision('alice', ['sre']), decision('bob', ['sre'])])).toBe('approved');
  });

  it('counts one approver once, however many decisions carry their id', () => {
    expect(tally(sre2, [decision('alice', ['sre']), decision('alice', ['sre'])])).toBe('pending');
  });

  it('counts an approval only for the groups it counted for', () => {
    expect(tally(sre2, [decision('alice', ['sre']), decision('dave', ['security'])])).toBe('pending');
  });

  it('needs every required group to reach its quorum', () => {
    const sreOnly = [decision('alice', ['sre']), decision('bob', ['sre'])];

    expect(tally(both, sreOnly)).toBe('pending');
    expect(tally(both, [...sreOnly, decision('dave', ['security'])])).toBe('approved');
  });

  it('lets one person in two required groups count for both', () => {
    expect(tally(both, [decision('carol', ['sre', 'security']), decision('alice', ['sre'])])).toBe('approved');
  });

  it('is denied by any deny, even after a quorum of approvals', () => {
    expect(tally(sre2, [decision('alice', ['sre'], 'deny')])).toBe('denied');
    expect(
      tally(sre2, [decision('alice', ['sre']), decision('bob', ['sre']), decision('carol', ['sre'], 'deny')]),
    ).toBe('denied');
  });

  it('never approves a requirement with no groups (fail closed)', () => {
    expect(tally({ groups: [], timeoutSeconds: 600 }, [decision('alice', ['sre'])])).toBe('pending');
  });
});
