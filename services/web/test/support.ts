/**
 * What the web service's tests share: a real nats-server, the real storage service (local
 * folder) and the web service as processes, a client that checks every answer against the
 * OpenAPI document the service serves, and the mailbox events storage publishes (what MWI follows).
 */
import type { NatsConnection } from '@nats-io/nats-core';
import { decodeJson, MailboxChangedEventSchema, SUBJECTS, type MailboxChangedEvent } from '@sipvm/contracts';
import { startNats, startService, startWebService, tempDir, type NatsServer, type RunningServiceProcess, type RunningWebService } from '@sipvm/harness';
import { OpenApiConformance } from './openapi-conformance.js';

export interface Call {
  token?: string;
  operatorKey?: string;
  headers?: Record<string, string>;
  body?: Uint8Array | string;
  json?: unknown;
}

export interface Reply {
  status: number;
  headers: Headers;
  json: unknown;
  bytes: Buffer;
}

export interface WebRig {
  nats: NatsServer;
  storage: RunningServiceProcess;
  web: RunningWebService;
  nc: NatsConnection;
  conformance: OpenApiConformance;
  /** Every mailbox event storage published since the rig started. */
  events: MailboxChangedEvent[];
  /** An HTTP request to the web service; the answer is checked against the OpenAPI document. */
  call(method: string, path: string, call?: Call): Promise<Reply>;
  stop(): Promise<void>;
}

export async function startWebRig(env: Record<string, string> = {}): Promise<WebRig> {
  const nats = await startNats();
  const dir = await tempDir('web');
  const storage = await startService('storage', { NATS_URL: nats.url, STORAGE_BACKEND: 'local', STORAGE_DIR: dir.path });
  const web = await startWebService({ NATS_URL: nats.url, ...env });
  const nc = await nats.connect();
  const events: MailboxChangedEvent[] = [];
  nc.subscribe(SUBJECTS.mailbox.changed, {
    callback: (_error, msg) => {
      events.push(decodeJson(MailboxChangedEventSchema, msg.data, 'mailbox event'));
    },
  });
  await nc.flush();
  const document = (await (await fetch(`${web.url}/api/v1/openapi.json`)).json()) as Record<string, unknown>;
  const conformance = await OpenApiConformance.load(document);
  return {
    nats,
    storage,
    web,
    nc,
    conformance,
    events,
    async call(method, path, call = {}) {
      const headers: Record<string, string> = { ...call.headers };
      if (call.token !== undefined) headers.authorization = `Bearer ${call.token}`;
      if (call.operatorKey !== undefined) headers['x-operator-key'] = call.operatorKey;
      if (call.json !== undefined) headers['content-type'] ??= 'application/json';
      const response = await fetch(`${web.url}${path}`, { method, headers, body: call.json !== undefined ? JSON.stringify(call.json) : call.body });
      const bytes = Buffer.from(await response.arrayBuffer());
      const isJson = /json/.test(response.headers.get('content-type') ?? '') && bytes.length > 0;
      const json: unknown = isJson ? JSON.parse(bytes.toString('utf8')) : undefined;
      conformance.check(method, path, { status: response.status, headers: response.headers, json, hasBody: bytes.length > 0 });
      return { status: response.status, headers: response.headers, json, bytes };
    },
    async stop() {
      await nc.close();
      await web.stop();
      await storage.stop();
      await nats.close();
      await dir.remove();
    },
  };
}

/** The API path of a mailbox (each id one URL-encoded path segment). */
export const mailboxPath = (mailbox: { did: string; uid: string }) => `/api/v1/mailboxes/${encodeURIComponent(mailbox.did)}/${encodeURIComponent(mailbox.uid)}`;
