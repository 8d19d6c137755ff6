import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createTextScanner,
  ScannerOptionsSchema,
  type ScannerOptions,
  type ScannerTuning,
} from '../../shared/masking/detectors.ts';
import type { DetectorName } from '../../shared/masking/model.ts';

// Every value here is synthetic: SSNs from the valid ranges chosen at random, 555-01xx phone numbers, example.com
// addresses, the CMS documentation NPI and MBI examples, card-network test numbers.

// Every test runs on both loops: the one in JavaScript (short texts) and the one in WebAssembly (longer ones).
const LOOPS: NonNullable<ScannerTuning['loop']>[] = ['javascript', 'webassembly'];

describe.each(LOOPS)('with the %s loop', (loop) => {
  const scannerOf = (options?: ScannerOptions) => createTextScanner(options, { loop });

  /** What the scanner finds, as `[detector, matched text]` pairs in order. */
  function found(text: string, options?: ScannerOptions): [DetectorName, string][] {
    return scannerOf(options)
      .scan(text)
      .map((detection) => [detection.detector, text.slice(detection.start, detection.end)]);
  }

  describe('SSN', () => {
    it('finds dashed and spaced SSNs anywhere, with exact spans', () => {
      const line = '2024-03-05T10:11:12Z INFO intake ssn=123-45-6789 alt 321 54 9876.';
      expect(scannerOf().scan(line)).toEqual([
        { detector: 'ssn', start: 37, end: 48 },
        { detector: 'ssn', start: 53, end: 64 },
      ]);
    });

    it('finds a bare 9-digit SSN only after a word that names it', () => {
      expect(found('{"ssn":"123456789"}')).toEqual([['ssn', '123456789']]);
      expect(found('Social Security: 123456789')).toEqual([['ssn', '123456789']]);
      expect(found('{"resourceVersion":"123456789"}')).toEqual([]);
    });

    it('refuses area 000, 666 and 900-999, group 00 and serial 0000', () => {
      for (const value of ['000-12-3456', '666-12-3456', '900-12-3456', '999-12-3456', '123-00-4567', '123-45-0000']) {
        expect(found(`ssn ${value}`)).toEqual([]);
      }
      expect(found('ssn 899-99-9999')).toEqual([['ssn', '899-99-9999']]);
    });

    it('finds a dashed SSN a name glues to words: a file name, an object key', () => {
      const text = 'put intake-123-45-6789.pdf patient_321-54-9876_front.jpg /scans/234-56-7890.tar.gz';
      expect(found(text)).toEqual([
        ['ssn', '123-45-6789'],
        ['ssn', '321-54-9876'],
        ['ssn', '234-56-7890'],
      ]);
    });

    it('leaves the shape alone where a digit or no joiner glues it, or when it is spaced', () => {
      expect(found('v1-123-45-6789 a123-45-6789 123-45-6789x 123-45-6789.1 build-123 45 6789')).toEqual([]);
    });

    it('refuses mixed separators and digit runs glued to the shape', () => {
      expect(found('123-45 6789 1123-45-6789 123-45-67890 a123-45-6789')).toEqual([]);
    });
  });

  describe('dates', () => {
    it('finds dates without a time of day in common formats', () => {
      const text = 'dob 1980-03-05; seen 03/05/1980; 5 Mar 1980; 05-Mar-1980; March 5, 1980; Mar. 5th 1980; 2024/3/5';
      expect(found(text).map(([, value]) => value)).toEqual([
        '1980-03-05',
        '03/05/1980',
        '5 Mar 1980',
        '05-Mar-1980',
        'March 5, 1980',
        'Mar. 5th 1980',
        '2024/3/5',
      ]);
    });

    it('leaves RFC 3339 and log timestamps alone unless a person word comes just before', () => {
      expect(found('{"creationTimestamp":"2024-03-05T10:11:12Z"}')).toEqual([]);
      expect(found('2024-03-05 10:11:12,123 INFO started')).toEqual([]);
      expect(found('2024-03-05T10:11:12.123456Z INFO admitted patient')).toEqual([]);
      expect(found('{"birthDate":"1980-03-05T00:00:00Z"}')).toEqual([['date', '1980-03-05T00:00:00Z']]);
      expect(found('discharged at 2024-03-05 10:11')).toEqual([['date', '2024-03-05 10:11']]);
    });

    it('does not lend a person word of one field to the timestamp of the next', () => {
      expect(found('{"birthDate":"1980-03-05","created":"2024-03-05T10:11:12Z"}')).toEqual([['date', '1980-03-05']]);
    });

    it('masks timestamps too in mode all', () => {
      expect(found('{"creationTimestamp":"2024-03-05T10:11:12Z"}', { dates: 'all' })).toEqual([
        ['date', '2024-03-05T10:11:12Z'],
      ]);
    });

    it('refuses impossible dates, two-digit years, bare YYYYMMDD, versions and dated paths', () => {
      const text = '2024-13-05 1980-02-32 13/13/1980 03/05/80 19800305 v2024-03-05 /logs/2024/03/05/app.log 1.2.3';
      expect(found(text)).toEqual([]);
    });
  });

  describe('phone', () => {
    it('finds US formats and E.164', () => {
      const text =
        'call (202) 555-0143, 202-555-0143, 202.555.0143, 202 555 0143, +1 202 555 0143, 1-202-555-0143 or +447911123456';
      expect(found(text)).toEqual([
        ['phone', '(202) 555-0143'],
        ['phone', '202-555-0143'],
        ['phone', '202.555.0143'],
        ['phone', '202 555 0143'],
        ['phone', '+1 202 555 0143'],
        ['phone', '1-202-555-0143'],
        ['phone', '+447911123456'],
      ]);
    });

    it('finds a bare 10-digit number only after phone, tel or fax words', () => {
      expect(found('{"fax":"2025550143"}')).toEqual([['phone', '2025550143']]);
      expect(found('{"ts":2025550143}')).toEqual([]);
    });

    it('refuses invalid area codes and exchanges, versions, IPs, timezone offsets, epoch seconds and port lists', () => {
      const text = '123-456-7890 202-155-0143 v1.28.3 10.0.0.1 +0100 +05:30 1709632272 8080,8443,9090 1.2.3';
      expect(found(text, { enabled: ['phone'] })).toEqual([]);
    });
  });

  describe('email', () => {
    it('finds addresses in text and JSON', () => {
      expect(found('{"email":"jane.doe+intake@example.com"} cc <j_doe@mail.example.org>.')).toEqual([
        ['email', 'jane.doe+intake@example.com'],
        ['email', 'j_doe@mail.example.org'],
      ]);
    });

    it('refuses image digests, package versions and bare handles', () => {
      expect(found('registry.example.com/app@sha256:0a1b2c pkg@1.2.3 @jane user@localhost')).toEqual([]);
    });
  });

  describe('medical record, health plan and account numbers', () => {
    it('finds the numbers after their labels by the default patterns, masking only the number', () => {
      const text = 'MRN: 00123456, {"memberId":"XYZ123456789"}, account number 12345678, acct# 87654321';
      expect(found(text)).toEqual([
        ['mrn', '00123456'],
        ['health-plan', 'XYZ123456789'],
        ['account', '12345678'],
        ['account', '87654321'],
      ]);
    });

    it('leaves AWS account ids, ordinary ids and ticket numbers alone', () => {
      expect(found('"accountId":"123456789012" id=12345678 JIRA-1234 INC0012345')).toEqual([]);
    });

    it('takes configured patterns, whole match or first group, and drops matches without a digit', () => {
      const options = { mrnPatterns: ['PT-\\d{5}', 'chart (\\w+)'] };
      expect(found('ref PT-12345, chart AB1234, chart ABCDEF', options)).toEqual([
        ['mrn', 'PT-12345'],
        ['mrn', 'AB1234'],
      ]);
    });

    it('refuses invalid patterns and backreferences in the options', () => {
      expect(ScannerOptionsSchema.safeParse({ mrnPatterns: ['(unclosed'] }).success).toBe(false);
      expect(ScannerOptionsSchema.safeParse({ accountPatterns: ['(\\d)\\1'] }).success).toBe(false);
    });
  });

  describe('NPI', () => {
    it('finds a 10-digit NPI with a valid check digit after the word npi', () => {
      const fhir = '{"system":"http://hl7.org/fhir/sid/us-npi","value":"1234567893"}';
      expect(found(fhir)).toEqual([['npi', '1234567893']]);
    });

    it('refuses a wrong check digit, a first digit other than 1 or 2, and numbers without the npi word', () => {
      expect(found('npi 1234567890 npi 3234567893')).toEqual([]);
      expect(found('processed at epoch 1234567893')).toEqual([]);
    });
  });

  describe('MBI', () => {
    it('finds an MBI with or without dashes', () => {
      expect(found('mbi 1EG4-TE5-MK73 and 1EG4TE5MK73')).toEqual([
        ['mbi', '1EG4-TE5-MK73'],
        ['mbi', '1EG4TE5MK73'],
      ]);
    });

    it('refuses excluded letters, wrong positions, a leading zero, lower case and one dash', () => {
      for (const value of ['1SG4TE5MK73', '1EG4TB5MK73', '0EG4TE5MK73', '12G4TE5MK73', '1eg4te5mk73', '1EG4-TE5MK73']) {
        expect(found(`mbi ${value}`)).toEqual([]);
      }
    });
  });

  describe('street addresses and ZIP codes', () => {
    it('finds an address with its unit and city, and the ZIP after the state', () => {
      expect(found('ship to 1234 Main St, Apt 5B, Springfield, IL 62704-1234 today')).toEqual([
        ['street-address', '1234 Main St, Apt 5B, Springfield, IL'],
        ['zip', '62704-1234'],
      ]);
      expect(found('10 W 42nd Street')).toEqual([['street-address', '10 W 42nd Street']]);
    });

    it('finds a ZIP after zip or postal words', () => {
      expect(found('{"postalCode":"90210"} zip: 02134')).toEqual([
        ['zip', '90210'],
        ['zip', '02134'],
      ]);
    });

    it('leaves ports, counts and lower-case prose alone', () => {
      expect(found('listening on :62704, 12345 items, wrote 5 files to disk drive; status OK 12345')).toEqual([]);
    });
  });

  describe('IP addresses', () => {
    it('finds IPv4 and IPv6 addresses', () => {
      expect(found('from 203.0.113.7:443 and [2001:db8::7]:443, fe80::1%eth0, ::ffff:198.51.100.9')).toEqual([
        ['ip', '203.0.113.7'],
        ['ip', '2001:db8::7'],
        ['ip', 'fe80::1'],
        ['ip', '::ffff:198.51.100.9'],
      ]);
    });

    it('leaves configured non-PHI ranges and loopback alone', () => {
      const options = { nonPhiCidrs: ['10.100.0.0/16', 'fd00::/8', '127.0.0.0/8'] };
      expect(found('svc 10.100.3.4 pod fd00::12:1 lo 127.0.0.1 client 10.101.0.1', options)).toEqual([
        ['ip', '10.101.0.1'],
      ]);
      expect(found('lo 127.0.0.1 and ::1')).toEqual([]);
    });

    it('refuses versions, OIDs, out-of-range octets, times and MAC addresses', () => {
      const text = 'v1.2.3.4 1.2.3.4-alpha 1.3.6.1.4.1.311 256.1.1.1 10:11:12 00:1a:2b:3c:4d:5e std::vector';
      expect(found(text)).toEqual([]);
    });

    it('reads a dotted quad as a regular expression of octets 0-255 without leading zeros would', () => {
      const octet = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
      const address = new RegExp(`^${octet}(?:\\.${octet}){3}$`);
      const octets = ['0', '00', '01', '7', '10', '99', '100', '199', '249', '250', '255', '256', '300', '1000'];
      fc.assert(
        fc.property(fc.array(fc.constantFrom(...octets), { minLength: 3, maxLength: 5 }), (parts) => {
          const candidate = parts.join('.');
          const expected: [DetectorName, string][] = address.test(candidate) ? [['ip', candidate]] : [];
          expect(found(`from ${candidate} seen`, { enabled: ['ip'], nonPhiCidrs: [] })).toEqual(expected);
        }),
        { numRuns: 300 },
      );
    });

    it('refuses a CIDR that does not parse', () => {
      expect(ScannerOptionsSchema.safeParse({ nonPhiCidrs: ['10.0.0.256/24'] }).success).toBe(false);
      expect(ScannerOptionsSchema.safeParse({ nonPhiCidrs: ['010.0.0.0/8'] }).success).toBe(false);
      expect(ScannerOptionsSchema.safeParse({ nonPhiCidrs: ['10.0.0.0/33'] }).success).toBe(false);
      expect(ScannerOptionsSchema.safeParse({ nonPhiCidrs: ['cluster'] }).success).toBe(false);
    });
  });

  describe('URL query values', () => {
    it('masks the values of identifying parameters and keeps the URL', () => {
      const line = 'GET /fhir/Patient?family=Doe&_count=10&name:exact=Jane%20Doe&identifier=abc HTTP/1.1';
      expect(found(line)).toEqual([
        ['url', 'Doe'],
        ['url', 'Jane%20Doe'],
        ['url', 'abc'],
      ]);
    });

    it('lets a more specific detector claim the same value', () => {
      expect(found('https://example.com/p?dob=1980-03-05&email=jane@example.com')).toEqual([
        ['date', '1980-03-05'],
        ['email', 'jane@example.com'],
      ]);
    });

    it('uses the configured parameter names and ignores a question in prose', () => {
      expect(found('/search?patient=12&q=x', { identifyingUrlParameters: ['q'] })).toEqual([['url', 'x']]);
      expect(found('really? name=Doe')).toEqual([]);
    });
  });

  describe('credit cards', () => {
    it('finds bare and grouped numbers with a known issuer and a valid Luhn digit', () => {
      expect(found('card 4111 1111 1111 1111, 5500-0000-0000-0004, 378282246310005, 3782 822463 10005')).toEqual([
        ['credit-card', '4111 1111 1111 1111'],
        ['credit-card', '5500-0000-0000-0004'],
        ['credit-card', '378282246310005'],
        ['credit-card', '3782 822463 10005'],
      ]);
    });

    it('finds a grouped card followed by another number in the same style', () => {
      expect(found('paid 4111 1111 1111 1111 123 45 6789 and 3782 822463 10005 1234')).toEqual([
        ['credit-card', '4111 1111 1111 1111'],
        ['ssn', '123 45 6789'],
        ['credit-card', '3782 822463 10005'],
      ]);
    });

    it('refuses a bad check digit, an unknown issuer and nanosecond timestamps', () => {
      expect(found('4111 1111 1111 1112 9111111111111111 1709632272123456789')).toEqual([]);
    });
  });

  describe('near misses in cluster data', () => {
    it('finds nothing in ordinary Kubernetes metadata and logs', () => {
      const text = [
        '{"metadata":{"uid":"3f2a8b1c-1234-5678-9abc-def012345678","resourceVersion":"123456789",',
        '"creationTimestamp":"2024-03-05T10:11:12Z","generation":12345},',
        '"image":"registry.example.com/intake@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",',
        '"ports":[{"containerPort":8080},{"containerPort":9090}],"resources":{"limits":{"memory":"512Mi","cpu":"250m"}}}',
        'I0305 10:11:12.123456       1 controller.go:123] "Reconciling" version="v1.28.3" after 1h30m5s took 1.5GB',
        'JIRA-1234 INC0012345 hash 5d41402abc4b2a76b9719d911017c592 blob QUJDMTIzNDU2Nzg5MDEyMzQ1Njc4OQ==',
      ].join('\n');
      expect(found(text)).toEqual([]);
    });
  });

  describe('overlaps and tokens', () => {
    it('keeps the longest of overlapping detections', () => {
      // The MRN pattern claims 8 digits the date detector would not; a longer configured pattern takes the whole date.
      expect(found('seen 1980-03-05 x', { mrnPatterns: ['seen \\d{4}-\\d\\d-\\d\\d x'] })).toEqual([
        ['mrn', 'seen 1980-03-05 x'],
      ]);
      expect(found('MRN 123-45-6789', { mrnPatterns: ['MRN (\\d{3})'] })).toEqual([['ssn', '123-45-6789']]);
    });

    it('never detects inside an existing token, so masking twice changes nothing', () => {
      const masked =
        'ssn [MASKED:SSN] phone [MASKED:PHONE:…0143] id [HASH:MRN:0123456789abcdef] ?name=[MASKED:URL] MRN [HASH:MRN:1234567890123456]';
      expect(found(masked)).toEqual([]);
    });

    it('passes over only a whole token: text that merely starts like one is scanned', () => {
      // A log line can hold `[MASKED:` by chance; reading to the next `]` would hide what lies between.
      expect(found('[MASKED: note ssn 123-45-6789 ]')).toEqual([['ssn', '123-45-6789']]);
      expect(found('[MASKED:SSN\nssn 123-45-6789]')).toEqual([['ssn', '123-45-6789']]);
      expect(found('[HASH:MRN:x ssn 123-45-6789] [MASKED:SSN] 123-45-6789')).toEqual([
        ['ssn', '123-45-6789'],
        ['ssn', '123-45-6789'],
      ]);
    });

    it('returns detections sorted and apart', () => {
      const detections = scannerOf().scan('jane@example.com 123-45-6789 (202) 555-0143 1980-03-05 203.0.113.7');
      expect(detections.map((detection) => detection.detector)).toEqual(['email', 'ssn', 'phone', 'date', 'ip']);
      for (let index = 1; index < detections.length; index += 1) {
        expect(detections[index]!.start).toBeGreaterThanOrEqual(detections[index - 1]!.end);
      }
    });
  });

  describe('options', () => {
    it('runs only the enabled detectors', () => {
      expect(found('123-45-6789 jane@example.com', { enabled: ['email'] })).toEqual([['email', 'jane@example.com']]);
    });

    it('refuses unknown keys and detectors', () => {
      expect(ScannerOptionsSchema.safeParse({ enabled: ['names'] }).success).toBe(false);
      expect(ScannerOptionsSchema.safeParse({ date: 'all' }).success).toBe(false);
    });
  });

  describe('pathological input', () => {
    it('scans a 1 MB line of near-miss shapes without backtracking blow-up', () => {
      const shapes = [
        '1'.repeat(1_000_000),
        '1 '.repeat(500_000),
        '1-'.repeat(500_000),
        '1.'.repeat(500_000),
        'a@'.repeat(500_000),
        ':'.repeat(1_000_000),
        '1:'.repeat(500_000),
        '(1'.repeat(500_000),
        '+1 '.repeat(300_000),
        '1 Main '.repeat(150_000),
        '?a=&'.repeat(250_000),
        'MRN '.repeat(250_000),
      ];
      const scanner = scannerOf();
      for (const shape of shapes) expect(scanner.scan(shape)).toEqual([]);
    });
  });
});
