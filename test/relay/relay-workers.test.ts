/**
 * relay/workers.ts: the relay on every core of its task, with a stand-in relay (test/fixtures/relay-workers) run as
 * relay/main.ts runs the real one, in a process of its own: connections spread over the workers, a worker that dies
 * while serving is replaced, one that cannot start stops the whole process, and SIGTERM drains every worker.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from '../support/local.ts';

const FIXTURE = join(import.meta.dirname, '../fixtures/relay-workers/supervised.ts');

interface Supervised {
  child: ChildProcess;
  port: number;
  lines: Array<Record<string, unknown>>;
  exited: Promise<number | null>;
}

const started: ChildProcess[] = [];

afterEach(() => {
  for (const child of started.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function supervise(env: Record<string, string>): Promise<Supervised> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE], {
    env: { PATH: process.env.PATH, PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  started.push(child);
  const lines: Array<Record<string, unknown>> = [];
  let partial = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    const text = partial + chunk.toString('utf8');
    const complete = text.split('\n');
    partial = complete.pop()!;
    for (const line of complete) lines.push(JSON.parse(line) as Record<string, unknown>);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, port, lines, exited };
}

const serving = (supervised: Supervised) => supervised.lines.filter((line) => line.message === 'serving');

async function pidAt(port: number): Promise<number> {
  const response = await request(`http://127.0.0.1:${port}/`, { reset: true });
  return Number(await response.body.text());
}

/** `/readyz` on as many new connections as it takes for both workers to answer: their status codes, by pid. */
async function readinessOfWorkers(port: number): Promise<Map<number, number>> {
  const statuses = new Map<number, number>();
  for (let attempt = 0; attempt < 20 && statuses.size < 2; attempt += 1) {
    const response = await request(`http://127.0.0.1:${port}/readyz`, { reset: true });
    statuses.set(Number(await response.body.text()), response.statusCode);
  }
  return statuses;
}

const all = (statuses: Map<number, number>, status: number) =>
  statuses.size === 2 && [...statuses.values()].every((code) => code === status) ? true : undefined;

describe('runRelayWorkers', () => {
  it('with RELAY_WORKERS 2, serves from two processes besides the primary, spreading connections over them', async () => {
    const supervised = await supervise({ WORKERS: '2' });
    await eventually(async () => (serving(supervised).length === 2 ? true : undefined), 30_000);

    const pids = new Set<number>();
    for (let i = 0; i < 10; i += 1) pids.add(await pidAt(supervised.port));

    expect(pids.size).toBe(2);
    expect(pids.has(supervised.child.pid!)).toBe(false);
    expect(new Set(serving(supervised).map((line) => line.pid))).toEqual(pids);
  });

  it('replaces a worker that dies while serving, and keeps serving', async () => {
    const supervised = await supervise({ WORKERS: '2', STARTUP_MS: '200' });
    await eventually(async () => (serving(supervised).length === 2 ? true : undefined), 30_000);
    await new Promise((resolve) => setTimeout(resolve, 300));

    await request(`http://127.0.0.1:${supervised.port}/crash`, { reset: true }).catch(() => undefined);
    await eventually(async () => (serving(supervised).length === 3 ? true : undefined), 30_000);
    const pids = new Set<number>();
    for (let i = 0; i < 10; i += 1) pids.add(await pidAt(supervised.port));

    expect(supervised.lines.some((line) => line.message === 'a relay worker died; starting another')).toBe(true);
    expect(pids.size).toBe(2);
    expect(supervised.child.exitCode).toBeNull();
  });

  it("answers /readyz for the task: one worker that is not ready fails every worker's check until it is again", async () => {
    const supervised = await supervise({ WORKERS: '2', SICK_MS: '1500' });
    await eventually(async () => (serving(supervised).length === 2 ? true : undefined), 30_000);
    await eventually(async () => all(await readinessOfWorkers(supervised.port), 200), 30_000);

    // One connection: one worker falls sick, and the health check fails whichever worker it reaches.
    await request(`http://127.0.0.1:${supervised.port}/sick`, { reset: true }).then((response) => response.body.text());
    await eventually(async () => all(await readinessOfWorkers(supervised.port), 503), 1000);

    await eventually(async () => all(await readinessOfWorkers(supervised.port), 200), 30_000);
  });

  it('is not ready while a worker that died is being replaced', async () => {
    const supervised = await supervise({ WORKERS: '2', STARTUP_MS: '200' });
    await eventually(async () => (serving(supervised).length === 2 ? true : undefined), 30_000);
    await eventually(async () => all(await readinessOfWorkers(supervised.port), 200), 30_000);
    await new Promise((resolve) => setTimeout(resolve, 300));

    await request(`http://127.0.0.1:${supervised.port}/crash`, { reset: true }).catch(() => undefined);
    // The survivor answers for a task one worker short (its replacement needs a moment to start).
    await eventually(async () => {
      const survivor = await request(`http://127.0.0.1:${supervised.port}/readyz`, { reset: true });
      await survivor.body.text();
      return survivor.statusCode === 503 ? true : undefined;
    }, 5000);
    await eventually(async () => (serving(supervised).length === 3 ? true : undefined), 30_000);
    await eventually(async () => all(await readinessOfWorkers(supervised.port), 200), 30_000);
  });

  it('on SIGTERM drains every worker and exits 0', async () => {
    const supervised = await supervise({ WORKERS: '2' });
    await eventually(async () => (serving(supervised).length === 2 ? true : undefined), 30_000);

    supervised.child.kill('SIGTERM');

    expect(await supervised.exited).toBe(0);
    const stopped = supervised.lines.filter((line) => line.message === 'stopped').map((line) => line.pid);
    expect(new Set(stopped)).toEqual(new Set(serving(supervised).map((line) => line.pid)));
  });

  it('stops with exit code 1 when a worker cannot start, instead of forking broken workers forever', async () => {
    const supervised = await supervise({ WORKERS: '2', FAIL_START: '1' });

    expect(await supervised.exited).toBe(1);
    expect(supervised.lines.some((line) => line.message === 'a relay worker could not start; stopping the relay')).toBe(
      true,
    );
    expect(serving(supervised)).toEqual([]);
  });

  it('with RELAY_WORKERS 1, serves in its own process and drains it on SIGTERM', async () => {
    const supervised = await supervise({ WORKERS: '1' });
    await eventually(async () => (serving(supervised).length === 1 ? true : undefined), 30_000);

    expect(await pidAt(supervised.port)).toBe(supervised.child.pid);
    const alone = await request(`http://127.0.0.1:${supervised.port}/readyz`, { reset: true });
    await alone.body.text();
    expect(alone.statusCode).toBe(200);
    supervised.child.kill('SIGTERM');
    expect(await supervised.exited).toBe(0);
    expect(supervised.lines.filter((line) => line.message === 'stopped').map((line) => line.pid)).toEqual([
      supervised.child.pid,
    ]);
  });
});
