import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * The ECDSA P-256 private key in `file` (PKCS#8 PEM), generated there first when the file does not exist, readable only
 * by its owner (0600). The local runtime's stand-in for a KMS key: the digest signer and the relay credential signer.
 */
export function openP256KeyFile(file: string): KeyObject {
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    // `wx`: two processes starting at once (a runtime and a relay) must not each write a key and use different ones.
    try {
      writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  return createPrivateKey(readFileSync(file, 'utf8'));
}
