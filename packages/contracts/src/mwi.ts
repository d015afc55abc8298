/**
 * MWI subscriptions (docs/behaviour.md §7, RFC 3265/3842): the SUBSCRIBE dialogs of phones that asked for
 * `message-summary`, kept in a NATS KV bucket so that any signaling instance can refresh them
 * and send their NOTIFYs (a NOTIFY is built from this record alone: Call-ID, tags, target, route
 * set and CSeq). Records carry their own expiry; the bucket's max age only collects leftovers.
 */
import { z } from 'zod';
import { BUCKETS } from './buckets.js';
import { CallIdSchema, MailboxSchema } from './ids.js';
import { InstanceIdSchema } from './call.js';
import { instanceEndpoint } from './rpc.js';
import { IsoTimeSchema, MailboxCountsSchema } from './storage.js';
import { SUBJECTS } from './subjects.js';

export const MWI_SUBSCRIPTIONS_BUCKET = BUCKETS.mwiSubscriptions;

const SipTokenSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces');
const SipUriTextSchema = z
  .string()
  .min(1)
  .max(512)
  // eslint-disable-next-line no-control-regex -- refusing control characters is the point
  .regex(/^[^\x00-\x1f\x7f]+$/, 'must not contain control characters');

export const MwiSubscriptionSchema = z.strictObject({
  mailbox: MailboxSchema,
  callId: CallIdSchema,
  /** Our tag (the To tag of our 2xx to the SUBSCRIBE, the From tag of our NOTIFYs). */
  localTag: SipTokenSchema,
  /** The subscriber's From tag. */
  remoteTag: SipTokenSchema,
  /** The To header value of the SUBSCRIBE without tag (our identity in NOTIFYs' From). */
  localUri: SipUriTextSchema,
  /** The From header value of the SUBSCRIBE without tag (the To of our NOTIFYs). */
  remoteUri: SipUriTextSchema,
  /** The subscriber's Contact URI: the Request-URI of our NOTIFYs. */
  remoteTarget: SipUriTextSchema,
  /** Record-Route of the SUBSCRIBE, in the order our NOTIFYs' Route headers take. */
  routeSet: z.array(SipUriTextSchema).max(16),
  /** CSeq of the last NOTIFY sent in this dialog. */
  cseq: z.number().int().nonnegative(),
  expiresAt: IsoTimeSchema,
  /** The signaling instance that accepted the subscription: its drachtio-server holds the dialog. */
  instance: InstanceIdSchema,
  /**
   * drachtio-server's id of the dialog (absent in records from before): a NOTIFY sent in it follows
   * the route set (RFC 3261 §12.2.1.1), which drachtio-server does not let a request outside a
   * dialog carry.
   */
  dialogId: z
    .string()
    .min(1)
    .max(512)
    .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces')
    .optional(),
});
export type MwiSubscription = z.infer<typeof MwiSubscriptionSchema>;

/**
 * NOTIFY one subscription (by its KV key) with these counts, asked of the instance that holds its
 * dialog by whichever instance took the mailbox event. No counts: a NOTIFY without body ("state
 * unknown"). `sent`: the NOTIFY went out and was not refused for a reason a retry can change.
 */
export const MwiApi = {
  notify: instanceEndpoint(
    SUBJECTS.signaling.mwiNotify,
    z.strictObject({
      key: z
        .string()
        .min(1)
        .max(128)
        .regex(/^[A-Za-z0-9_.-]+$/),
      counts: MailboxCountsSchema.optional(),
    }),
    z.strictObject({ sent: z.boolean() }),
    // A NOTIFY's transaction may take up to 32 s (timer F); beyond that the instance is as good as gone.
    34_000,
  ),
} as const;
