import { describe, expect, it } from 'vitest';
import { IssuerConfigSchema } from '../../shared/config/schema.ts';
import type { IssuerConfig } from '../../shared/config/schema.ts';
import { AuthenticationError } from '../../shared/identity/errors.ts';
import { MAX_GROUPS, mapClaimsToPrincipal, parseGroups } from '../../shared/identity/principal.ts';

const github: IssuerConfig = IssuerConfigSchema.parse({
  name: 'github',
  issuer: 'https://token.actions.githubusercontent.com',
  audience: 'https://gatehouse.example.com',
  kind: 'github-actions',
});

const gitlab: IssuerConfig = IssuerConfigSchema.parse({
  name: 'gitlab',
  issuer: 'https://gitlab.example.com',
  audience: 'https://gatehouse.example.com',
  kind: 'gitlab',
  claims: { groups: 'groups_direct', email: 'user_email' },
});

const corporate: IssuerConfig = IssuerConfigSchema.parse({
  name: 'corp',
  issuer: 'https://login.example.com/oauth2/default',
  audience: 'gatehouse',
});

/** A GitHub Actions OIDC token payload, shaped as GitHub documents and issues it. */
const githubPayload = {
  jti: '0b4b9d6a-5a4e-4f2a-9d6e-2f1d3f6e8c11',
  sub: 'repo:octo-org/octo-repo:environment:prod',
  aud: 'https://gatehouse.example.com',
  ref: 'refs/heads/main',
  sha: 'd6cd1e2bd19e03a81132a23b2025920577f84e37',
  repository: 'octo-org/octo-repo',
  repository_owner: 'octo-org',
  repository_owner_id: '65',
  repository_visibility: 'private',
  repository_id: '74',
  actor_id: '12',
  actor: 'octocat',
  run_id: '9876543210',
  run_number: '10',
  run_attempt: '2',
  runner_environment: 'github-hosted',
  workflow: 'deploy',
  head_ref: '',
  base_ref: '',
  event_name: 'workflow_dispatch',
  ref_type: 'branch',
  environment: 'prod',
  job_workflow_ref: 'octo-org/octo-repo/.github/workflows/deploy.yml@refs/heads/main',
  iss: 'https://token.actions.githubusercontent.com',
  nbf: 1_632_492_967,
  exp: 1_632_493_867,
  iat: 1_632_493_567,
};

/** A GitLab CI `id_tokens` payload, shaped as GitLab documents and issues it. */
const gitlabPayload = {
  namespace_id: '72',
  namespace_path: 'my-group',
  project_id: '20',
  project_path: 'my-group/my-project',
  user_id: '1',
  user_login: 'sample-user',
  user_email: 'sample-user@example.com',
  user_access_level: 'developer',
  pipeline_id: '574',
  pipeline_source: 'push',
  job_id: '302',
  ref: 'feature-branch-1',
  ref_type: 'branch',
  ref_path: 'refs/heads/feature-branch-1',
  ref_protected: 'false',
  groups_direct: ['my-group/platform', 'my-group/sre'],
  environment: 'test-environment2',
  environment_protected: 'false',
  deployment_tier: 'testing',
  runner_id: 1,
  runner_environment: 'self-hosted',
  sha: '714a629c0b401fdce83e847fc9589983fc6f46bc',
  project_visibility: 'internal',
  ci_config_ref_uri: 'gitlab.example.com/my-group/my-project//.gitlab-ci.yml@refs/heads/main',
  jti: '235b3a54-b797-45c7-ae9a-f72d7bc6ef5b',
  iss: 'https://gitlab.example.com',
  iat: 1_681_395_193,
  nbf: 1_681_395_188,
  exp: 1_681_398_793,
  sub: 'project_path:my-group/my-project:ref_type:branch:ref:feature-branch-1',
  aud: 'https://gatehouse.example.com',
};

describe('mapClaimsToPrincipal', () => {
  it('maps a GitHub Actions token to a principal with its CI claims', () => {
    const principal = mapClaimsToPrincipal(github, githubPayload);

    expect(principal).toEqual({
      id: 'github:repo:octo-org/octo-repo:environment:prod',
      issuer: 'https://token.actions.githubusercontent.com',
      issuerName: 'github',
      subject: 'repo:octo-org/octo-repo:environment:prod',
      groups: [],
      ci: {
        provider: 'github-actions',
        repository: 'octo-org/octo-repo',
        ref: 'refs/heads/main',
        workflow: 'deploy',
        environment: 'prod',
        runId: '9876543210',
        actor: 'octocat',
      },
    });
  });

  it('maps a GitLab token to a principal with project path as repository and its direct groups', () => {
    const principal = mapClaimsToPrincipal(gitlab, gitlabPayload);

    expect(principal).toEqual({
      id: 'gitlab:project_path:my-group/my-project:ref_type:branch:ref:feature-branch-1',
      issuer: 'https://gitlab.example.com',
      issuerName: 'gitlab',
      subject: 'project_path:my-group/my-project:ref_type:branch:ref:feature-branch-1',
      groups: ['my-group/platform', 'my-group/sre'],
      email: 'sample-user@example.com',
      ci: {
        provider: 'gitlab',
        repository: 'my-group/my-project',
        ref: 'feature-branch-1',
        environment: 'test-environment2',
        pipelineId: '574',
        userLogin: 'sample-user',
      },
    });
  });

  it('reads no CI claims for a generic issuer, even when the token carries them', () => {
    const principal = mapClaimsToPrincipal(corporate, { ...githubPayload, sub: 'alice', groups: ['sre'] });

    expect(principal.ci).toBeUndefined();
    expect(principal.id).toBe('corp:alice');
    expect(principal.groups).toEqual(['sre']);
  });

  it('reads the subject from the configured claim', () => {
    const issuer = IssuerConfigSchema.parse({ ...corporate, claims: { subject: 'preferred_username' } });

    const principal = mapClaimsToPrincipal(issuer, { sub: '00u1a2b3c4', preferred_username: 'alice' });

    expect(principal.subject).toBe('alice');
    expect(principal.id).toBe('corp:alice');
  });

  it.each([
    ['absent', {}],
    ['a number', { sub: 42 }],
    ['empty', { sub: '' }],
    ['blank', { sub: '   ' }],
    ['too long', { sub: 'x'.repeat(257) }],
    ['carrying a newline', { sub: 'alice\nadmin' }],
  ])('refuses a subject that is %s with missing_claim', (_, claims) => {
    const attempt = () => mapClaimsToPrincipal(corporate, claims);

    expect(attempt).toThrow(AuthenticationError);
    expect(attempt).toThrow(expect.objectContaining({ reason: 'missing_claim', claim: 'sub' }));
  });

  it('keeps a subject exactly as sent, so subjects differing only in spaces stay distinct', () => {
    expect(mapClaimsToPrincipal(corporate, { sub: 'alice ' }).id).toBe('corp:alice ');
  });

  it('reads own claims only, never inherited ones', () => {
    const claims = Object.create({ sub: 'mallory' }) as Record<string, unknown>;

    expect(() => mapClaimsToPrincipal(corporate, claims)).toThrow(expect.objectContaining({ reason: 'missing_claim' }));
  });

  it('ignores CI claims of the wrong type instead of failing', () => {
    const principal = mapClaimsToPrincipal(github, {
      ...githubPayload,
      repository: ['octo-org/octo-repo'],
      ref: { name: 'main' },
      workflow: null,
      environment: 7,
      run_id: 'not-a-number',
      actor: true,
    });

    expect(principal.ci).toEqual({ provider: 'github-actions' });
  });

  it('accepts a numeric run id given as an integer and refuses a fractional one', () => {
    expect(mapClaimsToPrincipal(github, { ...githubPayload, run_id: 123 }).ci?.runId).toBe('123');
    expect(mapClaimsToPrincipal(github, { ...githubPayload, run_id: 1.5 }).ci?.runId).toBeUndefined();
  });

  it('drops CI values longer than the bound rather than truncating them', () => {
    const principal = mapClaimsToPrincipal(gitlab, { ...gitlabPayload, project_path: `g/${'p'.repeat(300)}` });

    expect(principal.ci?.repository).toBeUndefined();
    expect(principal.ci?.ref).toBe('feature-branch-1');
  });

  it('drops CI values with control characters, which could forge log lines', () => {
    const principal = mapClaimsToPrincipal(github, { ...githubPayload, ref: 'refs/heads/main\r\nadmin: true' });

    expect(principal.ci?.ref).toBeUndefined();
  });

  it('omits an email the issuer marks unverified', () => {
    const principal = mapClaimsToPrincipal(corporate, {
      sub: 'alice',
      email: 'alice@example.com',
      email_verified: false,
    });

    expect(principal.email).toBeUndefined();
  });

  it('keeps a verified email and ignores one that is not an address', () => {
    expect(mapClaimsToPrincipal(corporate, { sub: 'a', email: 'alice@example.com', email_verified: true }).email).toBe(
      'alice@example.com',
    );
    expect(mapClaimsToPrincipal(corporate, { sub: 'a', email: 'alice' }).email).toBeUndefined();
    expect(mapClaimsToPrincipal(corporate, { sub: 'a', email: ['alice@example.com'] }).email).toBeUndefined();
  });
});

describe('parseGroups', () => {
  it('reads an array of strings', () => {
    expect(parseGroups(['ci', 'sre'])).toEqual(['ci', 'sre']);
  });

  it('splits a space- or comma-separated string', () => {
    expect(parseGroups('ci sre,platform ,  oncall')).toEqual(['ci', 'sre', 'platform', 'oncall']);
  });

  it('yields no groups when the claim is missing or of another type', () => {
    expect(parseGroups(undefined)).toEqual([]);
    expect(parseGroups(42)).toEqual([]);
    expect(parseGroups({ admin: true })).toEqual([]);
  });

  it('skips non-string, empty, oversized and duplicate members', () => {
    expect(parseGroups(['ci', 3, null, '', 'x'.repeat(257), 'ci', { g: 1 }, 'sre'])).toEqual(['ci', 'sre']);
  });

  it(`keeps at most ${MAX_GROUPS} groups`, () => {
    const many = Array.from({ length: MAX_GROUPS + 50 }, (_, index) => `group-${index}`);

    const groups = parseGroups(many);

    expect(groups).toHaveLength(MAX_GROUPS);
    expect(groups.at(-1)).toBe(`group-${MAX_GROUPS - 1}`);
  });

  it('maps the configured groups claim into the principal, missing meaning none', () => {
    expect(mapClaimsToPrincipal(corporate, { sub: 'a', groups: 'ci deployers' }).groups).toEqual(['ci', 'deployers']);
    expect(mapClaimsToPrincipal(corporate, { sub: 'a' }).groups).toEqual([]);
  });
});
