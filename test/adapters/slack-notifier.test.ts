/**
 * SlackNotifier with the real @slack/web-api WebClient against a loopback HTTP server standing in for Slack's Web API:
 * the server receives the client's real form-encoded calls, checks the bot token as Slack does, and answers as Slack
 * answers (ok, platform errors, 5xx, 429, silence).
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_SLACK_RETRY, SlackNotifier, SlackNotifyError } from '../../shared/adapters/slack/slack-notifier.ts';
import type { AccessRequest } from '../../shared/model.ts';
import { approvalDecidedMessage, approvalRequestMessage } from '../../shared/slack/messages.ts';

const TOKEN = 'xoxb-1234567890-0987654321-gAtEhOuSeTeStToKeN0123';
const CHANNEL = 'C0APPROVAL';
const MISSING_CHANNEL = 'C0MISSING';

interface ReceivedCall {
  method: string;
  path: string;
  authorization: string | undefined;
  contentType: string | undefined;
  form: URLSearchParams;
}

/** How the fake Slack answers the next calls; reset before each test. */
interface Behaviour {
  /** Answer with this HTTP status and body instead of Slack's usual 200. */
  status?: number;
  headers?: Record<string, string>;
  /** Never answer (to exercise the client's timeout). */
  hang?: boolean;
  /** Answer chat.postMessage with this body instead of a well-formed one. */
  body?: unknown;
}

let server: Server;
let apiUrl: string;
let calls: ReceivedCall[] = [];
let behaviour: Behaviour = {};
const hanging: ServerResponse[] = [];

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Slack's Web API, as far as these two methods go. */
async function fakeSlack(request: IncomingMessage, response: ServerResponse): Promise<void> {
  const raw = await readBody(request);
  const path = new URL(request.url ?? '/', 'http://127.0.0.1').pathname;
  const method = path.replace(/^\/api\//, '');
  const contentType = request.headers['content-type'];
  // The WebClient sends every argument form-encoded, objects such as `blocks` as JSON strings.
  const form = new URLSearchParams(raw);
  calls.push({ method, path, authorization: request.headers.authorization, contentType, form });

  if (behaviour.hang) {
    hanging.push(response);
    return;
  }
  const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
    response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
    response.end(JSON.stringify(body));
  };
  if (behaviour.status !== undefined) return reply(behaviour.status, { ok: false }, behaviour.headers);
  if (request.method !== 'POST' || !path.startsWith('/api/')) return reply(404, { ok: false, error: 'unknown_method' });
  // Slack answers a bad or missing token with HTTP 200 and ok: false.
  if (request.headers.authorization !== `Bearer ${TOKEN}`) return reply(200, { ok: false, error: 'invalid_auth' });
  const channel = form.get('channel');
  if (channel === MISSING_CHANNEL) return reply(200, { ok: false, error: 'channel_not_found' });
  if (behaviour.body !== undefined) return reply(200, behaviour.body);
  if (method === 'chat.postMessage') {
    return reply(200, { ok: true, channel, ts: '1772443800.000200', message: { text: form.get('text') } });
  }
  if (method === 'chat.update') {
    return reply(200, { ok: true, channel, ts: form.get('ts'), text: form.get('text') });
  }
  return reply(200, { ok: false, error: 'unknown_method' });
}

function notifier(overrides: Partial<ConstructorParameters<typeof SlackNotifier>[0]> = {}): SlackNotifier {
  return new SlackNotifier({
    token: TOKEN,
    slackApiUrl: apiUrl,
    retryConfig: { retries: 0 },
    timeoutMs: 2_000,
    ...overrides,
  });
}

const request: AccessRequest = {
  id: 'req_01JNQ8ZQ5Y3K6W2M4T7V9XBC0D',
  principal: {
    id: 'github:repo:octo-org/octo-repo:ref:refs/heads/main',
    issuer: 'https://token.actions.githubusercontent.com',
    issuerName: 'github',
    subject: 'repo:octo-org/octo-repo:ref:refs/heads/main',
    groups: [],
    ci: { provider: 'github-actions', repository: 'octo-org/octo-repo', ref: 'refs/heads/main', runId: '1' },
  },
  status: 'pending',
  cluster: 'prod-eu',
  namespaces: ['payments'],
  access: 'edit',
  durationSeconds: 3600,
  purpose: 'Roll back <!channel>',
  via: 'direct',
  createdAt: '2026-03-02T09:30:00.000Z',
  updatedAt: '2026-03-02T09:30:00.000Z',
};
const pending = approvalRequestMessage({
  request,
  approvalGroups: ['platform-oncall'],
  quorum: { required: 1, received: 0 },
  expiresAt: '2026-03-02T10:30:00.000Z',
});
const decided = approvalDecidedMessage({
  request,
  approvalGroups: ['platform-oncall'],
  quorum: { required: 1, received: 1 },
  expiresAt: '2026-03-02T10:30:00.000Z',
  outcome: 'approved',
  decidedAt: '2026-03-02T09:31:00.000Z',
  decisions: [{ approverId: 'alice', slackUserId: 'U012AB3CD', decision: 'approve', at: '2026-03-02T09:31:00.000Z' }],
});

async function caught(attempt: Promise<unknown>): Promise<SlackNotifyError> {
  const error = await attempt.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(SlackNotifyError);
  const notifyError = error as SlackNotifyError;
  // Nothing secret, nothing Slack's client carried: only the name, method and code.
  expect(notifyError.message).not.toContain(TOKEN);
  expect(JSON.stringify(notifyError)).not.toContain(TOKEN);
  expect(String(notifyError.stack)).not.toContain(TOKEN);
  expect(notifyError.cause).toBeUndefined();
  return notifyError;
}

describe('SlackNotifier against a loopback Slack Web API', () => {
  beforeAll(async () => {
    server = createServer((req, res) => {
      fakeSlack(req, res).catch((error: unknown) => {
        res.writeHead(500).end(String(error));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/`;
  });

  afterAll(async () => {
    for (const response of hanging) response.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  beforeEach(() => {
    calls = [];
    behaviour = {};
  });

  it('posts the approval request with chat.postMessage, authenticated by the bot token, and returns channel and ts', async () => {
    const posted = await notifier().postApprovalRequest(CHANNEL, pending);

    expect(posted).toEqual({ channel: CHANNEL, ts: '1772443800.000200' });
    expect(calls).toHaveLength(1);
    const [call] = calls;
    expect(call?.path).toBe('/api/chat.postMessage');
    expect(call?.authorization).toBe(`Bearer ${TOKEN}`);
    expect(call?.contentType).toBe('application/x-www-form-urlencoded');
    expect(call?.form.get('channel')).toBe(CHANNEL);
    expect(call?.form.get('text')).toBe(pending.text);
    expect(JSON.parse(call?.form.get('blocks') ?? 'null')).toEqual(pending.blocks);
    expect(call?.form.get('unfurl_links')).toBe('false');
    expect(call?.form.get('unfurl_media')).toBe('false');
    // The token travels in the header only.
    expect(call?.form.get('token')).toBeNull();
    expect(call?.form.toString()).not.toContain(TOKEN);
  });

  it('updates the message in place with chat.update', async () => {
    const updated = await notifier().updateMessage(CHANNEL, '1772443800.000200', decided);

    expect(updated).toEqual({ channel: CHANNEL, ts: '1772443800.000200' });
    const [call] = calls;
    expect(call?.path).toBe('/api/chat.update');
    expect(call?.authorization).toBe(`Bearer ${TOKEN}`);
    expect(call?.form.get('channel')).toBe(CHANNEL);
    expect(call?.form.get('ts')).toBe('1772443800.000200');
    expect(call?.form.get('text')).toBe(decided.text);
    expect(JSON.parse(call?.form.get('blocks') ?? 'null')).toEqual(decided.blocks);
  });

  it('accepts an API URL without its trailing slash', async () => {
    await notifier({ slackApiUrl: apiUrl.replace(/\/$/, '') }).postApprovalRequest(CHANNEL, pending);
    expect(calls[0]?.path).toBe('/api/chat.postMessage');
  });

  it("turns Slack's channel_not_found into a SlackNotifyError with that code only", async () => {
    const error = await caught(notifier().postApprovalRequest(MISSING_CHANNEL, pending));
    expect(error).toMatchObject({
      name: 'SlackNotifyError',
      method: 'chat.postMessage',
      code: 'channel_not_found',
      retryable: false,
      message: 'Slack chat.postMessage failed: channel_not_found',
    });
    expect(calls).toHaveLength(1);
  });

  it('reports a wrong token as invalid_auth without repeating either token', async () => {
    const wrongToken = 'xoxb-0000000000-1111111111-WrOnGtOkEnWrOnGtOkEn00';
    const error = await caught(notifier({ token: wrongToken }).updateMessage(CHANNEL, '1.2', decided));
    expect(error).toMatchObject({ code: 'invalid_auth', method: 'chat.update', retryable: false });
    expect(error.message).not.toContain(wrongToken);
    expect(calls[0]?.authorization).toBe(`Bearer ${wrongToken}`);
  });

  it('retries a 5xx answer as configured, then reports http_<status> as retryable', async () => {
    behaviour = { status: 503 };
    const error = await caught(
      notifier({ retryConfig: { retries: 2, minTimeout: 1, maxTimeout: 5 } }).postApprovalRequest(CHANNEL, pending),
    );
    expect(error).toMatchObject({ code: 'http_503', retryable: true });
    expect(calls).toHaveLength(3);
  });

  it('fails at once on a rate limit rather than sleeping for Retry-After', async () => {
    behaviour = { status: 429, headers: { 'retry-after': '30' } };
    const started = Date.now();
    const error = await caught(
      notifier({ retryConfig: { retries: 3, minTimeout: 1, maxTimeout: 5 } }).postApprovalRequest(CHANNEL, pending),
    );
    expect(error).toMatchObject({ code: 'ratelimited', retryable: true });
    expect(calls).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('reports a Slack API that does not answer in time as request_failed', async () => {
    behaviour = { hang: true };
    const error = await caught(notifier({ timeoutMs: 200 }).postApprovalRequest(CHANNEL, pending));
    expect(error).toMatchObject({ code: 'request_failed', retryable: true });
  });

  it('reports an unreachable Slack API as request_failed', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));

    const error = await caught(
      notifier({ slackApiUrl: `http://127.0.0.1:${port}/api/` }).postApprovalRequest(CHANNEL, pending),
    );
    expect(error).toMatchObject({ code: 'request_failed', retryable: true });
  });

  it('refuses an ok answer without the channel and ts it needs', async () => {
    behaviour = { body: { ok: true } };
    const error = await caught(notifier().postApprovalRequest(CHANNEL, pending));
    expect(error).toMatchObject({ code: 'invalid_response', retryable: false });
  });

  it('does not repeat an error code that is not a plain Slack code', async () => {
    behaviour = { body: { ok: false, error: `bad <!channel> ${TOKEN}` } };
    const error = await caught(notifier().postApprovalRequest(CHANNEL, pending));
    expect(error.code).toBe('unknown_error');
  });

  it('keeps the token out of the client log, even at debug level', async () => {
    const lines: string[] = [];
    const record =
      (level: string) =>
      (...messages: unknown[]) => {
        lines.push(
          `${level} ${messages.map((message) => (typeof message === 'string' ? message : JSON.stringify(message))).join(' ')}`,
        );
      };
    const logger = {
      debug: record('debug'),
      info: record('info'),
      warn: record('warn'),
      error: record('error'),
      setLevel: () => undefined,
      getLevel: () => 'debug' as never,
      setName: () => undefined,
    };
    await notifier({ logger }).postApprovalRequest(CHANNEL, pending);
    behaviour = { status: 500 };
    await caught(notifier({ logger }).postApprovalRequest(CHANNEL, pending));

    expect(lines.some((line) => line.includes('chat.postMessage'))).toBe(true);
    expect(lines.join('\n')).not.toContain(TOKEN);
  });

  it('refuses an empty token before any call', () => {
    expect(() => new SlackNotifier({ token: '', slackApiUrl: apiUrl })).toThrow(/token is not configured/);
    expect(() => new SlackNotifier({ token: '   ' })).toThrow(TypeError);
  });

  it('defaults to a short retry policy, not the client’s thirty minutes', () => {
    expect(DEFAULT_SLACK_RETRY.retries).toBeLessThanOrEqual(3);
    expect(DEFAULT_SLACK_RETRY.maxTimeout).toBeLessThanOrEqual(2_000);
  });
});
