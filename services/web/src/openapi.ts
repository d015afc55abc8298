/**
 * The OpenAPI 3.1 document of the HTTP API, served at /api/v1/openapi.json. The operations are
 * written here; every schema comes from api/views.ts (the schemas the handlers answer through),
 * so the two cannot drift apart. The webhooks a receiver gets are described under `webhooks`.
 */
import { z } from 'zod';
import { GreetingTypeSchema, MailboxIdSchema, MessageIdSchema, type WebhookEvent } from '@sipvm/contracts';
import { NAMED_SCHEMAS } from './api/views.js';
import { OPERATOR_KEY_HEADER } from './auth.js';
import { SIGNATURE_HEADER } from './webhooks/signature.js';

type Json = Record<string, unknown>;

const ref = (name: keyof typeof NAMED_SCHEMAS) => ({ $ref: `#/components/schemas/${name}` });
const json = (name: keyof typeof NAMED_SCHEMAS) => ({ 'application/json': { schema: ref(name) } });
const problemRef = (name: string) => ({ $ref: `#/components/responses/${name}` });

function componentSchemas(): Record<string, Json> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(NAMED_SCHEMAS)) registry.add(schema, { id });
  const { schemas } = z.toJSONSchema(registry, { uri: (id) => `#/components/schemas/${id}`, io: 'output' }) as { schemas: Record<string, Json> };
  // Components are plain schemas of the document's dialect: no $schema or $id of their own.
  return Object.fromEntries(
    Object.entries(schemas).map(([id, schema]) => {
      const { $schema: _dialect, $id: _id, ...rest } = schema;
      return [id, rest];
    }),
  );
}

const inlineSchema = (schema: z.ZodType): Json => {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io: 'input' }) as Json;
  return rest;
};

const pathParameter = (name: string, description: string, schema: z.ZodType) => ({
  name,
  in: 'path',
  required: true,
  description,
  schema: inlineSchema(schema),
});
const MAILBOX_PARAMETERS = [
  pathParameter('did', 'The mailbox domain (compared case-insensitively).', MailboxIdSchema),
  pathParameter('uid', 'The mailbox user (URL-encoded when it holds + or @).', MailboxIdSchema),
];
const MESSAGE_PARAMETER = pathParameter('id', 'The message id.', MessageIdSchema);
const GREETING_PARAMETER = pathParameter('type', 'The greeting type (vm, busy, away, …).', GreetingTypeSchema);

const failures = (...names: string[]) => Object.fromEntries(names.map((name) => [STATUS_OF_RESPONSE[name], problemRef(name)]));
const STATUS_OF_RESPONSE: Record<string, string> = {
  BadRequest: '400',
  Unauthorized: '401',
  Forbidden: '403',
  NotFound: '404',
  Conflict: '409',
  TooLarge: '413',
  UnsupportedMediaType: '415',
  RangeNotSatisfiable: '416',
  TooManyRequests: '429',
  Unavailable: '503',
};
const MAILBOX_FAILURES = ['BadRequest', 'Unauthorized', 'Forbidden', 'TooManyRequests', 'Unavailable'];
const MAILBOX_SECURITY = [{ mailboxToken: [] }, { operatorKey: [] }];
const AUDIO_SECURITY = [...MAILBOX_SECURITY, { audioLink: [] }];

const audioResponses = () => {
  const headers = {
    'Accept-Ranges': { schema: { type: 'string', const: 'bytes' } },
    ETag: { schema: { type: 'string' }, description: 'Strong entity tag; send it in If-Range or If-None-Match.' },
    'Content-Length': { schema: { type: 'integer' } },
  };
  const wav = { 'audio/wav': { schema: { type: 'string', contentMediaType: 'audio/wav' } } };
  return {
    '200': { description: 'The whole WAV (8 kHz, mono, 16-bit PCM). HEAD: the same headers, no body.', headers, content: wav },
    '206': {
      description: 'The requested byte range.',
      headers: { ...headers, 'Content-Range': { schema: { type: 'string' }, description: 'bytes first-last/size' } },
      content: wav,
    },
    '304': { description: 'If-None-Match named the current entity tag.' },
    ...failures(...MAILBOX_FAILURES, 'NotFound', 'RangeNotSatisfiable'),
  };
};

const audioParameters = [
  { name: 'Range', in: 'header', required: false, description: 'One byte range, e.g. bytes=0- or bytes=-1000.', schema: { type: 'string' } },
  {
    name: 'If-Range',
    in: 'header',
    required: false,
    description: 'The entity tag the client holds; the Range applies only if it is current.',
    schema: { type: 'string' },
  },
  {
    name: 'link',
    in: 'query',
    required: false,
    description: 'A signed audio link (from audioUrl) instead of a header: for <audio> elements.',
    schema: { type: 'string' },
  },
  {
    name: 'download',
    in: 'query',
    required: false,
    description: '1: offered as a file to save (Content-Disposition: attachment).',
    schema: { type: 'string', enum: ['1'] },
  },
];

/** A webhook receivers get: signed, retried, the same body schema for each event (its `type` says which). */
const webhook = (event: WebhookEvent, summary: string) => ({
  post: {
    summary,
    description: `Posted to every webhook target configured for the mailbox's domain (or for all). ${SIGNATURE_HEADER}: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" with the target's secret>. Any 2xx acknowledges; anything else is retried with backoff until the budget is spent. Receivers de-duplicate by deliveryId (at-least-once delivery).`,
    parameters: [
      { name: SIGNATURE_HEADER, in: 'header', required: true, schema: { type: 'string' } },
      { name: 'Sipvm-Event', in: 'header', required: true, schema: { type: 'string', const: event } },
      { name: 'Sipvm-Delivery', in: 'header', required: true, schema: { type: 'string' } },
      { name: 'Sipvm-Attempt', in: 'header', required: true, schema: { type: 'integer', minimum: 1 } },
    ],
    requestBody: { required: true, content: json('WebhookBody') },
    responses: { '2XX': { description: 'Accepted; not posted again' } },
  },
});

export function openApiDocument(): Json {
  return {
    openapi: '3.1.0',
    info: {
      title: 'sipvm web API',
      version: '1.0.0',
      description:
        'Mailboxes of the sipvm voicemail platform over HTTP: messages (list with counts, play with byte ranges, mark read or unread, delete) and personal greetings (upload, play, delete). Every change goes through the storage service, so message waiting indication follows it as it follows a change made on the phone. The operator issues mailbox tokens with the operator key; a token opens its own mailbox only, within its scopes. Errors are RFC 9457 problem details. Rate limits answer 429 with Retry-After.',
    },
    servers: [{ url: '/' }],
    tags: [{ name: 'messages' }, { name: 'greetings' }, { name: 'tokens' }],
    paths: {
      '/api/v1/openapi.json': {
        get: {
          operationId: 'getOpenApi',
          summary: 'This document',
          security: [],
          responses: {
            '200': { description: 'The OpenAPI document', content: { 'application/json': { schema: { type: 'object' } } } },
            ...failures('TooManyRequests'),
          },
        },
      },
      '/api/v1/tokens': {
        post: {
          operationId: 'issueToken',
          tags: ['tokens'],
          summary: 'Issue a mailbox token (operator only)',
          security: [{ operatorKey: [] }],
          requestBody: { required: true, content: json('TokenRequest') },
          responses: {
            '201': { description: 'The token; give it (or inboxUrl) to the mailbox owner.', content: json('TokenIssued') },
            ...failures('BadRequest', 'Unauthorized', 'Forbidden', 'UnsupportedMediaType', 'TooManyRequests'),
          },
        },
      },
      '/api/v1/mailboxes/{did}/{uid}/tokens': {
        parameters: MAILBOX_PARAMETERS,
        delete: {
          operationId: 'withdrawTokens',
          tags: ['tokens'],
          summary: 'Withdraw every token of a mailbox issued so far (operator only)',
          security: [{ operatorKey: [] }],
          responses: {
            '200': { description: 'From now on those tokens are refused, by every instance.', content: json('TokensWithdrawn') },
            ...failures('BadRequest', 'Unauthorized', 'Forbidden', 'TooManyRequests', 'Unavailable'),
          },
        },
      },
      '/api/v1/me': {
        get: {
          operationId: 'whoAmI',
          tags: ['tokens'],
          summary: 'What the presented token (or key) opens',
          security: MAILBOX_SECURITY,
          responses: {
            '200': { description: 'The mailbox, scopes and expiry of the token', content: json('WhoAmI') },
            ...failures('Unauthorized', 'TooManyRequests'),
          },
        },
      },
      '/api/v1/mailboxes/{did}/{uid}/messages': {
        parameters: MAILBOX_PARAMETERS,
        get: {
          operationId: 'listMessages',
          tags: ['messages'],
          summary: 'List messages (newest first) with the mailbox counts',
          security: MAILBOX_SECURITY,
          parameters: [
            { name: 'offset', in: 'query', required: false, schema: { type: 'integer', minimum: 0, default: 0 } },
            { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } },
          ],
          responses: {
            '200': { description: 'A page of messages; each has a short-lived audioUrl.', content: json('MessageList') },
            ...failures(...MAILBOX_FAILURES),
          },
        },
      },
      '/api/v1/mailboxes/{did}/{uid}/messages/{id}': {
        parameters: [...MAILBOX_PARAMETERS, MESSAGE_PARAMETER],
        get: {
          operationId: 'getMessage',
          tags: ['messages'],
          summary: 'One message',
          security: MAILBOX_SECURITY,
          responses: { '200': { description: 'The message', content: json('Message') }, ...failures(...MAILBOX_FAILURES, 'NotFound') },
        },
        patch: {
          operationId: 'markMessage',
          tags: ['messages'],
          summary: 'Mark a message read (saved) or unread (new); MWI follows',
          security: MAILBOX_SECURITY,
          requestBody: { required: true, content: json('MarkRequest') },
          responses: {
            '200': { description: 'The message and the new counts', content: json('MessageChanged') },
            ...failures(...MAILBOX_FAILURES, 'NotFound', 'UnsupportedMediaType'),
          },
        },
        delete: {
          operationId: 'deleteMessage',
          tags: ['messages'],
          summary: 'Delete a message (deleting twice is fine); MWI follows',
          security: MAILBOX_SECURITY,
          responses: { '200': { description: 'Whether it was there, and the new counts', content: json('MessageDeleted') }, ...failures(...MAILBOX_FAILURES) },
        },
      },
      '/api/v1/mailboxes/{did}/{uid}/messages/{id}/forward': {
        parameters: [...MAILBOX_PARAMETERS, MESSAGE_PARAMETER],
        post: {
          operationId: 'forwardMessage',
          tags: ['messages'],
          summary: 'Forward a message to another mailbox of the same domain; it is a new message there, with MWI',
          description:
            "The copy keeps the message's caller, time and urgency. The receiving mailbox's limit (its domain's maxMessages, else VM_MAX_MESSAGES) applies: a full mailbox answers 409. Forwarding one message to one mailbox twice gives one copy.",
          security: MAILBOX_SECURITY,
          requestBody: { required: true, content: json('ForwardRequest') },
          responses: {
            '201': { description: 'The copy in the other mailbox', content: json('MessageForwarded') },
            ...failures(...MAILBOX_FAILURES, 'NotFound', 'Conflict', 'UnsupportedMediaType'),
          },
        },
      },
      '/api/v1/mailboxes/{did}/{uid}/messages/{id}/audio': {
        parameters: [...MAILBOX_PARAMETERS, MESSAGE_PARAMETER],
        get: {
          operationId: 'getMessageAudio',
          tags: ['messages'],
          summary: 'The message as WAV, with byte ranges',
          security: AUDIO_SECURITY,
          parameters: audioParameters,
          responses: audioResponses(),
        },
      },
      '/api/v1/mailboxes/{did}/{uid}/greetings': {
        parameters: MAILBOX_PARAMETERS,
        get: {
          operationId: 'listGreetings',
          tags: ['greetings'],
          summary: 'The configured greeting types and which the mailbox has recorded',
          security: MAILBOX_SECURITY,
          responses: { '200': { description: 'One entry per configured type', content: json('GreetingList') }, ...failures(...MAILBOX_FAILURES) },
        },
      },
      '/api/v1/mailboxes/{did}/{uid}/greetings/{type}': {
        parameters: [...MAILBOX_PARAMETERS, GREETING_PARAMETER],
        get: {
          operationId: 'getGreetingAudio',
          tags: ['greetings'],
          summary: 'The current personal greeting as WAV, with byte ranges',
          security: AUDIO_SECURITY,
          parameters: audioParameters,
          responses: audioResponses(),
        },
        put: {
          operationId: 'putGreeting',
          tags: ['greetings'],
          summary: 'Upload the personal greeting of this type',
          description:
            'A WAV file of 16-bit PCM, mono, 8000 Hz, from 0.2 s to WEB_GREETING_MAX_MS long. Metadata chunks are dropped. The temporary greeting (type temp) needs ?until= (callers hear it instead of every other greeting until then); name is the recorded name (callers without a greeting hear it and the system phrase).',
          security: MAILBOX_SECURITY,
          parameters: [
            {
              name: 'until',
              in: 'query',
              required: false,
              description: 'For type temp only: when it ends (ISO 8601 with offset).',
              schema: { type: 'string', format: 'date-time' },
            },
          ],
          requestBody: { required: true, content: { 'audio/wav': { schema: { type: 'string', contentMediaType: 'audio/wav' } } } },
          responses: {
            '200': { description: 'The stored greeting', content: json('GreetingSaved') },
            ...failures(...MAILBOX_FAILURES, 'TooLarge', 'UnsupportedMediaType'),
          },
        },
        delete: {
          operationId: 'deleteGreeting',
          tags: ['greetings'],
          summary: 'Delete the personal greeting (callers hear the default again)',
          security: MAILBOX_SECURITY,
          responses: { '200': { description: 'Whether there was one', content: json('GreetingDeleted') }, ...failures(...MAILBOX_FAILURES) },
        },
      },
    },
    webhooks: {
      mailboxNotice: {
        post: {
          summary:
            "A mailbox passed its warning share of the most messages it holds (mailbox.almost-full), is full (mailbox.full), or has messages its domain's retention deletes soon (messages.expiring)",
          description: `Posted, signed and retried as messageCreated is. ${SIGNATURE_HEADER} as there; Sipvm-Event is the body's type.`,
          parameters: [
            { name: SIGNATURE_HEADER, in: 'header', required: true, schema: { type: 'string' } },
            {
              name: 'Sipvm-Event',
              in: 'header',
              required: true,
              schema: { type: 'string', enum: ['mailbox.almost-full', 'mailbox.full', 'messages.expiring'] },
            },
            { name: 'Sipvm-Delivery', in: 'header', required: true, schema: { type: 'string' } },
            { name: 'Sipvm-Attempt', in: 'header', required: true, schema: { type: 'integer', minimum: 1 } },
          ],
          requestBody: { required: true, content: json('WebhookBody') },
          responses: { '2XX': { description: 'Accepted; not posted again' } },
        },
      },
      messageCreated: webhook('message.created', 'A new message arrived in a mailbox'),
      messageTranscribed: webhook(
        'message.transcribed',
        'A message got its transcript (transcription on for its domain): message.transcript holds the text, or status "none" and why there is none',
      ),
    },
    components: {
      schemas: componentSchemas(),
      responses: Object.fromEntries(
        Object.keys(STATUS_OF_RESPONSE).map((name) => [
          name,
          {
            description: name.replace(/([a-z])([A-Z])/g, '$1 $2'),
            ...(name === 'TooManyRequests' || name === 'Unavailable'
              ? { headers: { 'Retry-After': { schema: { type: 'integer' }, description: 'Seconds to wait' } } }
              : {}),
            ...(name === 'Unauthorized' ? { headers: { 'WWW-Authenticate': { schema: { type: 'string' } } } } : {}),
            content: { 'application/problem+json': { schema: ref('Problem') } },
          },
        ]),
      ),
      securitySchemes: {
        mailboxToken: { type: 'http', scheme: 'bearer', description: 'A mailbox token issued by the operator (POST /api/v1/tokens).' },
        operatorKey: { type: 'apiKey', in: 'header', name: OPERATOR_KEY_HEADER, description: 'The operator key (WEB_OPERATOR_KEY_FILE).' },
        audioLink: { type: 'apiKey', in: 'query', name: 'link', description: 'A signed, short-lived link to one recording (audioUrl in the listings).' },
      },
    },
  };
}
