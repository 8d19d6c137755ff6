import { describe, expect, it } from 'vitest';
import type { Principal } from '../../shared/model.ts';
import {
  STS_TAG_KEY_MAX,
  STS_TAG_PATTERN,
  STS_TAG_VALUE_MAX,
  SessionNameError,
  deriveSessionName,
  isValidRoleSessionName,
  isValidSourceIdentity,
  roleSessionName,
  sessionIdentity,
  sessionTags,
} from '../../shared/tokens/session-name.ts';

const GRANT_ID = '01JN8ZQ6T5X7C2M4R9B0D3F6H8';

const github: Principal = {
  id: 'github:repo:octo-org/octo-repo:environment:prod',
  issuer: 'https://token.actions.githubusercontent.com',
  issuerName: 'github',
  subject: 'repo:octo-org/octo-repo:environment:prod',
  groups: ['ci'],
  ci: { provider: 'github-actions', repository: 'octo-org/octo-repo', ref: 'refs/heads/main' },
};

function principal(overrides: Partial<Principal>): Principal {
  return { ...github, ...overrides };
}

const hostile: [string, Principal, string][] = [
  [
    'unicode everywhere',
    principal({ subject: 'répo:ünïcødé/名前:🚀', ci: { provider: 'github-actions', repository: 'Zoë/日本語-repo' } }),
    GRANT_ID,
  ],
  [
    'slashes and colons',
    principal({ subject: '/../..//:::/', ci: { provider: 'gitlab', repository: 'a/b/c/d/e' } }),
    GRANT_ID,
  ],
  [
    'a very long subject',
    principal({ subject: 'x'.repeat(5000), id: `github:${'x'.repeat(5000)}`, ci: undefined }),
    GRANT_ID,
  ],
  ['empty subject and issuer name', principal({ subject: '', issuerName: '', id: '', ci: undefined }), GRANT_ID],
  ['only forbidden characters', principal({ subject: '!!!***((( )))', issuerName: '###', ci: undefined }), GRANT_ID],
  [
    'a prefix that looks reserved',
    principal({ subject: 'aws:federated', issuerName: 'aws:', ci: undefined }),
    GRANT_ID,
  ],
  ['a hostile grant id', github, '../../grant/🚀 id with spaces and a length well past sixty-four characters'],
  ['a one-character grant id', github, 'x'],
  ['lone surrogates and control characters', principal({ subject: '\ud800\u0000\n\t\u202e', ci: undefined }), GRANT_ID],
];

describe('sessionIdentity', () => {
  it('is readable: issuer, repository and grant id', () => {
    const names = sessionIdentity(github, GRANT_ID);

    expect(names).toEqual({
      roleSessionName: `gh-octo-org.octo-repo-${GRANT_ID}`,
      // Cut to STS's 64 characters; the grant id is never what gets cut.
      sourceIdentity: `gh-repo.octo-org.octo-repo.environmen-${GRANT_ID}`,
    });
    expect(names.sourceIdentity).toHaveLength(64);
    expect(roleSessionName(github, GRANT_ID)).toBe(names.roleSessionName);
  });

  it('labels GitLab and plain OIDC principals by their issuer', () => {
    expect(roleSessionName(principal({ ci: { provider: 'gitlab', repository: 'group/proj' } }), GRANT_ID)).toBe(
      `gl-group.proj-${GRANT_ID}`,
    );
    expect(
      roleSessionName(principal({ issuerName: 'corp-okta', subject: 'alice@example.com', ci: undefined }), GRANT_ID),
    ).toBe(`corp-okta-alice@example.com-${GRANT_ID}`);
  });

  it('folds accents rather than dropping letters', () => {
    expect(roleSessionName(principal({ ci: { provider: 'github-actions', repository: 'café/crème' } }), GRANT_ID)).toBe(
      `gh-cafe.creme-${GRANT_ID}`,
    );
  });

  it('is deterministic', () => {
    expect(sessionIdentity(github, GRANT_ID)).toEqual(sessionIdentity(structuredClone(github), GRANT_ID));
  });

  it.each(hostile)('stays within STS rules for %s', (_name, who, grantId) => {
    const { roleSessionName: name, sourceIdentity } = sessionIdentity(who, grantId);

    expect(name).toMatch(/^[\w+=,.@-]{2,64}$/);
    expect(sourceIdentity).toMatch(/^[\w+=,.@-]{2,64}$/);
    expect(isValidRoleSessionName(name)).toBe(true);
    expect(isValidSourceIdentity(sourceIdentity)).toBe(true);
    expect(sourceIdentity.toLowerCase().startsWith('aws:')).toBe(false);
  });

  it('keeps the whole grant id when it is a ULID, even behind a very long repository', () => {
    const who = principal({ ci: { provider: 'github-actions', repository: `org/${'r'.repeat(300)}` } });

    const { roleSessionName: name, sourceIdentity } = sessionIdentity(who, GRANT_ID);

    expect(name.endsWith(`-${GRANT_ID}`)).toBe(true);
    expect(sourceIdentity.endsWith(`-${GRANT_ID}`)).toBe(true);
    expect(name).toHaveLength(64);
  });

  it('gives distinct names to distinct grants of the same principal, even with hostile grant ids', () => {
    const ids = [
      GRANT_ID,
      `${GRANT_ID.slice(0, -1)}9`,
      'a/b',
      'a_b',
      'a b',
      `${'z'.repeat(200)}1`,
      `${'z'.repeat(200)}2`,
    ];

    const names = ids.map((id) => roleSessionName(github, id));
    const sources = ids.map((id) => sessionIdentity(github, id).sourceIdentity);

    expect(new Set(names).size).toBe(ids.length);
    expect(new Set(sources).size).toBe(ids.length);
  });

  it('refuses an empty grant id', () => {
    expect(() => sessionIdentity(github, '')).toThrow(SessionNameError);
    expect(() => sessionTags({ principal: github, grantId: '', cluster: 'prod' })).toThrow(SessionNameError);
  });
});

describe('isValidSourceIdentity', () => {
  it('rejects the reserved aws: prefix, bad characters and bad lengths', () => {
    expect(isValidSourceIdentity('aws:x')).toBe(false);
    expect(isValidSourceIdentity('a')).toBe(false);
    expect(isValidSourceIdentity('a'.repeat(65))).toBe(false);
    expect(isValidSourceIdentity('a/b')).toBe(false);
    expect(isValidSourceIdentity('gh-ok')).toBe(true);
  });
});

describe('sessionTags', () => {
  it('tags grant id, cluster and subject', () => {
    expect(sessionTags({ principal: github, grantId: GRANT_ID, cluster: 'prod-eu' })).toEqual([
      { key: 'gatehouse:grant-id', value: GRANT_ID },
      { key: 'gatehouse:cluster', value: 'prod-eu' },
      { key: 'gatehouse:subject', value: 'github:repo:octo-org/octo-repo:environment:prod' },
    ]);
  });

  it('keeps unicode letters, which STS tags allow, and replaces what they do not', () => {
    const tags = sessionTags({
      principal: principal({ id: 'idp:Zoë 日本 <script>#1' }),
      grantId: GRANT_ID,
      cluster: 'c',
    });

    expect(tags[2]?.value).toBe('idp:Zoë 日本 _script__1');
  });

  it.each(hostile)('fits STS tag rules for %s', (_name, who, grantId) => {
    const tags = sessionTags({ principal: who, grantId, cluster: 'cluster/with spaces/ünï\u0000' });

    for (const { key, value } of tags) {
      expect(key.length).toBeLessThanOrEqual(STS_TAG_KEY_MAX);
      expect(key).toMatch(STS_TAG_PATTERN);
      expect(value.length).toBeLessThanOrEqual(STS_TAG_VALUE_MAX);
      expect(value).toMatch(STS_TAG_PATTERN);
    }
  });

  it('keeps long subjects that differ only at the end distinct', () => {
    const a = sessionTags({ principal: principal({ id: `${'s'.repeat(400)}a` }), grantId: GRANT_ID, cluster: 'c' });
    const b = sessionTags({ principal: principal({ id: `${'s'.repeat(400)}b` }), grantId: GRANT_ID, cluster: 'c' });

    expect(a[2]?.value).toHaveLength(STS_TAG_VALUE_MAX);
    expect(a[2]?.value).not.toBe(b[2]?.value);
  });
});

describe('deriveSessionName', () => {
  it('is the RoleSessionName', () => {
    expect(deriveSessionName(github, GRANT_ID)).toBe(`gh-octo-org.octo-repo-${GRANT_ID}`);
  });
});
