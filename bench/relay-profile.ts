/**
 * A relay CPU profile read for bench/relay.ts. summarizeProfile (bench/masking.ts) gives the functions with the most
 * self time; this adds which stage of the relay's request path each sample belongs to, by its stack: the innermost
 * frame of the project (or of undici) names the stage, unless the sample is in Node's HTTP, TLS or socket code first.
 */
import type { summarizeProfile } from './masking.ts';

export type CpuProfile = Parameters<typeof summarizeProfile>[0] & {
  nodes: Array<{ id: number; children?: number[]; callFrame: { functionName: string; url: string } }>;
};

/** Stages by the source file of a frame, first match wins. */
const STAGES: ReadonlyArray<[string, RegExp]> = [
  ['masking (shared/masking)', /\/shared\/masking\//],
  [
    'audit event and hash chain (shared/audit, event-writer, chain store)',
    /\/shared\/audit\/|event-writer\.ts|fakes\.ts/,
  ],
  ['guardrails (Cedar, shared/policy)', /cedar|\/shared\/policy\//],
  [
    'gate: credential, grant, request info, scope',
    /request-gate\.ts|credentials\.ts|grant-directory\.ts|\/shared\/k8s\/|\/shared\/tokens\/|\/shared\/relay\/(?!upstream)/,
  ],
  ['forwarding and response (relay/server.ts, upstream headers)', /\/relay\/server\.ts|upstream-headers|upstream\.ts/],
  ['upstream HTTP client (undici)', /\/undici\//],
];
const NODE_IO =
  /^node:(?:net|tls|_tls_wrap|_http_\w+|http|https|stream|internal\/(?:stream|streams|net|http|tls|js_stream))/;

/** The profile without its first sample's time: the span from the profiler's start to its first sample. */
export function withoutStartGap<P extends { timeDeltas: number[] }>(profile: P): P {
  return { ...profile, timeDeltas: profile.timeDeltas.map((delta, index) => (index === 0 ? 0 : delta)) };
}

/** Busy time by stage of the request path, largest first (idle excluded). */
export function stageShares(profile: CpuProfile): Array<{ stage: string; percent: number }> {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const memo = new Map<number, string>();
  const stageOf = (id: number): string => {
    const known = memo.get(id);
    if (known) return known;
    let stage = 'Node, other';
    const leaf = byId.get(id)!.callFrame.functionName;
    if (leaf === '(garbage collector)') stage = 'garbage collection';
    else if (leaf === '(program)') stage = 'V8 and native, unattributed ((program))';
    else if (leaf.startsWith('wasm-function')) stage = STAGES[2]![0];
    else {
      for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
        const url = byId.get(at)!.callFrame.url;
        if (!url) continue;
        if (NODE_IO.test(url)) {
          stage = 'Node HTTP, TLS and sockets';
          break;
        }
        const found = STAGES.find(([, pattern]) => pattern.test(url));
        if (found) {
          stage = found[0];
          break;
        }
      }
    }
    memo.set(id, stage);
    return stage;
  };
  const totals = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, index) => {
    if (byId.get(id)!.callFrame.functionName === '(idle)') return;
    const delta = profile.timeDeltas[index] ?? 0;
    const stage = stageOf(id);
    totals.set(stage, (totals.get(stage) ?? 0) + delta);
    total += delta;
  });
  return [...totals].sort((a, b) => b[1] - a[1]).map(([stage, micros]) => ({ stage, percent: (micros / total) * 100 }));
}
