/**
 * Every NATS KV bucket of the platform, in one place (like the subjects and the streams), so that
 * the NATS permissions (permissions.ts) cover each one and `openKv` opens nothing undeclared.
 * Each bucket belongs to one service; nobody else reads or writes it.
 */
export const BUCKETS = {
  /** storage: each mailbox's new and saved counts, kept as they change (storage's mailbox-counts.ts). */
  mailboxCounts: 'vm-mailbox-counts',
  /**
   * storage: retention's schedule — per mailbox when its next message expires, and by the hour
   * which mailboxes are due, so a sweep reads only those (storage's retention.ts).
   */
  retention: 'vm-retention',
  /** signaling: the lamp each mailbox was last told by unsolicited NOTIFY, refreshed at an interval (mwi-lamps.ts). */
  mwiLamps: 'vm-mwi-lamps',
  /** signaling: the SUBSCRIBE dialogs of phones that asked for MWI (mwi.ts). */
  mwiSubscriptions: 'vm_mwi_subscriptions',
  /** media: sessions and recordings by callRef, so a restarted instance takes them over. */
  mediaState: 'vm-media-state',
  /** media: recordings handed over lately, so a stop asked again returns the same recording. */
  mediaDelivered: 'vm-media-delivered',
  /** voicemail: the records of its calls (the call runtime). */
  voicemailCalls: 'vm-voicemail-calls',
  /** voicemail: mails the SMTP server accepted, so a redelivered job is not sent twice. */
  mailSent: 'vm-mail-sent',
  /**
   * voicemail: for each mail that waits for its transcript, who settled what it says — the
   * transcriber (with the text, or why there is none) or the mail's deadline — so it goes out once.
   */
  transcriptClaims: 'vm-voicemail-transcript-claims',
  /** voicebox: the records of voicebox and annrecorder calls (the call runtime). */
  voiceboxCalls: 'vm-voicebox-calls',
  /** voicebox: wrong PINs and lock-outs per mailbox. */
  pinFailures: 'vm-voicebox-pin-failures',
  /** web: withdrawn mailbox tokens. */
  webRevocations: 'vm-web-token-revocations',
} as const;

export type BucketKey = keyof typeof BUCKETS;
export type BucketName = (typeof BUCKETS)[BucketKey];
