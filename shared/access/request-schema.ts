import * as z from 'zod';

/** A Kubernetes namespace name: an RFC 1123 label. */
const namespaceName = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'must be a Kubernetes namespace name (RFC 1123 label)');

/** Tabs and newlines are fine in a purpose; other control characters only ever hide text from a reviewer. */
function hasControlCharacters(value: string): boolean {
  return [...value].some((char) => {
    const code = char.charCodeAt(0);
    return (code < 0x20 && char !== '\t' && char !== '\n') || code === 0x7f;
  });
}

/** Body of `POST /v1/access-requests`. Unknown fields are refused, so a typo never silently widens a request. */
export function accessRequestBodySchema(limits: { purposeMaxLength: number }) {
  return z
    .object({
      cluster: z.string().min(1).max(64),
      namespaces: z
        .array(namespaceName)
        .min(1)
        .max(20)
        .refine((names) => new Set(names).size === names.length, 'must not repeat a namespace'),
      access: z.string().min(1).max(32),
      durationSeconds: z.number().int().min(60).max(43_200),
      purpose: z
        .string()
        .trim()
        .min(1, 'must say why access is needed')
        .max(limits.purposeMaxLength)
        .refine((value) => !hasControlCharacters(value), 'must not contain control characters'),
      ticket: z
        .string()
        .trim()
        .regex(/^[A-Za-z0-9][A-Za-z0-9._#/:-]{0,63}$/, 'must be a ticket reference such as OPS-1234')
        .optional(),
      via: z.enum(['direct', 'relay']).default('direct'),
    })
    .strict();
}

export type AccessRequestBody = z.infer<ReturnType<typeof accessRequestBodySchema>>;
