import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { AccessRequestInput, Principal } from '../../shared/model.ts';
import { PolicyLoadError, loadPolicyEngine } from '../../shared/policy/policy-engine.ts';
import type { PolicyFile, PolicyLoadIssue } from '../../shared/policy/policy-engine.ts';
import { GATEHOUSE_SCHEMA_NAME, loadGatehouseSchema } from '../../shared/policy/schema.ts';

const EXAMPLE_POLICIES: PolicyFile = {
  name: 'policies/access.cedar',
  text: readFileSync(new URL('../../policies/access.cedar', import.meta.url), 'utf8'),
};

const githubMain: Principal = {
  id: 'github-actions:repo:acme/patient-portal:ref:refs/heads/main',
  issuer: 'https://token.actions.githubusercontent.com',
  issuerName: 'github-actions',
  subject: 'repo:acme/patient-portal:ref:refs/heads/main',
  groups: [],
  ci: {
    provider: 'github-actions',
    repository: 'acme/patient-portal',
    ref: 'refs/heads/main',
    workflow: 'deploy',
    runId: '42',
    actor: 'octocat',
  },
};

const gitlabClaims: Principal = {
  id: 'gitlab:project_path:acme/claims:ref_type:branch:ref:main',
  issuer: 'https://gitlab.com',
  issuerName: 'gitlab',
  subject: 'project_path:acme/claims:ref_type:branch:ref:main',
  groups: ['acme'],
  ci: { provider: 'gitlab', repository: 'acme/claims', ref: 'main', pipelineId: '7', userLogin: 'dev' },
};

const localDemo: Principal = {
  id: 'local:ci:demo',
  issuer: 'http://127.0.0.1:8787/oidc',
  issuerName: 'local',
  subject: 'ci:demo',
  groups: ['ci'],
};

/** A person from a corporate IdP: no CI claims. */
const person: Principal = {
  id: 'okta:00u1',
  issuer: 'https://acme.okta.com',
  issuerName: 'okta',
  subject: '00u1',
  groups: ['ops'],
  email: 'pat@acme.example',
};

function request(overrides: Partial<AccessRequestInput> = {}): AccessRequestInput {
  return {
    cluster: 'staging',
    namespaces: ['patient-portal'],
    access: 'edit',
    durationSeconds: 900,
    purpose: 'deploy release 1.2.3',
    via: 'direct',
    ...overrides,
  };
}

function engineOf(...texts: string[]) {
  return loadPolicyEngine({ files: texts.map((text, index) => ({ name: `p${index}.cedar`, text })) });
}

function loadIssues(files: PolicyFile[]): PolicyLoadIssue[] {
  try {
    loadPolicyEngine({ files });
  } catch (error) {
    expect(error).toBeInstanceOf(PolicyLoadError);
    return (error as PolicyLoadError).issues;
  }
  throw new Error('expected loadPolicyEngine to throw PolicyLoadError');
}

const REQUEST_ACCESS = 'action == Gatehouse::Action::"RequestAccess"';

describe('Gatehouse Cedar schema', () => {
  it('parses and is cached under its name', () => {
    expect(loadGatehouseSchema()).toBe(GATEHOUSE_SCHEMA_NAME);
  });
});

describe('loadPolicyEngine: refusing bad policy files', () => {
  it('reports a syntax error with the file name, line and column', () => {
    const issues = loadIssues([
      { name: 'good.cedar', text: `permit (principal, ${REQUEST_ACCESS}, resource);\n` },
      { name: 'broken.cedar', text: '// a comment\npermit (principal, action, resource)\nwhen { ) };\n' },
    ]);

    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ file: 'broken.cedar', line: 3, column: 8 });
    expect(issues[0]?.message).toContain('unexpected token `)`');
  });

  it('refuses an unknown attribute as a validation error naming the file, position and policy', () => {
    const text = [
      `@id("reads-team")`,
      `permit (principal, ${REQUEST_ACCESS}, resource)`,
      `when { principal.team == "payments" };`,
    ].join('\n');

    const issues = loadIssues([{ name: 'policies/team.cedar', text }]);

    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ file: 'policies/team.cedar', line: 3, column: 8, policyId: 'reads-team' });
    expect(issues[0]?.message).toContain('attribute `team` on entity type `Gatehouse::Principal` not found');
  });

  it('lists every error of every file in one PolicyLoadError, in file order', () => {
    const issues = loadIssues([
      { name: 'a.cedar', text: `permit (principal, ${REQUEST_ACCESS}, resource) when { context.colour == "red" };` },
      { name: 'b.cedar', text: `permit (principal, ${REQUEST_ACCESS}, resource) when { resource.owner == "x" };` },
      { name: 'c.cedar', text: 'permit (principal, action, resource' },
    ]);

    expect(issues.map((issue) => issue.file)).toEqual(['a.cedar', 'b.cedar', 'c.cedar']);
    expect(issues[0]?.message).toContain('colour');
    expect(issues[1]?.message).toContain('owner');
  });

  it('puts every issue in the error message, with file:line:column', () => {
    expect(() =>
      loadPolicyEngine({
        files: [
          { name: 'x.cedar', text: `\n\npermit (principal, ${REQUEST_ACCESS}, resource) when { context.nope };` },
        ],
      }),
    ).toThrow(/x\.cedar:3:\d+ \[x\.cedar#0\]: attribute `nope` in context/);
  });

  it('counts columns in characters, not bytes, after non-ASCII text on the same line', () => {
    const line2 = 'permit (principal, action, resource) when { "Zürich — café" == ) };';
    const issues = loadIssues([{ name: 'utf8.cedar', text: `// Größe\n${line2}` }]);

    expect(issues[0]).toMatchObject({ file: 'utf8.cedar', line: 2, column: line2.indexOf('== )') + 4 });
  });

  it('refuses a policy that is valid Cedar but never type-checks against the request action (strict mode)', () => {
    const issues = loadIssues([
      {
        name: 's.cedar',
        text: `permit (principal, ${REQUEST_ACCESS}, resource) when { context.durationSeconds == "1h" };`,
      },
    ]);

    expect(issues).toHaveLength(1);
    expect(issues[0]?.file).toBe('s.cedar');
  });

  it('refuses duplicate @id annotations, across files and within one', () => {
    const policy = (id: string) => `@id("${id}")\npermit (principal, ${REQUEST_ACCESS}, resource);\n`;

    const issues = loadIssues([
      { name: 'one.cedar', text: policy('shared') + policy('twice') + policy('twice') },
      { name: 'two.cedar', text: policy('shared') },
    ]);

    expect(issues).toEqual([
      expect.objectContaining({
        file: 'one.cedar',
        line: 5,
        policyId: 'twice',
        message: expect.stringContaining('duplicate'),
      }),
      expect.objectContaining({
        file: 'two.cedar',
        line: 1,
        policyId: 'shared',
        message: 'duplicate policy id "shared" (first used in one.cedar)',
      }),
    ]);
  });

  it('refuses @approval on a forbid, an empty @approval and an empty @id', () => {
    const issues = loadIssues([
      {
        name: 'a.cedar',
        text: [
          `@approval("ops") forbid (principal, ${REQUEST_ACCESS}, resource);`,
          `@approval(" ") permit (principal, ${REQUEST_ACCESS}, resource);`,
          `@id("") permit (principal, ${REQUEST_ACCESS}, resource);`,
        ].join('\n'),
      },
    ]);

    expect(issues.map((issue) => [issue.line, issue.message])).toEqual([
      [1, '@approval applies only to permit policies'],
      [2, '@approval must name an approver group'],
      [3, 'policy #2: @id must not be empty'],
    ]);
  });

  it('refuses policy templates', () => {
    const issues = loadIssues([
      { name: 't.cedar', text: `permit (principal == ?principal, ${REQUEST_ACCESS}, resource);` },
    ]);

    expect(issues).toEqual([
      expect.objectContaining({ file: 't.cedar', message: expect.stringContaining('templates') }),
    ]);
  });
});

describe('loadPolicyEngine: ids and version', () => {
  it('loads despite Cedar validator warnings and reports them with their position', () => {
    // A homoglyph (Cyrillic е and о) and a right-to-left override: the "Trojan Source" tricks Cedar's validator flags.
    const text = `@id("w") permit (principal, ${REQUEST_ACCESS}, resource) when { resource.name == "d\u0435m\u043e" && context.purpose == "a\u202eb" };`;

    const engine = loadPolicyEngine({ files: [{ name: 'w.cedar', text }] });

    expect(engine.warnings).toEqual([
      expect.objectContaining({
        file: 'w.cedar',
        line: 1,
        policyId: 'w',
        message: expect.stringContaining('mixed scripts'),
      }),
      expect.objectContaining({ file: 'w.cedar', line: 1, policyId: 'w', message: expect.stringContaining('BIDI') }),
    ]);
  });

  it('names a policy by its @id, else by <file name>#<index>', () => {
    const engine = loadPolicyEngine({
      files: [
        {
          name: 'policies/base.cedar',
          text: [
            `permit (principal, ${REQUEST_ACCESS}, resource);`,
            `@id("named") permit (principal, ${REQUEST_ACCESS}, resource);`,
            `forbid (principal, ${REQUEST_ACCESS}, resource) when { context.access == "admin" };`,
          ].join('\n'),
        },
      ],
    });

    expect(engine.policyIds).toEqual(['policies/base.cedar#0', 'named', 'policies/base.cedar#2']);
  });

  it('has a short version that is stable for the same files and changes with their content or names', () => {
    const text = `permit (principal, ${REQUEST_ACCESS}, resource);`;
    const version = (files: PolicyFile[]) => loadPolicyEngine({ files }).version;

    const base = version([{ name: 'a.cedar', text }]);

    expect(base).toMatch(/^[0-9a-f]{12}$/);
    expect(version([{ name: 'a.cedar', text }])).toBe(base);
    expect(version([{ name: 'a.cedar', text: `${text}\n// changed` }])).not.toBe(base);
    expect(version([{ name: 'b.cedar', text }])).not.toBe(base);
  });

  it('keeps two engines with different policies independent', () => {
    const permitting = engineOf(`permit (principal, ${REQUEST_ACCESS}, resource);`);
    const empty = engineOf('');

    expect(permitting.decideAccess(person, request()).effect).toBe('permit');
    expect(empty.decideAccess(person, request()).effect).toBe('forbid');
    expect(permitting.decideAccess(person, request()).effect).toBe('permit');
  });
});

describe('PolicyEngine.decideAccess', () => {
  it('permits and returns the determining policies', () => {
    const engine = engineOf(
      `@id("ops-edit") permit (principal in Gatehouse::Group::"ops", ${REQUEST_ACCESS}, resource in Gatehouse::Cluster::"staging") when { context.access == "edit" };`,
      `@id("email-domain") permit (principal, ${REQUEST_ACCESS}, resource) when { principal has email && principal.email like "*@acme.example" };`,
      `@id("never") permit (principal, ${REQUEST_ACCESS}, resource) when { context.access == "admin" };`,
    );

    const decision = engine.decideAccess(person, request());

    expect(decision).toEqual({
      effect: 'permit',
      policies: ['ops-edit', 'email-domain'],
      approvalGroups: [],
      reason: 'permitted by policies ops-edit, email-domain',
    });
  });

  it('lets a forbid override a permit and names the forbidding policy', () => {
    const engine = engineOf(
      `@id("all") permit (principal, ${REQUEST_ACCESS}, resource);`,
      `@id("no-secrets-ns") forbid (principal, ${REQUEST_ACCESS}, resource) when { resource.name == "secrets" };`,
    );

    const decision = engine.decideAccess(person, request({ namespaces: ['secrets'] }));

    expect(decision).toEqual({
      effect: 'forbid',
      policies: ['no-secrets-ns'],
      approvalGroups: [],
      reason: 'namespace staging/secrets is forbidden by policy no-secrets-ns',
    });
  });

  it('forbids when no policy permits, saying so', () => {
    const engine = engineOf(
      `@id("prod-only") permit (principal, ${REQUEST_ACCESS}, resource in Gatehouse::Cluster::"prod");`,
    );

    const decision = engine.decideAccess(person, request({ cluster: 'staging', namespaces: ['web'] }));

    expect(decision).toEqual({
      effect: 'forbid',
      policies: [],
      approvalGroups: [],
      reason: 'no policy permits edit access to namespace staging/web',
    });
  });

  it('scopes a namespace to its cluster: the same name in another cluster is a different resource', () => {
    const engine = engineOf(`permit (principal, ${REQUEST_ACCESS}, resource == Gatehouse::Namespace::"staging/web");`);

    expect(engine.decideAccess(person, request({ cluster: 'staging', namespaces: ['web'] })).effect).toBe('permit');
    expect(engine.decideAccess(person, request({ cluster: 'prod', namespaces: ['web'] })).effect).toBe('forbid');
  });

  it('turns a permit annotated @approval into an approval by that group', () => {
    const engine = engineOf(
      `@id("prod-edit") @approval("prod-approvers") permit (principal, ${REQUEST_ACCESS}, resource in Gatehouse::Cluster::"prod") when { context.hasTicket };`,
    );

    const decision = engine.decideAccess(person, request({ cluster: 'prod', ticket: 'CHG-1' }));

    expect(decision).toEqual({
      effect: 'approval',
      policies: ['prod-edit'],
      approvalGroups: ['prod-approvers'],
      reason: 'permitted once approved by prod-approvers (policy prod-edit)',
    });
  });

  it('passes an empty ticket and hasTicket false when the request has none', () => {
    const engine = engineOf(
      `permit (principal, ${REQUEST_ACCESS}, resource) when { !context.hasTicket && context.ticket == "" };`,
    );

    expect(engine.decideAccess(person, request()).effect).toBe('permit');
    expect(engine.decideAccess(person, request({ ticket: 'CHG-1' })).effect).toBe('forbid');
  });

  it('needs approval when any namespace is permitted only by an @approval policy (the stricter outcome)', () => {
    const engine = engineOf(
      `@id("web") permit (principal, ${REQUEST_ACCESS}, resource) when { resource.name == "web" };`,
      `@id("db") @approval("dba") permit (principal, ${REQUEST_ACCESS}, resource) when { resource.name == "db" };`,
    );

    const decision = engine.decideAccess(person, request({ namespaces: ['web', 'db'] }));

    expect(decision).toMatchObject({ effect: 'approval', policies: ['web', 'db'], approvalGroups: ['dba'] });
  });

  it('needs approval when an @approval policy and a plain permit both determine the same namespace', () => {
    const engine = engineOf(
      `@id("plain") permit (principal, ${REQUEST_ACCESS}, resource);`,
      `@id("careful") @approval("ops-leads") permit (principal, ${REQUEST_ACCESS}, resource) when { context.access == "edit" };`,
    );

    expect(engine.decideAccess(person, request({ access: 'edit' }))).toMatchObject({
      effect: 'approval',
      approvalGroups: ['ops-leads'],
    });
    expect(engine.decideAccess(person, request({ access: 'view' }))).toMatchObject({ effect: 'permit' });
  });

  it('forbids a multi-namespace request when one namespace is not permitted, naming that namespace', () => {
    const engine = engineOf(
      `@id("web") permit (principal, ${REQUEST_ACCESS}, resource) when { resource.name like "web*" };`,
    );

    const decision = engine.decideAccess(person, request({ namespaces: ['web', 'web-jobs', 'billing'] }));

    expect(decision).toEqual({
      effect: 'forbid',
      policies: [],
      approvalGroups: [],
      reason: 'no policy permits edit access to namespace staging/billing',
    });
  });

  it('names every denied namespace and every forbidding policy', () => {
    const engine = engineOf(
      `@id("all") permit (principal, ${REQUEST_ACCESS}, resource) when { resource.name != "other" };`,
      `@id("no-kube-system") forbid (principal, ${REQUEST_ACCESS}, resource) when { resource.name == "kube-system" };`,
    );

    const decision = engine.decideAccess(person, request({ namespaces: ['web', 'kube-system', 'other'] }));

    expect(decision.effect).toBe('forbid');
    expect(decision.policies).toEqual(['no-kube-system']);
    expect(decision.reason).toBe(
      'namespace staging/kube-system is forbidden by policy no-kube-system; ' +
        'no policy permits edit access to namespace staging/other',
    );
  });

  it('forbids (fails closed) when a policy errors at evaluation, even if another permits', () => {
    // Strict validation cannot rule out arithmetic overflow; Cedar skips an erroring policy, Gatehouse denies.
    const engine = engineOf(
      `@id("all") permit (principal, ${REQUEST_ACCESS}, resource);`,
      `@id("overflows") forbid (principal, ${REQUEST_ACCESS}, resource) when { context.durationSeconds * 10000 > 1000000 };`,
    );

    const decision = engine.decideAccess(person, request({ durationSeconds: Number.MAX_SAFE_INTEGER }));

    expect(decision.effect).toBe('forbid');
    expect(decision.policies).toEqual(['overflows']);
    expect(decision.reason).toMatch(
      /^policy evaluation failed for namespace staging\/patient-portal: policy overflows: /,
    );
    expect(decision.reason).toContain('overflow');
  });

  it('forbids (fails closed) when the principal does not conform to the schema', () => {
    const engine = engineOf(`permit (principal, ${REQUEST_ACCESS}, resource);`);
    const malformed = { ...person, email: 42 } as unknown as Principal;

    const decision = engine.decideAccess(malformed, request());

    expect(decision.effect).toBe('forbid');
    expect(decision.reason).toContain('policy evaluation failed for namespace staging/patient-portal');
    expect(decision.reason).toContain('does not conform to the schema');
  });

  it('forbids a request with no namespaces, which would otherwise be vacuously permitted', () => {
    const engine = engineOf(`permit (principal, ${REQUEST_ACCESS}, resource);`);

    expect(engine.decideAccess(person, request({ namespaces: [] }))).toEqual({
      effect: 'forbid',
      policies: [],
      approvalGroups: [],
      reason: 'no namespaces were requested',
    });
  });

  it('forbids a duration that is not a whole number of seconds', () => {
    const engine = engineOf(`permit (principal, ${REQUEST_ACCESS}, resource);`);

    expect(engine.decideAccess(person, request({ durationSeconds: 90.5 }))).toMatchObject({
      effect: 'forbid',
      reason: 'durationSeconds must be a whole number of seconds',
    });
  });

  it('gives policies the principal attributes, its groups as parents, an empty ci record without CI claims, and the context', () => {
    const engine = engineOf(
      `permit (principal in Gatehouse::Group::"ops", ${REQUEST_ACCESS}, resource)
       when {
         principal == Gatehouse::Principal::"okta:00u1" &&
         principal.subject == "00u1" && principal.issuer == "https://acme.okta.com" && principal.issuerName == "okta" &&
         !(principal.ci has provider) &&
         resource.cluster == "staging" && resource.name == "patient-portal" &&
         context.access == "view" && context.durationSeconds == 600 && context.purpose == "look" && context.via == "relay"
       };`,
    );
    const asked = request({ access: 'view', durationSeconds: 600, purpose: 'look', via: 'relay' });

    expect(engine.decideAccess(person, asked).effect).toBe('permit');
    expect(engine.decideAccess({ ...person, groups: [] }, asked).effect).toBe('forbid');
    expect(engine.decideAccess(person, { ...asked, via: 'direct' }).effect).toBe('forbid');
  });

  it('never quotes the purpose or ticket in the reason', () => {
    const engine = engineOf(`@id("x") forbid (principal, ${REQUEST_ACCESS}, resource);`);

    const decision = engine.decideAccess(person, request({ purpose: 'patient Jane Doe', ticket: 'MRN-123' }));

    expect(decision.reason).not.toMatch(/Jane|MRN/);
  });
});

describe('policies/access.cedar (the example policy set)', () => {
  const engine = loadPolicyEngine({ files: [EXAMPLE_POLICIES] });

  it('validates against the schema with no warnings and names every policy', () => {
    expect(engine.warnings).toEqual([]);
    expect(engine.policyIds).toEqual([
      'staging-patient-portal-ci',
      'staging-claims-gitlab-view',
      'prod-patient-portal-view',
      'prod-patient-portal-edit',
      'no-admin-for-ci',
      'no-kube-system',
      'local-demo',
      'local-demo-payments-approval',
    ]);
  });

  it('permits patient-portal main edit on both staging namespaces for up to an hour', () => {
    const asked = request({ namespaces: ['patient-portal', 'patient-portal-jobs'], durationSeconds: 3600 });

    expect(engine.decideAccess(githubMain, asked)).toMatchObject({
      effect: 'permit',
      policies: ['staging-patient-portal-ci'],
    });
    expect(engine.decideAccess(githubMain, { ...asked, durationSeconds: 3601 }).effect).toBe('forbid');
  });

  it('refuses patient-portal staging access from another branch or repository', () => {
    const branch = { ...githubMain, ci: { ...githubMain.ci!, ref: 'refs/heads/feature' } };
    const otherRepo = { ...githubMain, ci: { ...githubMain.ci!, repository: 'acme/other' } };

    expect(engine.decideAccess(branch, request()).effect).toBe('forbid');
    expect(engine.decideAccess(otherRepo, request()).effect).toBe('forbid');
  });

  it('permits prod patient-portal view at once when a purpose is given', () => {
    const asked = request({ cluster: 'prod', access: 'view', durationSeconds: 1800 });

    expect(engine.decideAccess(githubMain, asked)).toMatchObject({
      effect: 'permit',
      policies: ['prod-patient-portal-view'],
    });
    expect(engine.decideAccess(githubMain, { ...asked, purpose: '' }).effect).toBe('forbid');
  });

  it('sends prod patient-portal edit with a ticket to prod-approvers', () => {
    const asked = request({ cluster: 'prod', access: 'edit', ticket: 'CHG-1042' });

    expect(engine.decideAccess(githubMain, asked)).toMatchObject({
      effect: 'approval',
      policies: ['prod-patient-portal-edit'],
      approvalGroups: ['prod-approvers'],
    });
    expect(engine.decideAccess(githubMain, { ...asked, ticket: undefined }).effect).toBe('forbid');
  });

  it('forbids admin to CI principals', () => {
    const decision = engine.decideAccess(githubMain, request({ cluster: 'prod', access: 'admin', ticket: 'CHG-1' }));

    expect(decision).toMatchObject({ effect: 'forbid', policies: ['no-admin-for-ci'] });
  });

  it('forbids kube-system on every cluster, even alongside a permitted namespace', () => {
    const decision = engine.decideAccess(githubMain, request({ namespaces: ['patient-portal', 'kube-system'] }));

    expect(decision).toMatchObject({ effect: 'forbid', policies: ['no-kube-system'] });
    expect(decision.reason).toBe('namespace staging/kube-system is forbidden by policy no-kube-system');
    expect(engine.decideAccess(localDemo, request({ cluster: 'local', namespaces: ['kube-system'] })).effect).toBe(
      'forbid',
    );
  });

  it('permits the GitLab claims project to view staging claims, and nothing more', () => {
    const view = request({ namespaces: ['claims'], access: 'view' });

    expect(engine.decideAccess(gitlabClaims, view)).toMatchObject({
      effect: 'permit',
      policies: ['staging-claims-gitlab-view'],
    });
    expect(engine.decideAccess(gitlabClaims, { ...view, access: 'edit' }).effect).toBe('forbid');
    expect(engine.decideAccess(gitlabClaims, { ...view, cluster: 'prod' }).effect).toBe('forbid');
  });

  it('permits the local demo identity on the local cluster, by subject or by the ci group', () => {
    const asked = request({ cluster: 'local', namespaces: ['default', 'demo'], access: 'edit' });
    const otherSubjectInCiGroup = { ...localDemo, id: 'local:someone', subject: 'someone' };
    const demoWithoutGroups = { ...localDemo, groups: [] };
    const stranger = { ...localDemo, id: 'local:someone', subject: 'someone', groups: [] };

    expect(engine.decideAccess(localDemo, asked)).toMatchObject({ effect: 'permit', policies: ['local-demo'] });
    expect(engine.decideAccess(otherSubjectInCiGroup, asked).effect).toBe('permit');
    expect(engine.decideAccess(demoWithoutGroups, asked).effect).toBe('permit');
    expect(engine.decideAccess(stranger, asked).effect).toBe('forbid');
    expect(engine.decideAccess(localDemo, { ...asked, cluster: 'prod' }).effect).toBe('forbid');
    expect(engine.decideAccess(localDemo, { ...asked, access: 'admin' }).effect).toBe('forbid');
  });

  it('sends the local demo identity to the local approvers for payments', () => {
    const payments = request({ cluster: 'local', namespaces: ['payments'], access: 'view' });

    expect(engine.decideAccess(localDemo, payments)).toMatchObject({
      effect: 'approval',
      approvalGroups: ['local-approvers'],
      policies: ['local-demo-payments-approval'],
    });
  });
});
