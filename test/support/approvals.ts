/**
 * The approval path over real HTTP: `startLocal` with approvers, a loopback server standing in for Slack's Web API
 * (the local runtime's @slack/web-api client posts to it), SES on aws-sdk-client-mock, and a second development issuer
 * configured as GitHub Actions so a CI job can name its actor. Plus Slack interaction payloads signed as Slack signs
 * them, the links of the sent emails, and the long poll the CLI uses. One per test file: startLocal installs the
 * process-wide runtime.
 */
import './api.ts';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SESv2Client, SendEmailCommand, type SendEmailCommandInput } from '@aws-sdk/client-sesv2';
import { mockClient } from 'aws-sdk-client-mock';
import { SesMailer } from '../../shared/adapters/aws/ses-mailer.ts';
import { DevIssuer } from '../../shared/adapters/local/dev-issuer.ts';
import { DynamoDbChainStore } from '../../shared/adapters/aws/dynamodb-chain-store.ts';
import { DynamoDbAccessStore } from '../../shared/adapters/aws/dynamodb-access-store.ts';
import { parseApprovalLinkUrl } from '../../shared/approvals/email-link.ts';
import type { AuditEvent } from '../../shared/audit/event.ts';
import { APPROVE_ACTION_ID, DENY_ACTION_ID } from '../../shared/slack/messages.ts';
import { signSlackRequest } from '../../shared/slack/signature.ts';
import { LOCAL_AUDIENCE, startLocal, type LocalOptions, type LocalRuntime } from '../../local/start.ts';
import { call, type ApiResponse, type CallOptions } from './api.ts';
import { eventually, testConfig } from './local.ts';

export { eventually };

export const SLACK_BOT_TOKEN = 'xoxb-test';
export const SRE_CHANNEL = 'C0SRE';
export const PAIR_CHANNEL = 'C0PAIR';
export const SENDER = 'approvals@example.org';
/** The issuer name of the second development issuer, configured as GitHub Actions. */
export const GITHUB_ISSUER_NAME = 'gha-dev';

/** Slack user ids of the configured people, and one Slack user who is nobody's. */
export const SLACK_USERS = { alice: 'U0ALICE', bob: 'U0BOB', carol: 'U0CAROL', stranger: 'U0MALLORY' } as const;

/** `dev/sensitive` needs one of `sre` (alice, bob); `dev/payments` needs two of `pair` (alice and bob). */
export const APPROVAL_POLICY = `
@id("sensitive-needs-sre")
@approval("sre")
permit (
  principal,
  action == Gatehouse::Action::"RequestAccess",
  resource == Gatehouse::Namespace::"dev/sensitive"
)
when { principal in Gatehouse::Group::"ci" && context.access == "view" };

@id("payments-needs-pair")
@approval("pair")
permit (
  principal,
  action == Gatehouse::Action::"RequestAccess",
  resource == Gatehouse::Namespace::"dev/payments"
)
when { principal in Gatehouse::Group::"ci" && context.access == "view" };
`;

export const SENSITIVE_BODY = {
  cluster: 'dev',
  namespaces: ['sensitive'],
  access: 'view',
  durationSeconds: 600,
  purpose: 'read the sensitive job logs',
  ticket: 'OPS-42',
};
export const PAYMENTS_BODY = { ...SENSITIVE_BODY, namespaces: ['payments'], purpose: 'check a payments rollout' };

/** The test configuration of test/support/local.ts with approvers, notifications and the GitHub-style issuer. */
export function approvalConfig(slackApiUrl: string, githubIssuerUrl: string): Record<string, unknown> {
  const base = testConfig();
  return {
    ...base,
    issuers: [
      ...(base.issuers as unknown[]),
      { name: GITHUB_ISSUER_NAME, issuer: githubIssuerUrl, audience: LOCAL_AUDIENCE, kind: 'github-actions' },
    ],
    approvers: {
      people: [
        {
          id: 'alice',
          name: 'Alice Approver',
          slackUserId: SLACK_USERS.alice,
          email: 'alice@example.org',
          githubLogin: 'alice',
        },
        { id: 'bob', name: 'Bob Approver', slackUserId: SLACK_USERS.bob, email: 'bob@example.org' },
        { id: 'carol', name: 'Carol Bystander', slackUserId: SLACK_USERS.carol, email: 'carol@example.org' },
      ],
      groups: [
        { name: 'sre', members: ['alice', 'bob'], quorum: 1, slackChannel: SRE_CHANNEL, email: true },
        { name: 'pair', members: ['alice', 'bob'], quorum: 2, slackChannel: PAIR_CHANNEL },
      ],
    },
    notifications: { slack: { apiUrl: slackApiUrl }, email: { from: SENDER } },
  };
}

/** One Web API call the fake Slack received: the method and its form-encoded arguments (`blocks` as JSON). */
export interface SlackCall {
  method: string;
  authorization: string | undefined;
  channel: string | null;
  ts: string | null;
  text: string | null;
  blocks: unknown[];
}

/** A loopback server answering chat.postMessage and chat.update as Slack's Web API does. */
export class FakeSlack {
  readonly calls: SlackCall[] = [];
  private posted = 0;

  private constructor(
    private readonly server: Server,
    readonly apiUrl: string,
  ) {}

  static async start(): Promise<FakeSlack> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const fake = new FakeSlack(server, `http://127.0.0.1:${port}/api/`);
    server.on('request', (request: IncomingMessage, response: ServerResponse) => void fake.answer(request, response));
    return fake;
  }

  /** The calls of one method to one channel, in order. */
  callsOf(method: string, channel?: string): SlackCall[] {
    return this.calls.filter((c) => c.method === method && (channel === undefined || c.channel === channel));
  }

  /** The message posted to `channel` whose buttons carry `requestId`, or undefined. */
  postFor(requestId: string, channel: string): SlackCall | undefined {
    return this.callsOf('chat.postMessage', channel).find((c) => JSON.stringify(c.blocks).includes(requestId));
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async answer(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    const method = new URL(request.url ?? '/', 'http://127.0.0.1').pathname.replace(/^\/api\//, '');
    const blocks = form.get('blocks');
    const received: SlackCall = {
      method,
      authorization: request.headers.authorization,
      channel: form.get('channel'),
      ts: form.get('ts'),
      text: form.get('text'),
      blocks: blocks ? (JSON.parse(blocks) as unknown[]) : [],
    };
    this.calls.push(received);
    const reply = (body: unknown) => {
      response.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
      response.end(JSON.stringify(body));
    };
    // Slack answers a bad token with HTTP 200 and ok: false.
    if (received.authorization !== `Bearer ${SLACK_BOT_TOKEN}`) return reply({ ok: false, error: 'invalid_auth' });
    if (method === 'chat.postMessage') {
      this.posted += 1;
      const ts = `1772443800.${String(this.posted).padStart(6, '0')}`;
      // Recorded as the message's ts, so a later chat.update can be matched to this post.
      received.ts = ts;
      return reply({ ok: true, channel: received.channel, ts });
    }
    if (method === 'chat.update') return reply({ ok: true, channel: received.channel, ts: received.ts });
    return reply({ ok: false, error: 'unknown_method' });
  }
}

/** The body Slack POSTs when `userId` clicks a Gatehouse button on the message `ts` in `channel`. */
export function slackClickBody(input: {
  userId: string;
  requestId: string;
  action: 'approve' | 'deny';
  channel?: string;
  ts?: string;
}): string {
  const channel = input.channel ?? SRE_CHANNEL;
  const ts = input.ts ?? '1772443800.000001';
  const payload = {
    type: 'block_actions',
    user: { id: input.userId, username: input.userId.toLowerCase(), team_id: 'T0ACME' },
    api_app_id: 'A0GATEHOUSE',
    token: 'legacy-verification-token',
    team: { id: 'T0ACME', domain: 'acme' },
    container: { type: 'message', message_ts: ts, channel_id: channel, is_ephemeral: false },
    channel: { id: channel, name: 'approvals' },
    trigger_id: '1772443800.1234.abcdef',
    response_url: 'https://hooks.slack.com/actions/T0ACME/1/abcdef',
    actions: [
      {
        type: 'button',
        block_id: 'gatehouse_decision',
        action_id: input.action === 'approve' ? APPROVE_ACTION_ID : DENY_ACTION_ID,
        value: input.requestId,
        text: { type: 'plain_text', text: input.action === 'approve' ? 'Approve' : 'Deny' },
        action_ts: '1772443801.000100',
      },
    ],
  };
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

/** An email SES was asked to send, with the approval link in it. */
export interface SentEmail {
  to: string;
  from: string | undefined;
  subject: string;
  text: string;
  html: string;
  link: { url: string; path: string; linkId: string; token: string };
}

export interface ApprovalTestLocal {
  local: LocalRuntime;
  apiUrl: string;
  slack: FakeSlack;
  chain: DynamoDbChainStore;
  store: DynamoDbAccessStore;
  /** A JWT of the development issuer (kind generic) for `sub`, in group `ci`. */
  token(sub: string): Promise<string>;
  /** A JWT of the GitHub-Actions-kind issuer: a job `actor` triggered, in group `ci`. */
  githubToken(sub: string, actor: string): Promise<string>;
  call(method: string, path: string, options?: CallOptions): Promise<ApiResponse>;
  /** POSTs an access request and returns its 202 body (fails the test on any other status). */
  requestPending(token: string, body: Record<string, unknown>): Promise<PendingBody>;
  /** Resolves once the RequestApproval task has opened the approval and notified (Slack message posted). */
  notified(requestId: string, channel?: string): Promise<void>;
  /** Signs `rawBody` with the local Slack signing secret at `at` (now by default) and POSTs it as Slack does. */
  slackPost(
    rawBody: string,
    options?: { at?: Date; headers?: Record<string, string>; sign?: boolean },
  ): Promise<ApiResponse>;
  /** A signed click of `userId` on the request's button. */
  click(userId: string, requestId: string, action: 'approve' | 'deny', channel?: string): Promise<ApiResponse>;
  /** The long poll the CLI uses: GET ?waitSeconds=N&unlike=pending. */
  poll(requestId: string, token: string, waitSeconds?: number): Promise<RequestBody>;
  /** Every email SES was asked to send so far. */
  emails(): SentEmail[];
  events(stream: string): Promise<AuditEvent[]>;
  signingSecret(): Promise<string>;
  stop(): Promise<void>;
}

export interface PendingBody {
  id: string;
  status: 'pending';
  approvalGroups: { name: string; quorum: number }[];
  approvalExpiresAt: string;
  pollUrl: string;
  links: { self: string; token: string };
}

export interface RequestBody {
  id: string;
  status: string;
  requester: string;
  approval?: {
    status: string;
    groups: { name: string; quorum: number }[];
    expiresAt: string;
    decisions: { approverId: string; decision: string; reason?: string; channel: string; at: string }[];
  };
  grant?: { id: string; status: string; expiresAt: string };
}

export interface ApprovalTestLocalOptions {
  lifecycle?: LocalOptions['lifecycle'];
  heartbeat?: LocalOptions['heartbeat'];
  /** Edits the configuration before it is written. */
  config?: (config: Record<string, unknown>) => Record<string, unknown>;
  /** Cedar policies added to APPROVAL_POLICY. */
  extraPolicy?: string;
  /** Start the embedded S3: the audit archive and its digests. */
  withS3?: boolean;
}

export async function startApprovalLocal(options: ApprovalTestLocalOptions = {}): Promise<ApprovalTestLocal> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-approvals-'));
  const slack = await FakeSlack.start();
  const github = await DevIssuer.create();
  const githubUrl = await github.start({ port: 0 });
  const configFile = join(dir, 'gatehouse.config.yaml');
  // JSON is YAML: the loader reads it as it reads any gatehouse.config.yaml.
  const config = (options.config ?? ((c) => c))(approvalConfig(slack.apiUrl, githubUrl));
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  writeFileSync(join(dir, 'access.cedar'), APPROVAL_POLICY + (options.extraPolicy ?? ''));

  // Every SESv2Client is mocked; the mailer's own client only needs a region and credentials to build a request.
  const ses = mockClient(SESv2Client);
  let sent = 0;
  ses.on(SendEmailCommand).callsFake(() => ({ MessageId: `ses-message-${++sent}` }));
  const mailer = new SesMailer({
    fromEmailAddress: SENDER,
    client: new SESv2Client({ region: 'eu-west-1', credentials: { accessKeyId: 'AKID', secretAccessKey: 'secret' } }),
  });
  process.env.GATEHOUSE_SLACK_BOT_TOKEN = SLACK_BOT_TOKEN;
  const local = await startLocal({
    port: 0,
    inMemory: true,
    dataDir: join(dir, 'data'),
    configFile,
    mailer,
    ...(options.lifecycle ? { lifecycle: options.lifecycle } : {}),
    ...(options.heartbeat ? { heartbeat: options.heartbeat } : {}),
    ...(options.withS3 ? { withS3: true } : {}),
  });
  const events = new DynamoDbChainStore(local.dynamo.client, local.dynamo.tables.events);
  const store = new DynamoDbAccessStore(local.dynamo.client, local.dynamo.tables.state);
  const signingSecret = async () => (await local.runtime.secrets.slackSigningSecret())!;
  const api = (method: string, path: string, callOptions?: CallOptions) =>
    call(local.apiUrl, method, path, callOptions);

  const slackPost: ApprovalTestLocal['slackPost'] = async (rawBody, postOptions = {}) => {
    const signed =
      postOptions.sign === false
        ? {}
        : signSlackRequest({ signingSecret: await signingSecret(), rawBody, at: postOptions.at ?? new Date() }).headers;
    return api('POST', '/v1/approvals/slack', {
      rawBody,
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...signed, ...postOptions.headers },
    });
  };

  const t: ApprovalTestLocal = {
    local,
    apiUrl: local.apiUrl,
    slack,
    chain: events,
    store,
    token: (sub) => local.issuer.sign({ sub, groups: ['ci'] }, { audience: LOCAL_AUDIENCE }),
    githubToken: (sub, actor) =>
      github.sign(
        {
          sub,
          groups: ['ci'],
          actor,
          repository: 'acme/patient-portal',
          ref: 'refs/heads/main',
          workflow: 'deploy',
          run_id: '4242',
        },
        { audience: LOCAL_AUDIENCE },
      ),
    call: api,
    requestPending: async (token, body) => {
      const response = await api('POST', '/v1/access-requests', { token, body });
      if (response.status !== 202) throw new Error(`expected 202, got ${response.status}: ${response.text}`);
      return response.json<PendingBody>();
    },
    notified: async (requestId, channel = SRE_CHANNEL) => {
      await eventually(async () => (slack.postFor(requestId, channel) ? true : undefined));
    },
    slackPost,
    click: (userId, requestId, action, channel = SRE_CHANNEL) => {
      const post = slack.postFor(requestId, channel);
      return slackPost(slackClickBody({ userId, requestId, action, channel, ...(post?.ts ? { ts: post.ts } : {}) }));
    },
    poll: async (requestId, token, waitSeconds = 10) => {
      const response = await api('GET', `/v1/access-requests/${requestId}?waitSeconds=${waitSeconds}&unlike=pending`, {
        token,
      });
      if (response.status !== 200) throw new Error(`poll answered ${response.status}: ${response.text}`);
      return response.json<RequestBody>();
    },
    emails: () =>
      ses.commandCalls(SendEmailCommand).map((c) => {
        const input = c.args[0].input as SendEmailCommandInput;
        const simple = input.Content!.Simple!;
        const text = simple.Body!.Text!.Data!;
        const url = /https?:\/\/\S+\/v1\/approvals\/apl_\S+/.exec(text)?.[0];
        const parsed = url ? parseApprovalLinkUrl(url) : undefined;
        if (!url || !parsed) throw new Error('the approval email carries no approval link');
        const { pathname, search } = new URL(url);
        return {
          to: input.Destination!.ToAddresses![0]!,
          from: input.FromEmailAddress,
          subject: simple.Subject!.Data!,
          text,
          html: simple.Body!.Html!.Data!,
          link: { url, path: `${pathname}${search}`, ...parsed },
        };
      }),
    events: (stream) => events.queryEvents(stream),
    signingSecret,
    stop: async () => {
      await local.stop();
      await slack.stop();
      await github.stop();
      ses.restore();
      delete process.env.GATEHOUSE_SLACK_BOT_TOKEN;
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return t;
}

/** The event types of a stream, in order. */
export function typesOf(events: AuditEvent[]): string[] {
  return events.map((event) => event.type);
}
