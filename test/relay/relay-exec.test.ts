/**
 * Exec and attach through the relay (issue 6, point 4): stdin reaches the pod, output comes back masked line by line,
 * exit codes pass through, v4 works where a client offers only it, attach needs a policy that permits it, SPDY is
 * refused with a reason, and each session's recording (input, masked output, resizes) is stored with its SHA-256.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { parseAsciicast } from '#shared/audit/asciicast.ts';
import { CHANNEL, decodeFrame, encodeFrame } from '#shared/k8s/exec-protocol.ts';
import { eventually } from '../support/local.ts';
import { startRelayHarness, type RelayHarness } from '../support/relay.ts';

const SSN = '123-45-6789';
let harness: RelayHarness;
let token: string;
let kubeconfig: string;

beforeAll(async () => {
  harness = await startRelayHarness({
    policies: `
@id("attach-to-debug-pods")
permit (principal, action == Gatehouse::Action::"KubernetesRequest", resource)
when { resource.subresource == "attach" && resource.hasTag("debug") && resource.getTag("debug") == "true" };
`,
  });
  for (const [name, labels] of [
    ['worker', {}],
    ['debugger', { debug: 'true' }],
  ] as const) {
    harness.api.create({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: 'claims', labels },
      spec: { containers: [{ name: 'app', image: 'busybox' }] },
    });
  }
  ({ token } = await harness.grant({ access: 'edit' }));
  kubeconfig = harness.kubeconfig(token);
});

afterAll(async () => {
  await harness?.close();
});

/** The last session's end event and recording, once the relay has stored them (after kubectl has exited). */
async function lastSession(count: number) {
  const ended = await eventually(
    async () => harness.events.filter((event) => event.type === 'session.ended')[count - 1],
  );
  const { recording } = ended.details as { recording: { key: string; sha256: string; bytes: number } };
  const stored = harness.recordings.get(recording.key)!;
  return { ended, recording, text: Buffer.from(stored.body).toString('utf8'), stored };
}

describe('exec and attach through the relay', () => {
  it('passes stdin to the command and masks what it prints, with its exit code', async () => {
    harness.api.setExecHandler(async (session) => {
      let input = '';
      for await (const chunk of session.stdin!) input += String(chunk);
      session.stdout!.write(`read ${input.length} bytes\npatient ssn ${SSN} admitted\n`);
      session.stderr!.write(`warning for ${SSN}\n`);
      return { exitCode: 3 };
    });
    const result = await harness.kubectl(kubeconfig, ['exec', '-i', 'worker', '--', 'sh', '-c', 'cat; exit 3'], {
      input: 'hello from the agent',
    });
    expect(result.code).toBe(3);
    expect(result.stdout).toBe('read 20 bytes\npatient ssn [MASKED:SSN] admitted\n');
    expect(result.stderr).toContain('warning for [MASKED:SSN]');
    expect(harness.api.streams.at(-1)?.protocol).toBe('v5.channel.k8s.io');

    const { ended, recording, text, stored } = await lastSession(1);
    expect(createHash('sha256').update(stored.body).digest('hex')).toBe(recording.sha256);
    const cast = parseAsciicast(text);
    expect(cast.events.some((event) => event[1] === 'i' && String(event[2]).includes('hello from the agent'))).toBe(
      true,
    );
    expect(cast.events.some((event) => event[1] === 'o' && String(event[2]).includes('[MASKED:SSN]'))).toBe(true);
    expect(text).not.toContain(SSN);
    expect(ended.details).toMatchObject({ ended: 'exit 3', masking: { total: 2 } });
    const started = harness.events.find(
      (event) => event.type === 'session.started' && event.sessionId === ended.sessionId,
    );
    expect(started?.details).toMatchObject({ subresource: 'exec', pod: 'worker', command: ['sh'], arguments: 2 });
  });

  it('keeps an interactive prompt usable and masks a value split across frames', async () => {
    harness.api.setExecHandler(async (session) => {
      session.stdout!.write('$ ');
      await new Promise((resolve) => setTimeout(resolve, 50));
      session.stdout!.write('ssn 123-45-');
      await new Promise((resolve) => setTimeout(resolve, 5));
      session.stdout!.write('6789\n$ ');
      return { exitCode: 0 };
    });
    const frames = await rawExec('/api/v1/namespaces/claims/pods/worker/exec?command=sh&stdout=true&tty=true', [
      'v5.channel.k8s.io',
    ]);
    const output = frames.filter((frame) => frame.channel === CHANNEL.stdout).map((frame) => frame.text);
    expect(output[0]).toBe('$ ');
    expect(output.join('')).toBe('$ ssn [MASKED:SSN]\n$ ');
  });

  it('speaks v4 to a client that offers only v4', async () => {
    harness.api.setExecHandler(async (session) => {
      session.stdout!.write(`ssn ${SSN}\n`);
      return { exitCode: 0 };
    });
    const frames = await rawExec('/api/v1/namespaces/claims/pods/worker/exec?command=id&stdout=true', [
      'v4.channel.k8s.io',
    ]);
    expect(
      frames
        .filter((frame) => frame.channel === CHANNEL.stdout)
        .map((frame) => frame.text)
        .join(''),
    ).toBe('ssn [MASKED:SSN]\n');
    expect(harness.api.streams.at(-1)?.protocol).toBe('v4.channel.k8s.io');
  });

  it('refuses attach without a policy that permits it, and allows it where one does', async () => {
    const denied = await harness.kubectl(kubeconfig, ['attach', 'worker'], { timeoutMs: 5000 });
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toContain('create pods/worker/attach in namespace claims needs a policy that permits it');
    harness.api.setAttachHandler(async (session) => {
      session.stdout!.write(`attached, ssn ${SSN}\n`);
      return { exitCode: 0 };
    });
    const allowed = await harness.kubectl(kubeconfig, ['attach', 'debugger'], { timeoutMs: 5000 });
    expect(allowed.stdout).toContain('attached, ssn [MASKED:SSN]');
  });

  it('refuses SPDY with a Status that says to use WebSocket', async () => {
    const result = await harness.kubectl(kubeconfig, ['exec', 'worker', '--', 'id'], {
      env: { KUBECTL_REMOTE_COMMAND_WEBSOCKETS: 'false' },
    });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/SPDY is not supported by the relay: use WebSocket/);
    expect(harness.events.at(-1)).toMatchObject({ type: 'relay.denied', details: { stage: 'negotiate' } });
  });
});

/** Runs an exec over a raw WebSocket and collects every frame until the session closes. */
async function rawExec(path: string, protocols: string[]): Promise<Array<{ channel: number; text: string }>> {
  const url = `${harness.url.replace('https', 'wss')}${path}`;
  const socket = new WebSocket(url, protocols, { headers: { authorization: `Bearer ${token}` }, ca: harness.ca });
  const frames: Array<{ channel: number; text: string }> = [];
  socket.on('message', (data: Buffer) => {
    const frame = decodeFrame(data);
    frames.push({ channel: frame.channel, text: Buffer.from(frame.payload).toString('utf8') });
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => {
      if (protocols[0] === 'v5.channel.k8s.io')
        socket.send(encodeFrame(CHANNEL.close, new Uint8Array([CHANNEL.stdin])));
    });
    socket.once('close', () => resolve());
    socket.once('error', reject);
  });
  return frames;
}

describe('kubectl cp through the relay', () => {
  it('copies a file into the pod and back, its content masked inside a valid archive', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-cp-'));
    writeFileSync(join(dir, 'notes.txt'), `first line\npatient ssn ${SSN}\nlast line\n`);
    harness.api.setExecHandler(undefined);
    const up = await harness.kubectl(kubeconfig, ['cp', join(dir, 'notes.txt'), 'worker:/tmp/notes.txt']);
    expect(up.code, up.stderr).toBe(0);
    const down = await harness.kubectl(kubeconfig, ['cp', 'worker:/tmp/notes.txt', join(dir, 'back.txt')]);
    expect(down.code, down.stderr).toBe(0);
    expect(readFileSync(join(dir, 'back.txt'), 'utf8')).toBe('first line\npatient ssn [MASKED:SSN]\nlast line\n');
  });

  it('refuses to copy a binary file out, and says why', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-cp-'));
    writeFileSync(join(dir, 'blob.bin'), Buffer.from([0, 1, 2, 255, 0, 7]));
    await harness.kubectl(kubeconfig, ['cp', join(dir, 'blob.bin'), 'worker:/tmp/blob.bin']);
    const down = await harness.kubectl(kubeconfig, ['cp', 'worker:/tmp/blob.bin', join(dir, 'blob-back.bin')]);
    expect(down.code).not.toBe(0);
    expect(down.stderr).toContain('binary content');
  });
});
