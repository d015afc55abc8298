/** The SMTP transport (nodemailer), the only place that speaks SMTP. */
import { readFileSync } from 'node:fs';
import nodemailer, { type Transporter } from 'nodemailer';
import type { MailConfig } from './config.js';

export function createSmtpTransport(config: MailConfig): Transporter {
  return nodemailer.createTransport({
    host: config.SMTP_HOST,
    port: config.SMTP_PORT,
    secure: config.SMTP_SECURE,
    requireTLS: config.SMTP_STARTTLS === 'required',
    ignoreTLS: config.SMTP_STARTTLS === 'never',
    ...(config.SMTP_USER && config.SMTP_PASSWORD ? { auth: { user: config.SMTP_USER, pass: config.SMTP_PASSWORD } } : {}),
    tls: {
      rejectUnauthorized: config.SMTP_TLS_VERIFY,
      ...(config.SMTP_CA_FILE ? { ca: readFileSync(config.SMTP_CA_FILE) } : {}),
    },
    connectionTimeout: config.SMTP_TIMEOUT_MS,
    greetingTimeout: config.SMTP_TIMEOUT_MS,
    socketTimeout: config.SMTP_TIMEOUT_MS,
  });
}

/** Whether retrying can help: a 5xx for the recipient or the message cannot. */
export function isPermanentSmtpFailure(error: unknown): boolean {
  const { responseCode, code } = error as { responseCode?: number; code?: string };
  return typeof responseCode === 'number' && responseCode >= 500 && (code === 'EENVELOPE' || code === 'EMESSAGE');
}
