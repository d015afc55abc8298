/**
 * A real SMTP server on loopback (the `smtp-server` package) that parses what arrives
 * (`mailparser`), with optional STARTTLS (a certificate made for the test with openssl) and
 * AUTH, and switches to make it refuse recipients. It can be stopped and started on the same
 * port to simulate an outage.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { simpleParser, type ParsedMail } from 'mailparser';
import { freePort } from './ports.js';
import { tempDir } from './tmp.js';
import { waitFor } from './process.js';

export interface SmtpOptions {
  /** Offer STARTTLS and refuse mail without it. */
  tls?: boolean;
  /** Require AUTH with these credentials. */
  auth?: { user: string; password: string };
}

export interface SmtpSink {
  readonly port: number;
  /** Every mail accepted so far, parsed. */
  readonly messages: ParsedMail[];
  /** PEM file of the server's certificate (with `tls`), for the client to trust. */
  readonly caFile?: string;
  /** Recipients refused with 550 from now on. */
  readonly rejectRecipients: Set<string>;
  /** Environment for the mail sender to use this server. */
  readonly env: Record<string, string>;
  waitForMessages(count: number, timeoutMs?: number): Promise<ParsedMail[]>;
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function startSmtp(options: SmtpOptions = {}): Promise<SmtpSink> {
  const port = await freePort();
  const dir = await tempDir('smtp');
  let cert: { key: Buffer; cert: Buffer; file: string } | undefined;
  if (options.tls) {
    const keyFile = join(dir.path, 'key.pem');
    const certFile = join(dir.path, 'cert.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
        '-keyout',
        keyFile,
        '-out',
        certFile,
      ],
      { stdio: 'ignore' },
    );
    cert = { key: readFileSync(keyFile), cert: readFileSync(certFile), file: certFile };
  }
  const messages: ParsedMail[] = [];
  const rejectRecipients = new Set<string>();
  const config: SMTPServerOptions = {
    disabledCommands: [...(options.tls ? [] : ['STARTTLS']), ...(options.auth ? [] : ['AUTH'])],
    ...(cert ? { key: cert.key, cert: cert.cert } : {}),
    authOptional: !options.auth,
    size: 200 * 1024 * 1024,
    logger: false,
    onAuth(auth, _session, callback) {
      if (options.auth && auth.username === options.auth.user && auth.password === options.auth.password) {
        callback(null, { user: auth.username });
      } else callback(new Error('Invalid username or password'));
    },
    onMailFrom(_address, session, callback) {
      if (options.tls && !session.secure) return callback(Object.assign(new Error('Must issue a STARTTLS command first'), { responseCode: 530 }));
      callback();
    },
    onRcptTo(address, _session, callback) {
      if (rejectRecipients.has(address.address)) return callback(Object.assign(new Error('No such user here'), { responseCode: 550 }));
      callback();
    },
    onData(stream, _session, callback) {
      simpleParser(stream).then(
        (mail) => {
          messages.push(mail);
          callback();
        },
        (error: Error) => callback(error),
      );
    },
  };
  let server: SMTPServer | undefined;
  const start = async () => {
    server = new SMTPServer(config);
    await new Promise<void>((resolve, reject) => {
      server?.once('error', reject);
      server?.listen(port, '127.0.0.1', () => resolve());
    });
  };
  const stop = async () => {
    const s = server;
    server = undefined;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  };
  await start();
  return {
    port,
    messages,
    rejectRecipients,
    ...(cert ? { caFile: cert.file } : {}),
    env: {
      SMTP_HOST: '127.0.0.1',
      SMTP_PORT: String(port),
      ...(options.tls ? { SMTP_STARTTLS: 'required', ...(cert ? { SMTP_CA_FILE: cert.file } : {}) } : { SMTP_STARTTLS: 'never' }),
      ...(options.auth ? { SMTP_USER: options.auth.user, SMTP_PASSWORD: options.auth.password } : {}),
    },
    async waitForMessages(count, timeoutMs = 15_000) {
      await waitFor(() => messages.length >= count, timeoutMs, `${count} mail(s) (got ${messages.length})`);
      return messages.slice(0, count);
    },
    stop,
    start,
    async close() {
      await stop();
      await dir.remove();
    },
  };
}
