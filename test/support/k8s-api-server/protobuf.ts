/**
 * Just enough of the apiserver's protobuf encoding to read what kubectl's typed clients send as
 * `application/vnd.kubernetes.protobuf` (`kubectl auth can-i`, `auth whoami`, `create namespace|configmap|secret`): the `k8s\0` magic, the runtime.Unknown envelope, and the fields of
 * SelfSubjectAccessReview/SubjectAccessReview specs
 * (https://kubernetes.io/docs/reference/using-api/api-concepts/#protobuf-encoding, k8s.io/api/authorization/v1/generated.proto).
 */
import { badRequest } from './status.ts';

type Fields = Map<number, (Buffer | bigint)[]>;

function readVarint(bytes: Buffer, offset: number): [bigint, number] {
  let result = 0n;
  let shift = 0n;
  for (;;) {
    const byte = bytes[offset++];
    if (byte === undefined) throw badRequest('truncated protobuf varint');
    result |= BigInt(byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return [result, offset];
    shift += 7n;
  }
}

/** Top-level fields of one message: length-delimited ones as bytes, varints as bigint. */
function fields(bytes: Buffer): Fields {
  const out: Fields = new Map();
  let offset = 0;
  while (offset < bytes.length) {
    const [tag, next] = readVarint(bytes, offset);
    offset = next;
    const field = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    let value: Buffer | bigint;
    if (wire === 0) {
      [value, offset] = readVarint(bytes, offset);
    } else if (wire === 2) {
      const [length, start] = readVarint(bytes, offset);
      value = bytes.subarray(start, start + Number(length));
      offset = start + Number(length);
    } else if (wire === 1) {
      value = bytes.subarray(offset, offset + 8);
      offset += 8;
    } else if (wire === 5) {
      value = bytes.subarray(offset, offset + 4);
      offset += 4;
    } else {
      throw badRequest(`unsupported protobuf wire type ${wire}`);
    }
    out.set(field, [...(out.get(field) ?? []), value]);
  }
  return out;
}

const bytesOf = (f: Fields, n: number): Buffer | undefined => {
  const v = f.get(n)?.[0];
  return Buffer.isBuffer(v) ? v : undefined;
};
const stringOf = (f: Fields, n: number): string | undefined => bytesOf(f, n)?.toString('utf8');
const stringsOf = (f: Fields, n: number): string[] =>
  (f.get(n) ?? []).filter(Buffer.isBuffer).map((b) => b.toString('utf8'));

function definedOnly(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

function resourceAttributes(b: Buffer | undefined): Record<string, unknown> | undefined {
  if (!b) return undefined;
  const f = fields(b);
  return definedOnly({
    namespace: stringOf(f, 1),
    verb: stringOf(f, 2),
    group: stringOf(f, 3),
    version: stringOf(f, 4),
    resource: stringOf(f, 5),
    subresource: stringOf(f, 6),
    name: stringOf(f, 7),
  });
}

function nonResourceAttributes(b: Buffer | undefined): Record<string, unknown> | undefined {
  if (!b) return undefined;
  const f = fields(b);
  return definedOnly({ path: stringOf(f, 1), verb: stringOf(f, 2) });
}

/** A proto map<string, string|bytes>: repeated entries of key 1, value 2. */
function mapOf(f: Fields, n: number, value: (b: Buffer) => string): Record<string, string> | undefined {
  const entries = (f.get(n) ?? []).filter(Buffer.isBuffer);
  if (entries.length === 0) return undefined;
  return Object.fromEntries(
    entries.map((e) => {
      const entry = fields(e);
      return [stringOf(entry, 1) ?? '', value(bytesOf(entry, 2) ?? Buffer.alloc(0))];
    }),
  );
}

/** ObjectMeta: 1 name, 2 generateName, 3 namespace, 11 labels, 12 annotations. */
function objectMeta(b: Buffer | undefined): Record<string, unknown> {
  const f = fields(b ?? Buffer.alloc(0));
  const text = (v: Buffer): string => v.toString('utf8');
  return definedOnly({
    name: stringOf(f, 1),
    generateName: stringOf(f, 2),
    namespace: stringOf(f, 3),
    labels: mapOf(f, 11, text),
    annotations: mapOf(f, 12, text),
  });
}

const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

/**
 * Decodes a protobuf-encoded review, Namespace, ConfigMap or Secret into its JSON shape; any other kind comes back
 * marked `unsupported` (and the request gets 415).
 */
export function decodeProtobuf(body: Buffer): Record<string, unknown> {
  if (!body.subarray(0, 4).equals(MAGIC)) throw badRequest('protobuf body without the k8s magic prefix');
  const unknown = fields(body.subarray(4));
  const typeMeta = fields(bytesOf(unknown, 1) ?? Buffer.alloc(0));
  const apiVersion = stringOf(typeMeta, 1);
  const kind = stringOf(typeMeta, 2) ?? '';
  const object = fields(bytesOf(unknown, 2) ?? Buffer.alloc(0));
  const specBytes = bytesOf(object, 2);
  const spec = specBytes ? fields(specBytes) : new Map();
  switch (kind) {
    case 'SelfSubjectAccessReview':
      return {
        apiVersion,
        kind,
        spec: definedOnly({
          resourceAttributes: resourceAttributes(bytesOf(spec, 1)),
          nonResourceAttributes: nonResourceAttributes(bytesOf(spec, 2)),
        }),
      };
    case 'SubjectAccessReview':
    case 'LocalSubjectAccessReview':
      // SubjectAccessReviewSpec: 1 resourceAttributes, 2 nonResourceAttributes, 3 user, 4 groups, 6 uid.
      return {
        apiVersion,
        kind,
        spec: definedOnly({
          resourceAttributes: resourceAttributes(bytesOf(spec, 1)),
          nonResourceAttributes: nonResourceAttributes(bytesOf(spec, 2)),
          user: stringOf(spec, 3),
          groups: stringsOf(spec, 4),
        }),
      };
    case 'SelfSubjectReview':
    case 'SelfSubjectRulesReview':
      return { apiVersion, kind, spec: definedOnly({ namespace: stringOf(spec, 1) }) };
    // What `kubectl create namespace|configmap|secret` send (k8s.io/api/core/v1/generated.proto).
    case 'Namespace':
      return { apiVersion, kind, metadata: objectMeta(bytesOf(object, 1)) };
    case 'ConfigMap': {
      const text = (v: Buffer): string => v.toString('utf8');
      const base64 = (v: Buffer): string => v.toString('base64');
      return definedOnly({
        apiVersion,
        kind,
        metadata: objectMeta(bytesOf(object, 1)),
        data: mapOf(object, 2, text),
        binaryData: mapOf(object, 3, base64),
      });
    }
    case 'Secret':
      return definedOnly({
        apiVersion,
        kind,
        metadata: objectMeta(bytesOf(object, 1)),
        data: mapOf(object, 2, (v) => v.toString('base64')),
        type: stringOf(object, 3),
        stringData: mapOf(object, 4, (v) => v.toString('utf8')),
      });
    default:
      return { apiVersion, kind, unsupported: true };
  }
}
