/**
 * Bypass class: an oversized header block (issue 6). A header block larger than the relay's bound (16 KB, as
 * `maxHeaderBytes`) is a denial-of-service and a parser-differential tool: what one parser truncates another keeps. The
 * relay refuses it whole with 431 and a Status before any stage runs, and records the attempt; a path longer than any
 * Kubernetes path is refused at the target stage. A block of many small headers must be refused the same way, never
 * truncated: a truncated request is not the request the client sent.
 */
import { describe, expect, it } from 'vitest';
import { bearer, httpRequest, openWebSocket, sendRaw } from '../support/relay-raw.ts';
import { expectRefused, podObject, useRelayHarness, type ExpectedRefusal } from '../support/relay-security.ts';

const TARGET = '/api/v1/namespaces/claims/pods';

const relay = useRelayHarness({ objects: [podObject('claims', 'intake-0')] });

const TOO_LARGE: ExpectedRefusal = {
  status: 431,
  reason: 'BadRequest',
  message: 'the request header block is too large',
  stage: 'parse',
};

/** Sends `bytes`; asserts one 431 Status, a closed connection, an anonymous `parse` denial and nothing upstream. */
async function expectTooLarge(bytes: string): Promise<void> {
  await expectRefused(relay.harness, () => sendRaw(relay.harness, bytes, { idleMs: 500 }), {
    ...TOO_LARGE,
    closed: true,
    actor: { id: 'anonymous' },
  });
}

describe('an oversized header block', () => {
  it('refuses one 20 KB header with 431, whatever the credential', async () => {
    await expectTooLarge(
      httpRequest({ target: TARGET, headers: [bearer(relay.token), ['X-Padding', 'a'.repeat(20_000)]] }),
    );
  });

  it('refuses a 20 KB Authorization header before decoding it', async () => {
    await expectTooLarge(httpRequest({ target: TARGET, headers: [['Authorization', `Bearer ${'a'.repeat(20_000)}`]] }));
  });

  it('refuses a request line longer than the header bound', async () => {
    await expectTooLarge(
      httpRequest({ target: `${TARGET}?labelSelector=${'a'.repeat(20_000)}`, headers: [bearer(relay.token)] }),
    );
  });

  it('refuses a header block that never ends (100 KB of headers)', async () => {
    const filler = Array.from({ length: 10_000 }, (_, index) => [`x${index}`, '1'] as const);
    await expectTooLarge(httpRequest({ target: TARGET, headers: [bearer(relay.token), ...filler] }));
  });

  it('refuses an oversized WebSocket upgrade to exec', async () => {
    await expectRefused(
      relay.harness,
      () =>
        openWebSocket(relay.harness, '/api/v1/namespaces/claims/pods/intake-0/exec?command=sh&stdout=true', {
          Authorization: `Bearer ${relay.token}`,
          'X-Padding': 'a'.repeat(20_000),
        }),
      TOO_LARGE,
    );
  });

  it('refuses, not truncates, 17 KB of short headers (more than the HTTP parser keeps)', async () => {
    // Node keeps about the first 1000 headers and drops the rest silently, and counts the bytes of the block loosely
    // (about 28 KB of short headers pass its 16 KB bound). The relay then forwards the first 1000 client headers ahead
    // of its own Authorization and Impersonate-* headers, which an upstream that also keeps 1000 headers drops.
    const filler = Array.from({ length: 1800 }, (_, index) => [`x${index}`, '1'] as const);
    const bytes = httpRequest({ target: TARGET, headers: [bearer(relay.token), ...filler] });
    expect(Buffer.byteLength(bytes)).toBeGreaterThan(16_384);

    await expectTooLarge(bytes);
  });
});

describe('an oversized path', () => {
  it('refuses a path longer than any Kubernetes path at the target stage', async () => {
    const target = `/api/v1/namespaces/claims/pods/${'a'.repeat(5000)}`;

    await expectRefused(
      relay.harness,
      { target, headers: [bearer(relay.token)] },
      {
        status: 400,
        reason: 'BadRequest',
        message: 'request path refused: path longer than 4096 characters',
        stage: 'target',
        details: { targetLength: target.length },
      },
    );
  });
});
