/**
 * ECDSA signatures in their two encodings: the DER `SEQUENCE { INTEGER r, INTEGER s }` that KMS and OpenSSL produce
 * (RFC 3279 section 2.2.3), and the fixed-length `r || s` that JOSE requires (RFC 7518 section 3.4). Pure byte work,
 * strict about the DER it accepts: a signature that does not parse exactly is refused, never guessed at.
 */

/** A DER signature that is not one ECDSA signature for the curve. */
export class EcdsaSignatureFormatError extends Error {
  override name = 'EcdsaSignatureFormatError';
}

/** Bytes of each of `r` and `s` for P-256. */
export const P256_COORDINATE_BYTES = 32;

/** DER `SEQUENCE { INTEGER r, INTEGER s }` → `r || s`, each left-padded to `size` bytes (32 for P-256). */
export function derToJoseSignature(der: Uint8Array, size: number = P256_COORDINATE_BYTES): Uint8Array {
  const fail = (why: string): never => {
    throw new EcdsaSignatureFormatError(`not a DER ECDSA signature: ${why}`);
  };
  let offset = 0;
  const byte = () => (offset < der.length ? der[offset++]! : fail('truncated'));
  const length = () => {
    const first = byte();
    if (first < 0x80) return first;
    // Long form, one length byte: a P-256 or P-384 signature is at most 104 bytes; P-521 needs 0x81.
    if (first !== 0x81) return fail('unsupported length');
    const value = byte();
    if (value < 0x80) return fail('non-minimal length');
    return value;
  };
  const integer = () => {
    if (byte() !== 0x02) fail('expected an INTEGER');
    const len = length();
    if (len === 0 || offset + len > der.length) fail('bad INTEGER length');
    let bytes = der.subarray(offset, offset + len);
    offset += len;
    if (bytes[0]! & 0x80) fail('negative INTEGER');
    if (bytes.length > 1 && bytes[0] === 0 && !(bytes[1]! & 0x80)) fail('non-minimal INTEGER');
    if (bytes[0] === 0) bytes = bytes.subarray(1);
    if (bytes.length > size) fail('INTEGER larger than the curve');
    return bytes;
  };
  if (byte() !== 0x30) fail('expected a SEQUENCE');
  if (length() !== der.length - offset) fail('SEQUENCE length does not match');
  const r = integer();
  const s = integer();
  if (offset !== der.length) fail('trailing bytes');
  const out = new Uint8Array(size * 2);
  out.set(r, size - r.length);
  out.set(s, size * 2 - s.length);
  return out;
}

/** `r || s` → DER `SEQUENCE { INTEGER r, INTEGER s }` (for verifiers that want DER, and tests). */
export function joseToDerSignature(jose: Uint8Array): Uint8Array {
  if (jose.length === 0 || jose.length % 2 !== 0) {
    throw new EcdsaSignatureFormatError('a JOSE ECDSA signature has two equal halves');
  }
  const half = jose.length / 2;
  const integer = (value: Uint8Array) => {
    let start = 0;
    while (start < value.length - 1 && value[start] === 0) start += 1;
    const trimmed = value.subarray(start);
    const padded = trimmed[0]! & 0x80 ? [0, ...trimmed] : [...trimmed];
    return [0x02, padded.length, ...padded];
  };
  const body = [...integer(jose.subarray(0, half)), ...integer(jose.subarray(half))];
  const header = body.length < 0x80 ? [0x30, body.length] : [0x30, 0x81, body.length];
  return Uint8Array.from([...header, ...body]);
}
