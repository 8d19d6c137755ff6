import * as z from 'zod';
import { MaskingConfigSchema } from '../masking/rules.ts';

/** An HTTPS URL, or http on loopback for the local runtime and tests. */
const issuerUrl = z
  .string()
  .url()
  .refine((value) => {
    const url = new URL(value);
    return url.protocol === 'https:' || ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  }, 'must be an https URL (http is allowed only on loopback)');

const claimName = z.string().min(1);

export const IssuerConfigSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and dashes'),
    issuer: issuerUrl,
    audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
    /** Which CI claims to read: github-actions, gitlab, or generic (subject and groups only). */
    kind: z.enum(['github-actions', 'gitlab', 'generic']).default('generic'),
    /** Defaults to the issuer's discovery document's jwks_uri. */
    jwksUri: issuerUrl.optional(),
    claims: z
      .object({
        subject: claimName.default('sub'),
        groups: claimName.default('groups'),
        email: claimName.default('email'),
      })
      .strict()
      .default({ subject: 'sub', groups: 'groups', email: 'email' }),
    /** Accepted clock skew in seconds for exp, nbf and iat. */
    clockSkewSeconds: z.number().int().min(0).max(300).default(60),
  })
  .strict();

const accessPolicyArn = z
  .string()
  .regex(/^arn:aws[a-z-]*:eks::aws:cluster-access-policy\/[A-Za-z0-9]+$/, 'an EKS cluster access policy ARN');

export const ClusterConfigSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}$/, 'lowercase letters, digits and dashes, at most 40'),
    /** The EKS cluster's own name, when it differs from the Gatehouse name. */
    eksClusterName: z.string().min(1).max(100).optional(),
    region: z.string().regex(/^[a-z]{2}(-gov)?-[a-z]+-\d$/, 'an AWS region such as us-east-1'),
    account: z.string().regex(/^\d{12}$/, 'a 12-digit AWS account id'),
    slotPoolSize: z.number().int().min(1).max(50).default(4),
    maxDurationSeconds: z.number().int().min(300).max(43_200).default(3600),
    accessLevels: z
      .record(z.string().regex(/^[a-z][a-z0-9-]{0,30}$/), accessPolicyArn)
      .refine((levels) => Object.keys(levels).length > 0, 'at least one access level'),
  })
  .strict();

/** A person who may approve, with every identity they may act or be recognised under (for self-approval checks). */
export const ApproverSchema = z
  .object({
    /** Stable id recorded in approval events, e.g. "alice". */
    id: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'lowercase letters, digits, dots, dashes and underscores'),
    name: z.string().min(1).max(100).optional(),
    email: z.string().email().optional(),
    slackUserId: z
      .string()
      .regex(/^[UW][A-Z0-9]{2,20}$/, 'a Slack user id such as U012AB3CD')
      .optional(),
    /** CI logins that are this person: a job they triggered is theirs, so they may not approve it. */
    githubLogin: z.string().min(1).max(39).optional(),
    gitlabLogin: z.string().min(1).max(255).optional(),
    /** Gatehouse principal ids (`<issuer name>:<subject>`) that are this person. */
    principals: z.array(z.string().min(3)).default([]),
  })
  .strict();

export const ApproverGroupSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and dashes'),
    /** Approver ids (from `approvers.people`) in this group. */
    members: z.array(z.string().min(1)).min(1),
    /** How many members must approve (N of M). */
    quorum: z.number().int().min(1).default(1),
    /** How long a request waits for this group before it expires. */
    timeoutSeconds: z.number().int().min(60).max(86_400).default(3600),
    /** Slack channel id for the Block Kit message; omitted → no Slack message. */
    slackChannel: z
      .string()
      .regex(/^[CG][A-Z0-9]{2,20}$/, 'a Slack channel id such as C012AB3CD')
      .optional(),
    /** Email each member that has an address a signed approval link. */
    email: z.boolean().default(false),
  })
  .strict();

/** The members of a role (admins, auditors): principal ids (`<issuer>:<sub>`) or IdP groups. */
const RoleMembersSchema = z
  .object({
    principals: z.array(z.string().min(3)).default([]),
    groups: z.array(z.string().min(1)).default([]),
  })
  .strict()
  .default({ principals: [], groups: [] });

const accessLevelName = z.string().regex(/^[a-z][a-z0-9-]{0,30}$/);

/** The relay: what its credentials allow, what it refuses, and where it is deployed. */
export const RelayConfigSchema = z
  .object({
    /** How long a relay credential lives (never past its grant); `gatehouse token` renews it while the grant is active. */
    credentialTtlSeconds: z.number().int().min(60).max(900).default(900),
    /** How stale the relay's view of a grant may be: a revoked grant's credentials stop within this many seconds. */
    revocationCheckSeconds: z.number().int().min(1).max(5).default(2),
    /** A response larger than this is refused, not truncated (kubectl pages lists with --chunk-size). */
    maxResponseBytes: z
      .number()
      .int()
      .min(64 * 1024)
      .max(1024 * 1024 * 1024)
      .default(64 * 1024 * 1024),
    /** Kubernetes groups the relay impersonates per access level; a level not listed gets `gatehouse:<level>`. */
    accessGroups: z.record(accessLevelName, z.array(z.string().min(1).max(253)).min(1).max(20)).default({}),
    /** The relay's URL as kubectl reaches it (the internal NLB's DNS name or a private DNS record), for kubeconfigs. */
    url: z
      .string()
      .url()
      .refine((value) => new URL(value).protocol === 'https:', 'must be an https URL')
      .optional(),
    /** Deployment (`cdk deploy`): the VPC and private subnets the relay runs in, and the NLB's ACM certificate. */
    deployment: z
      .object({
        cluster: z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}$/, 'the Gatehouse name of the cluster the relay fronts'),
        vpcId: z.string().regex(/^vpc-[0-9a-f]{8,17}$/, 'a VPC id such as vpc-0abc1234'),
        privateSubnetIds: z.array(z.string().regex(/^subnet-[0-9a-f]{8,17}$/, 'a subnet id')).min(2),
        certificateArn: z.string().regex(/^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[0-9a-f-]{36}$/),
        /** CIDRs allowed to reach the relay's listener (the agents' subnets). */
        clientCidrs: z.array(z.string().regex(/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/, 'an IPv4 CIDR')).min(1),
        /**
         * The Secrets Manager secret whose value is the masking hash key (`masking.hashKey: { env: NAME }`): ECS puts it
         * in NAME for the relay. Required when masking rules hash.
         */
        hashKeySecretArn: z
          .string()
          .regex(/^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$/, 'a secret ARN')
          .optional(),
        minTasks: z.number().int().min(1).max(50).default(2),
        maxTasks: z.number().int().min(1).max(100).default(6),
        /**
         * vCPUs of each relay task (Fargate: 1, 2, 4 or 8), with 2 GiB of memory per vCPU. The relay runs one worker
         * process per vCPU (relay/workers.ts): more vCPUs serve more per task, more tasks serve more in all.
         */
        vCpus: z.union([z.literal(1), z.literal(2), z.literal(4), z.literal(8)]).default(1),
      })
      .strict()
      .optional(),
  })
  .strict()
  .prefault({});

export type RelayConfig = z.infer<typeof RelayConfigSchema>;

export const GatehouseConfigSchema = z
  .object({
    version: z.literal(1),
    issuers: z.array(IssuerConfigSchema).min(1),
    clusters: z.array(ClusterConfigSchema).min(1),
    policies: z
      .object({
        /** Cedar policy files, relative to the config file and inside its directory (they are bundled beside it). */
        files: z
          .array(
            z
              .string()
              .min(1)
              .refine(
                (name) => !name.startsWith('/') && !name.split(/[\\/]/).includes('..'),
                "must be a relative path inside the configuration file's directory",
              ),
          )
          .min(1),
      })
      .strict(),
    api: z
      .object({
        maxBodyBytes: z.number().int().min(256).max(65_536).default(8192),
        maxJwtBytes: z.number().int().min(512).max(16_384).default(8192),
        purposeMaxLength: z.number().int().min(10).max(2000).default(500),
      })
      .strict()
      .default({ maxBodyBytes: 8192, maxJwtBytes: 8192, purposeMaxLength: 500 }),
    approvers: z
      .object({
        people: z.array(ApproverSchema).default([]),
        groups: z.array(ApproverGroupSchema).default([]),
      })
      .strict()
      .default({ people: [], groups: [] }),
    /** How approvers are told: Slack (bot token and signing secret live in Secrets Manager) and email (SES). */
    notifications: z
      .object({
        /** The API's public base URL, for links in emails; defaults to the API stage URL. */
        publicApiUrl: z.string().url().optional(),
        slack: z
          .object({
            /** Slack's Web API base URL; only tests and the local runtime change it. */
            apiUrl: z.string().url().default('https://slack.com/api/'),
          })
          .strict()
          .optional(),
        email: z
          .object({
            /** The SES-verified sender, e.g. gatehouse@acme.org. */
            from: z.string().email(),
            configurationSet: z.string().min(1).max(64).optional(),
          })
          .strict()
          .optional(),
      })
      .strict()
      .default({}),
    /** Who may revoke any grant and read any request: principal ids (`<issuer>:<sub>`) or IdP groups. */
    admins: RoleMembersSchema,
    /** Who may query events and export evidence (GET /v1/events, /v1/evidence): principal ids or IdP groups. */
    auditors: RoleMembersSchema,
    /** What the relay masks in responses: detectors, rules and the hash key reference (README, "Masking rules"). */
    masking: MaskingConfigSchema.prefault({}),
    /** The in-VPC relay (agents that may see PHI): credentials, limits and where it runs (operator guide, "Relay"). */
    relay: RelayConfigSchema,
    retention: z
      .object({
        /** Object Lock COMPLIANCE retention of the audit archive: nobody, root included, can delete or shorten it. */
        auditDays: z.number().int().min(1).max(36_500).default(2192),
        /** Archived events move to S3 Glacier Instant Retrieval after this many days (still readable by `audit verify`). */
        coldStorageAfterDays: z.number().int().min(30).default(90),
      })
      .strict()
      .default({ auditDays: 2192, coldStorageAfterDays: 90 }),
  })
  .strict()
  .superRefine((config, ctx) => {
    const duplicates = (names: string[]) => names.filter((name, index) => names.indexOf(name) !== index);
    for (const name of duplicates(config.issuers.map((issuer) => issuer.name))) {
      ctx.addIssue({ code: 'custom', path: ['issuers'], message: `issuer name "${name}" is used twice` });
    }
    for (const url of duplicates(config.issuers.map((issuer) => issuer.issuer))) {
      ctx.addIssue({ code: 'custom', path: ['issuers'], message: `issuer URL "${url}" is configured twice` });
    }
    for (const name of duplicates(config.clusters.map((cluster) => cluster.name))) {
      ctx.addIssue({ code: 'custom', path: ['clusters'], message: `cluster name "${name}" is used twice` });
    }
    const people = new Set(config.approvers.people.map((person) => person.id));
    for (const id of duplicates(config.approvers.people.map((person) => person.id))) {
      ctx.addIssue({ code: 'custom', path: ['approvers', 'people'], message: `approver id "${id}" is used twice` });
    }
    for (const name of duplicates(config.approvers.groups.map((group) => group.name))) {
      ctx.addIssue({
        code: 'custom',
        path: ['approvers', 'groups'],
        message: `approver group "${name}" is defined twice`,
      });
    }
    config.approvers.groups.forEach((group, index) => {
      const path = ['approvers', 'groups', index];
      for (const member of group.members.filter((id) => !people.has(id))) {
        ctx.addIssue({ code: 'custom', path: [...path, 'members'], message: `"${member}" is not in approvers.people` });
      }
      if (group.quorum > group.members.length) {
        ctx.addIssue({
          code: 'custom',
          path: [...path, 'quorum'],
          message: `quorum ${group.quorum} is more than the group's ${group.members.length} member(s)`,
        });
      }
    });
  });

export type GatehouseConfig = z.infer<typeof GatehouseConfigSchema>;
export type IssuerConfig = z.infer<typeof IssuerConfigSchema>;
export type ClusterConfig = z.infer<typeof ClusterConfigSchema>;
export type ApproverConfig = z.infer<typeof ApproverSchema>;
export type ApproverGroupConfig = z.infer<typeof ApproverGroupSchema>;
