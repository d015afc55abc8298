/**
 * A throw-away certificate authority for TLS tests (openssl, Debian's): a CA, a server
 * certificate for 127.0.0.1 and localhost (and any more addresses asked for: a cluster's nodes and
 * proxy), and a client certificate, all signed by that CA.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TestPki {
  readonly caFile: string;
  readonly server: { certFile: string; keyFile: string };
  readonly client: { certFile: string; keyFile: string };
}

function openssl(args: string[], cwd: string): void {
  const result = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${result.stderr || result.error?.message}`);
}

export function makeTestPki(dir: string, moreAddresses: string[] = []): TestPki {
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=sipvm test CA',
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
    ],
    dir,
  );
  const issue = (name: string, subject: string, extensions: string) => {
    writeFileSync(join(dir, `${name}.ext`), extensions);
    openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', subject, '-keyout', `${name}.key`, '-out', `${name}.csr`], dir);
    openssl(
      [
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        'ca.pem',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-days',
        '2',
        '-extfile',
        `${name}.ext`,
        '-out',
        `${name}.pem`,
      ],
      dir,
    );
    return { certFile: join(dir, `${name}.pem`), keyFile: join(dir, `${name}.key`) };
  };
  return {
    caFile: join(dir, 'ca.pem'),
    server: issue(
      'server',
      '/CN=127.0.0.1',
      `subjectAltName=${['127.0.0.1', ...moreAddresses].map((a) => `IP:${a}`).join(',')},DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n`,
    ),
    client: issue('client', '/CN=sipvm service', 'extendedKeyUsage=clientAuth\n'),
  };
}
