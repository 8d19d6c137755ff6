/**
 * IP addresses. IPv4 is found from its first digit run, IPv6 from its first `:`. Addresses in a configured non-PHI range
 * (the cluster's service, pod and node CIDRs) are left alone: they identify workloads, not people.
 */
import { endsToken, isDigit, isHex, startsToken } from './characters.ts';

/** An IP range as 16-bit words (IPv4 as two words) and a prefix length over them. */
interface Range {
  v4: boolean;
  words: Uint16Array;
  prefix: number;
}

export class NonPhiRanges {
  private readonly ranges: Range[];

  constructor(cidrs: readonly string[]) {
    this.ranges = cidrs.map((cidr) => {
      const range = parseCidr(cidr);
      if (!range) throw new Error(`not a CIDR: ${cidr}`);
      return range;
    });
  }

  contains(v4: boolean, words: Uint16Array): boolean {
    // A loop, not `some`: this runs for every address found, and a closure per call shows in the profile.
    for (const range of this.ranges) if (range.v4 === v4 && inPrefix(words, range.words, range.prefix)) return true;
    return false;
  }
}

function inPrefix(words: Uint16Array, base: Uint16Array, prefix: number): boolean {
  for (let bit = 0; bit < prefix; bit += 16) {
    const bits = Math.min(16, prefix - bit);
    const mask = (0xffff << (16 - bits)) & 0xffff;
    const index = bit / 16;
    if ((words[index]! & mask) !== (base[index]! & mask)) return false;
  }
  return true;
}

/** Parses `10.100.0.0/16` or `fd00::/8`; undefined when it is not a CIDR. */
export function parseCidr(cidr: string): Range | undefined {
  const slash = cidr.indexOf('/');
  if (slash < 0 || !/^\d{1,3}$/.test(cidr.slice(slash + 1))) return undefined;
  const address = cidr.slice(0, slash);
  const prefix = Number(cidr.slice(slash + 1));
  const words = new Uint16Array(8);
  if (parseIpv4(address, 0, words, 0) === address.length) {
    return prefix <= 32 ? { v4: true, words: words.slice(0, 2), prefix } : undefined;
  }
  if (parseIpv6(address, 0, words) === address.length) {
    return prefix <= 128 ? { v4: false, words, prefix } : undefined;
  }
  return undefined;
}

/**
 * Reads a dotted quad at `start` into two words of `words` from `offset`; returns its end, or -1. Octets are 0–255
 * without a leading zero, read by char codes (no regular expression: an address is found every few log lines). The
 * last octet takes at most three digits; a digit after it is for the caller's token end to refuse.
 */
function parseIpv4(text: string, start: number, words: Uint16Array, offset: number): number {
  let index = start;
  let word = 0;
  for (let octets = 0; octets < 4; octets += 1) {
    if (octets > 0) {
      if (text.charCodeAt(index) !== 46) return -1;
      index += 1;
    }
    const octetStart = index;
    let octet = 0;
    for (let code = text.charCodeAt(index); index - octetStart < 3 && isDigit(code); code = text.charCodeAt(index)) {
      octet = octet * 10 + code - 48;
      index += 1;
    }
    const digits = index - octetStart;
    if (digits === 0 || octet > 255 || (digits > 1 && text.charCodeAt(octetStart) === 48)) return -1;
    word = (word << 8) | octet;
    if (octets % 2 === 1) {
      words[offset + (octets - 1) / 2] = word;
      word = 0;
    }
  }
  return index;
}

/**
 * Reads an IPv6 address at `start` into eight words (`::` expanded, an IPv4 tail allowed); returns its end, or -1. Only
 * the full eight groups or a `::` form count, so `10:11:12` and MAC addresses are not addresses.
 */
export function parseIpv6(text: string, start: number, words: Uint16Array): number {
  let index = start;
  let groups = 0;
  let gapAt = -1;
  if (text.charCodeAt(index) === 58 && text.charCodeAt(index + 1) === 58) {
    gapAt = 0;
    index += 2;
  }
  while (groups < 8) {
    let end = index;
    let value = 0;
    while (end < text.length && end - index < 4 && isHex(text.charCodeAt(end))) {
      value = value * 16 + parseInt(text[end]!, 16);
      end += 1;
    }
    if (end === index) break;
    if (text.charCodeAt(end) === 46) {
      const v4End = groups <= 6 ? parseIpv4(text, index, words, groups) : -1;
      if (v4End < 0) return -1;
      groups += 2;
      index = v4End;
      break;
    }
    words[groups] = value;
    groups += 1;
    index = end;
    if (text.charCodeAt(index) !== 58) break;
    if (text.charCodeAt(index + 1) === 58) {
      if (gapAt >= 0) break;
      gapAt = groups;
      index += 2;
    } else if (isHex(text.charCodeAt(index + 1))) {
      index += 1;
    } else {
      break;
    }
  }
  if (gapAt < 0 ? groups !== 8 : groups > 7) return -1;
  if (gapAt >= 0) {
    const tail = groups - gapAt;
    words.copyWithin(8 - tail, gapAt, groups);
    words.fill(0, gapAt, 8 - tail);
  }
  return index;
}

const scratch = new Uint16Array(8);

/** IPv4 from the digit run at `start`: not inside a version (`v1.2.3.4`, `1.2.3.4-alpha`) or an OID (`1.3.6.1.4.1`). */
export function detectIpv4(text: string, start: number, runEnd: number, nonPhi: NonPhiRanges): number {
  if (runEnd - start > 3 || text.charCodeAt(runEnd) !== 46) return -1;
  const end = parseIpv4(text, start, scratch, 0);
  if (end < 0 || !endsToken(text, end) || nonPhi.contains(true, scratch)) return -1;
  return end;
}

/**
 * IPv6 around the `:` at `colon`: it starts at the hex run before the colon. The compressed form needs two groups and
 * the address a digit, so `std::` and `a::b` in code are not addresses.
 */
export function detectIpv6(
  text: string,
  colon: number,
  nonPhi: NonPhiRanges,
): { start: number; end: number } | undefined {
  let start = colon;
  while (start > 0 && colon - start < 4 && isHex(text.charCodeAt(start - 1))) start -= 1;
  if (start > 0) {
    const previous = text.charCodeAt(start - 1);
    if (previous === 58 || previous === 46 || !startsToken(text, start)) return undefined;
  }
  const next = text.charCodeAt(colon + 1);
  if (!(next === 58 || isHex(next))) return undefined;
  const end = parseIpv6(text, start, scratch);
  if (end < 0 || !endsToken(text, end) || text.charCodeAt(end) === 58) return undefined;
  let digits = false;
  let colons = 0;
  for (let index = start; index < end; index += 1) {
    const code = text.charCodeAt(index);
    if (isDigit(code)) digits = true;
    else if (code === 58) colons += 1;
  }
  if (!digits || colons < 2 || nonPhi.contains(false, scratch)) return undefined;
  return { start, end };
}
