/** A TLS socket pair on loopback, with a self-signed certificate made by openssl at test time. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tls from 'node:tls';

import type { Pair } from './net';
import { tempDir } from './net';

let credentials: { key: Buffer; cert: Buffer } | undefined;

/** A throwaway key and self-signed certificate for localhost. */
export function selfSigned(): { key: Buffer; cert: Buffer } {
  if (credentials) return credentials;
  const dir = tempDir('zs-tls-');
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
    '-subj', '/CN=localhost', '-keyout', key, '-out', cert,
  ], { stdio: 'ignore' });
  credentials = { key: readFileSync(key), cert: readFileSync(cert) };
  return credentials;
}

export async function tlsPair(): Promise<Pair & { client: tls.TLSSocket }> {
  const { key, cert } = selfSigned();
  const server = tls.createServer({ key, cert });
  const accepted = new Promise<tls.TLSSocket>((resolve) => server.once('secureConnection', resolve));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = tls.connect({ port: (server.address() as { port: number }).port, host: '127.0.0.1', ca: cert, servername: 'localhost' });
  await new Promise<void>((resolve, reject) => {
    client.once('secureConnect', resolve);
    client.once('error', reject);
  });
  const peer = await accepted;
  server.close();
  return {
    client,
    server: peer,
    close() {
      client.destroy();
      peer.destroy();
    },
  };
}
