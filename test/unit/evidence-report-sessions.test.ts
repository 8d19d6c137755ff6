/**
 * report.html with sessions: each grant's relay requests and sessions, relay masking counted in the grant's masked
 * figures, recordings embedded as JSON data blocks, and the player (a stand-in here) admitted by the CSP's hashes.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { renderEvidenceReport, type ReportRecording } from '../../shared/evidence/report.ts';
import { sessionRecordings } from '../../shared/evidence/session-recordings.ts';
import { recordSession } from '../support/session-recordings.ts';
import { buildEvent } from '../../shared/audit/chain.ts';

const GRANT = 'grt_01KBCDEFGHJKMNPQRSTVWXYZ00';
const REQUEST = 'req_01KBCDEFGHJKMNPQRSTVWXYZ00';
const SESSION = '01KBCDEFGHJKMNPQRSTVWXYZ00';
const STAND_IN = {
  script: 'window.AsciinemaPlayer={create(){}};',
  css: '.ap-player{color:red}',
  label: 'stand-in 0.0.0',
};
const hash = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

function render(options: { recordings?: (bytes: Buffer) => ReportRecording[]; player?: boolean } = {}) {
  const recorded = recordSession({
    sessionId: SESSION,
    grantId: GRANT,
    requestId: REQUEST,
    start: new Date('2026-03-01T10:05:00.000Z'),
    masked: 2,
    steps: [{ atMs: 10, output: '</script><img src=x> MRN [masked]\r\n' }],
  });
  const requested = buildEvent(
    {
      type: 'access.requested',
      stream: `request/${REQUEST}`,
      actor: { id: 'local:agent:claude' },
      subject: { cluster: 'dev', namespaces: ['app'] },
      requestId: REQUEST,
      details: { access: 'view', purpose: 'debug' },
    },
    undefined,
    '01KB0000000000000000000001',
    new Date('2026-03-01T10:00:00.000Z'),
  );
  const granted = buildEvent(
    {
      type: 'grant.created',
      stream: `grant/${GRANT}`,
      actor: { id: 'system:grants' },
      requestId: REQUEST,
      grantId: GRANT,
    },
    undefined,
    '01KB0000000000000000000002',
    new Date('2026-03-01T10:01:00.000Z'),
  );
  const listed = buildEvent(
    {
      type: 'relay.request',
      stream: `relay/${GRANT}/i/0`,
      actor: { id: 'local:agent:claude' },
      subject: { cluster: 'dev', namespace: 'app', resource: 'configmaps' },
      requestId: REQUEST,
      grantId: GRANT,
      details: {
        verb: 'list',
        resource: 'configmaps',
        status: 200,
        masking: { total: 3, entries: [{ path: '$.items[*].data.mrn', by: 'detector:mrn', count: 3 }] },
      },
    },
    undefined,
    '01KB0000000000000000000003',
    new Date('2026-03-01T10:02:00.000Z'),
  );
  const events = [requested, granted, listed, ...recorded.events];
  const html = renderEvidenceReport({
    range: { from: '2026-03-01T00:00:00.000Z', to: '2026-03-02T00:00:00.000Z' },
    generatedAt: '2026-03-02T00:00:00.000Z',
    events,
    digests: [],
    uncoveredEvents: 0,
    recordings: options.recordings
      ? options.recordings(recorded.bytes)
      : [{ ref: sessionRecordings(events)[0]!, bytes: recorded.bytes }],
    ...(options.player === false ? {} : { player: STAND_IN }),
  });
  return { html, recorded };
}

describe('renderEvidenceReport with sessions', () => {
  it("lists the grant's relay requests and counts their masking, with the exec's, in the grant's masked figure", () => {
    const { html } = render();

    expect(html).toContain('data-grant="grt_01KBCDEFGHJKMNPQRSTVWXYZ00" data-masked="5"');
    expect(html).toMatch(
      /<tr data-relay-request data-status="200" data-masked="3"><td>.*<\/td><td>list<\/td><td><code>configmaps<\/code>/,
    );
    expect(html).toMatch(/<tr data-relay-request data-status="101" data-masked="2">/);
    expect(html).toContain('$.items[*].data.mrn · detector:mrn × 3');
    expect(html).toContain('data-count="sessions">1<');
  });

  it('embeds the recording as a JSON data block that no content can close, and a player that reads it', () => {
    const { html, recorded } = render();

    const block = /<script type="application\/json" id="cast-01KBCDEFGHJKMNPQRSTVWXYZ00">([^<]*)<\/script>/.exec(html);
    expect(block).not.toBeNull();
    expect(JSON.parse(block![1]!)).toBe(recorded.bytes.toString('utf8'));
    expect(html).toContain('<div class="player" data-cast="cast-01KBCDEFGHJKMNPQRSTVWXYZ00"></div>');
    expect(html).not.toContain('<img src=x>');
    expect(html).toContain('data-recording-state="verified"');
  });

  it("admits the player's script, the boot script and both styles by hash, wasm compilation, and nothing else", () => {
    const { html } = render();

    const csp = /content="([^"]*)"/
      .exec(html.slice(html.indexOf('Content-Security-Policy')))![1]!
      .replace(/&#39;/g, "'");
    const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((match) => match[1]!);
    const styles = [...html.matchAll(/<style>([\s\S]*?)<\/style>/g)].map((match) => match[1]!);
    expect(scripts[0]).toBe(STAND_IN.script);
    expect(styles).toContain(STAND_IN.css);
    expect(csp).toBe(
      `default-src 'none'; style-src ${styles.map(hash).join(' ')}; script-src ${scripts.map(hash).join(' ')} 'wasm-unsafe-eval'; img-src data:; base-uri 'none'; form-action 'none'`,
    );
    expect(html).not.toMatch(/\s(?:src|href)\s*=\s*["']/);
  });

  it('without the player: no executable script, the transcript open, the recording still in a data block', () => {
    const { html } = render({ player: false });

    expect(html).not.toMatch(/<script(?! type="application\/json")/);
    expect(html).not.toContain('script-src');
    expect(html).toContain('<details open><summary>Transcript');
    expect(html).toContain('&#60;/script&#62;&#60;img src=x&#62; MRN [masked]');
  });

  it("flags a recording whose SHA-256 is not the event's and neither plays nor shows it", () => {
    const { html } = render({
      recordings: (bytes) => [
        {
          ref: {
            sessionId: SESSION,
            key: `sessions/2026-03-01/${SESSION}.cast`,
            sha256: '0'.repeat(64),
            bytes: 1,
            endedAt: '',
          },
          bytes,
          mismatch: 'changed after the session ended',
        },
      ],
    });

    expect(html).toContain('data-recording-state="tampered"');
    expect(html).not.toContain('type="application/json"');
    expect(html).not.toContain('data-cast=');
  });

  it('refuses player files that could close the element they are inlined in', () => {
    expect(() =>
      renderEvidenceReport({
        range: { from: '2026-03-01T00:00:00.000Z', to: '2026-03-02T00:00:00.000Z' },
        generatedAt: '2026-03-02T00:00:00.000Z',
        events: [],
        digests: [],
        uncoveredEvents: 0,
        player: { script: 'x="</script>"', css: '' },
      }),
    ).toThrow(/not inlined/);
  });
});
