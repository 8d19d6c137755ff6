/**
 * The relay's own TLS certificate when none is given: a P-256 self-signed certificate for its names, made at start and
 * kept only in memory. Locally, kubectl trusts it through the certificate authority data in the printed kubeconfig;
 * behind the NLB, the listener's ACM certificate is what clients verify and this one only encrypts the hop to the task.
 */
import selfsigned from 'selfsigned';

export interface RelayCertificate {
  key: string;
  cert: string;
}

/** A certificate valid for `hosts` (DNS names or IP addresses) for `days`. */
export async function selfSignedCertificate(hosts: readonly string[], days = 30): Promise<RelayCertificate> {
  const altNames = hosts.map((host) =>
    /^[\d.]+$|:/.test(host) ? { type: 7 as const, ip: host } : { type: 2 as const, value: host },
  );
  const pems = await selfsigned.generate([{ name: 'commonName', value: hosts[0] ?? 'gatehouse-relay' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notAfterDate: new Date(Date.now() + days * 86_400_000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: false },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames },
    ],
  });
  return { key: pems.private, cert: pems.cert };
}
