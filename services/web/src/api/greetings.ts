/**
 * Routes of a mailbox's personal greetings, per type: list, play or download, upload (WAV,
 * checked, staged with `stageAudio` (stream VM_STAGING) like every other producer's audio) and delete.
 */
import { randomUUID } from 'node:crypto';
import { discardStagedAudio, IsoTimeSchema, isServiceError, request, stageAudio, StorageApi, type GreetingInfo, type Mailbox } from '@sipvm/contracts';
import { HttpError, sendJson } from '../http/problem.js';
import { mediaType, readBytes } from '../http/body.js';
import type { Route } from '../http/server.js';
import { checkGreetingWav, uploadLimit } from '../greeting-upload.js';
import { sendAudio } from './audio.js';
import { linksFor, mailboxOf, MAILBOX_PATH, type ApiDeps } from './deps.js';
import { greetingView } from './views.js';

const WAV_TYPES = new Set(['audio/wav', 'audio/x-wav', 'audio/wave', 'audio/vnd.wave']);

export function greetingRoutes(deps: ApiDeps): Route[] {
  const { nc } = deps;
  const find = async (mailbox: Mailbox, type: string): Promise<GreetingInfo | undefined> => {
    try {
      return (await request(nc, StorageApi.getGreeting, { mailbox, type })).greeting;
    } catch (error) {
      if (isServiceError(error, 'greeting-not-found')) return undefined;
      throw error;
    }
  };
  return [
    {
      method: 'GET',
      path: `${MAILBOX_PATH}/greetings`,
      access: { kind: 'mailbox', scope: 'greetings:read' },
      async handle(context) {
        const mailbox = mailboxOf(context);
        const link = linksFor(deps, context.principal, mailbox);
        const greetings = await Promise.all(deps.config.WEB_GREETING_TYPES.map(async (type) => greetingView(mailbox, type, await find(mailbox, type), link)));
        sendJson(context.res, 200, { mailbox, greetings });
      },
    },
    {
      method: 'GET',
      path: `${MAILBOX_PATH}/greetings/{type}`,
      access: { kind: 'mailbox', scope: 'greetings:read', audio: (params) => ({ kind: 'greeting', type: params.type! }) },
      async handle(context) {
        const mailbox = mailboxOf(context);
        const type = context.params.type!;
        const info = await find(mailbox, type);
        if (!info) throw new HttpError(404, `the mailbox has no ${type} greeting of its own`);
        await sendAudio(nc, context, {
          ref: { kind: 'greeting', mailbox, type },
          size: info.size,
          // A greeting is replaced in place: its version is when it was written and how big it is.
          etag: `"${type}-${Date.parse(info.updatedAt).toString(36)}-${info.size.toString(36)}"`,
          lastModified: info.updatedAt,
          filename: `greeting-${type}.wav`,
        });
      },
    },
    {
      method: 'PUT',
      path: `${MAILBOX_PATH}/greetings/{type}`,
      access: { kind: 'mailbox', scope: 'greetings:write' },
      async handle(context) {
        const mailbox = mailboxOf(context);
        const type = context.params.type!;
        if (!WAV_TYPES.has(mediaType(context.req))) throw new HttpError(415, 'a greeting is uploaded as audio/wav (16-bit PCM, mono, 8000 Hz)');
        // The temporary greeting's end comes as ?until= (the body is the audio).
        const until = context.query.get('until') ?? undefined;
        if (until !== undefined && !IsoTimeSchema.safeParse(until).success)
          throw new HttpError(400, 'until must be a date and time (ISO 8601, with its offset)');
        const wav = checkGreetingWav(await readBytes(context.req, uploadLimit(deps.config.WEB_GREETING_MAX_MS)), deps.config.WEB_GREETING_MAX_MS);
        const staged = await stageAudio(
          deps.staging,
          `web-greeting-${randomUUID()}`,
          (async function* () {
            yield wav;
          })(),
        );
        const { greeting } = await request(nc, StorageApi.putGreeting, { mailbox, type, audio: staged, ...(until !== undefined ? { until } : {}) });
        // Stored: the staged copy has done its job (it would expire by itself otherwise).
        await discardStagedAudio(deps.staging, staged).catch(() => undefined);
        context.log.info({ type, size: greeting.size }, 'greeting uploaded');
        sendJson(context.res, 200, { greeting: greetingView(mailbox, type, greeting, linksFor(deps, context.principal, mailbox)) });
      },
    },
    {
      method: 'DELETE',
      path: `${MAILBOX_PATH}/greetings/{type}`,
      access: { kind: 'mailbox', scope: 'greetings:write' },
      async handle(context) {
        const mailbox = mailboxOf(context);
        const { deleted } = await request(nc, StorageApi.deleteGreeting, { mailbox, type: context.params.type! });
        context.log.info({ type: context.params.type, deleted }, 'greeting deleted');
        sendJson(context.res, 200, { deleted });
      },
    },
  ];
}
