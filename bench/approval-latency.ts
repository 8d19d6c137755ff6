/**
 * Approval latency on the local runtime: from the approver's click (Slack's signed interaction POST reaching
 * /v1/approvals/slack) to the waiting `gatehouse token` holding its credential. The waiting side is the CLI's own code
 * (`awaitApproval` of cli/commands/token.ts: the long poll `GET ?waitSeconds=20&unlike=pending`, then POST /token),
 * the approver's side a click signed as Slack signs it; the local runtime posts the Slack message through the real
 * @slack/web-api client to a loopback stand-in for Slack's Web API, and runs the real ASL with its task token.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { awaitApproval, StatusLine, type CreatedRequest } from '../cli/commands/token.ts';
import { ApiClient } from '../cli/lib/api-client.ts';
import { APPROVE_ACTION_ID } from '#shared/slack/messages.ts';
import { signSlackRequest } from '#shared/slack/signature.ts';
import { LOCAL_AUDIENCE, LOCAL_CLUSTER, startLocal } from '../local/start.ts';
import { GITHUB_ACTIONS_ISSUER } from '../test/support/config-parts.ts';
import { percentile } from './stats.ts';

const CHANNEL = 'C0BENCH';
const APPROVER_SLACK_ID = 'U0ALICE';

export interface ApprovalLatencyReport {
  runs: number;
  /** Click sent → credential received by the waiting CLI code, ms. */
  p50: number;
  p90: number;
  max: number;
  /** The click's own round trip (signature check, decision, task token answered, chat.update), ms. */
  clickP50: number;
  /** The server's long poll re-reads the request this often (shared/access/access-service.ts), ms. */
  serverPollMs: number;
}

/** A loopback Slack Web API: answers chat.postMessage and chat.update, and tells who waits for a post. */
async function fakeSlack(): Promise<{ url: string; posted: Set<string>; server: Server }> {
  const posted = new Set<string>();
  let count = 0;
  const server = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    const method = (request.url ?? '').replace(/^\/api\//, '');
    const id = /"value":"(req_[0-9A-Z]{26})"/.exec(form.get('blocks') ?? '')?.[1];
    if (method === 'chat.postMessage' && id) posted.add(id);
    count += 1;
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(
      JSON.stringify({ ok: true, channel: form.get('channel'), ts: form.get('ts') ?? `1772443800.${count}` }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/`, posted, server };
}

function writeConfig(dir: string, slackApiUrl: string): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'approval.cedar'),
    `@id("bench-approval")
@approval("sre")
permit (principal, action == Gatehouse::Action::"RequestAccess", resource in Gatehouse::Cluster::"${LOCAL_CLUSTER}")
when { principal in Gatehouse::Group::"ci" && context.access == "view" };
`,
  );
  const config = {
    version: 1,
    issuers: [GITHUB_ACTIONS_ISSUER],
    clusters: [
      {
        name: LOCAL_CLUSTER,
        region: 'us-east-1',
        account: '000000000000',
        slotPoolSize: 4,
        accessLevels: { view: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy' },
      },
    ],
    policies: { files: ['approval.cedar'] },
    approvers: {
      people: [
        { id: 'alice', slackUserId: APPROVER_SLACK_ID },
        { id: 'bob', slackUserId: 'U0BOB' },
      ],
      groups: [{ name: 'sre', members: ['alice', 'bob'], quorum: 1, slackChannel: CHANNEL }],
    },
    notifications: { slack: { apiUrl: slackApiUrl } },
  };
  const file = join(dir, 'gatehouse.config.yaml');
  writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}

function clickBody(requestId: string): string {
  const payload = {
    type: 'block_actions',
    user: { id: APPROVER_SLACK_ID, team_id: 'T0BENCH' },
    team: { id: 'T0BENCH' },
    container: { type: 'message', message_ts: '1772443800.000001', channel_id: CHANNEL },
    channel: { id: CHANNEL },
    response_url: 'https://hooks.slack.com/actions/T0BENCH/1/bench',
    actions: [{ type: 'button', action_id: APPROVE_ACTION_ID, value: requestId }],
  };
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

/** Runs `runs` approvals one after another (after `warmup` untimed ones) and reports the click-to-credential times. */
export async function runApprovalLatency(
  dir: string,
  options: { runs: number; warmup: number; budgetMs: number },
): Promise<ApprovalLatencyReport> {
  const slack = await fakeSlack();
  const previousToken = process.env.GATEHOUSE_SLACK_BOT_TOKEN;
  process.env.GATEHOUSE_SLACK_BOT_TOKEN = 'xoxb-bench';
  const local = await startLocal({
    port: 0,
    inMemory: true,
    dataDir: join(dir, 'local'),
    configFile: writeConfig(dir, slack.url),
  });
  try {
    const signingSecret = (await local.runtime.secrets.slackSigningSecret())!;
    const bearer = await local.issuer.sign({ sub: 'ci:bench-approval', groups: ['ci'] }, { audience: LOCAL_AUDIENCE });
    const client = new ApiClient({ apiUrl: local.apiUrl, bearerToken: bearer });
    const context = { progress: () => undefined, now: () => new Date(), status: StatusLine.silent() };
    const totals: number[] = [];
    const clicks: number[] = [];
    const deadline = Date.now() + options.budgetMs;

    for (let run = 0; run < options.warmup + options.runs && Date.now() < deadline; run += 1) {
      const { body: created } = await client.post<CreatedRequest>('/v1/access-requests', {
        cluster: LOCAL_CLUSTER,
        namespaces: ['demo'],
        access: 'view',
        durationSeconds: 900,
        purpose: 'approval latency bench',
      });
      const requestId = created.id;
      // The approvers can click once the RequestApproval task has opened the approval and posted the message.
      while (!slack.posted.has(requestId)) await sleep(5);
      const waiting = awaitApproval(client, requestId, created, 60, context);
      // The click lands at a random moment of the server's 250 ms re-read cycle, as a person's would.
      await sleep(50 + Math.random() * 250);

      const rawBody = clickBody(requestId);
      const started = performance.now();
      const signed = signSlackRequest({ signingSecret, rawBody, at: new Date() });
      const response = await fetch(`${local.apiUrl}/v1/approvals/slack`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...signed.headers },
        body: rawBody,
      });
      await response.text();
      const clicked = performance.now();
      const entry = await waiting;
      const done = performance.now();
      if (response.status !== 200) throw new Error(`the Slack click answered ${response.status}`);
      if (run >= options.warmup) {
        totals.push(done - started);
        clicks.push(clicked - started);
      }
      // Untimed: give the slot back for the next run.
      await client.post(`/v1/grants/${entry.grantId}/revoke`, {});
    }
    return {
      runs: totals.length,
      p50: percentile(totals, 50),
      p90: percentile(totals, 90),
      max: Math.max(...totals),
      clickP50: percentile(clicks, 50),
      serverPollMs: 250,
    };
  } finally {
    await local.stop();
    await new Promise<void>((resolve) => slack.server.close(() => resolve()));
    if (previousToken === undefined) delete process.env.GATEHOUSE_SLACK_BOT_TOKEN;
    else process.env.GATEHOUSE_SLACK_BOT_TOKEN = previousToken;
  }
}
