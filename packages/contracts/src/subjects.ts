/**
 * Every NATS subject of the platform, in one place.
 *
 * Naming: `vm.<owner>.<thing>.<verb>` for requests to the service that owns the thing,
 * `vm.<stream>.<event>` for events. Mailbox and call identities never appear as subject tokens
 * (domains contain dots); they travel in payloads. Per-instance subjects end in the instance id,
 * for commands that must reach the one instance holding a SIP dialog or an rtpengine session.
 * Per-node subjects carry a media node (one rtpengine, the media instances beside it and the
 * signaling beside its drachtio-server): what must stay on the node a call's audio flows through.
 */
export const SUBJECTS = {
  storage: {
    messageCreate: 'vm.storage.message.create',
    messageGet: 'vm.storage.message.get',
    messageDelete: 'vm.storage.message.delete',
    messageMark: 'vm.storage.message.mark',
    /** The transcriber's result into a stored message (StorageApi.setTranscript). */
    messageTranscript: 'vm.storage.message.transcript',
    messageForward: 'vm.storage.message.forward',
    mailboxList: 'vm.storage.mailbox.list',
    mailboxCount: 'vm.storage.mailbox.count',
    greetingPut: 'vm.storage.greeting.put',
    greetingGet: 'vm.storage.greeting.get',
    greetingDelete: 'vm.storage.greeting.delete',
    greetingResolve: 'vm.storage.greeting.resolve',
    /** Event (core NATS): a greeting was recorded or deleted (GreetingChangedEvent). */
    greetingChanged: 'vm.storage.greeting.changed',
    /** Ranged reads of message and greeting audio; raw bytes in the reply body. */
    audioRead: 'vm.storage.audio.read',
  },
  /** JetStream: one event per change of a mailbox's messages (stream VM_MAILBOX). */
  mailbox: {
    changed: 'vm.mailbox.changed',
    /** A stored message got its transcript (or was marked as having none): MessageTranscribedEvent. Counts do not change: no MWI. */
    transcribed: 'vm.mailbox.transcribed',
    /** JetStream: what a mailbox's owner is told — almost full, full, messages about to expire (stream VM_MAILBOX_NOTICES, notices.ts). */
    notice: 'vm.mailbox.notice',
  },
  /** Call lifecycle events from signaling and media, per application (payloads in call.ts). */
  call: {
    started: (app: string) => `vm.call.${app}.started`,
    digit: (app: string) => `vm.call.${app}.digit`,
    playbackFinished: (app: string) => `vm.call.${app}.playback-finished`,
    recordingFinished: (app: string) => `vm.call.${app}.recording-finished`,
    ended: (app: string) => `vm.call.${app}.ended`,
    /** Wildcard for observers (tests, audit): every event of every application. */
    all: 'vm.call.>',
  },
  /** Requests to the media service (payloads in media.ts). */
  media: {
    /** Any media instance of the node may open a session (queue group); the reply names the instance. */
    sessionOpen: (node: string) => `vm.media.node.${node}.session.open`,
    /** Any media instance of the node (queue group): whether it can take a call now (signaling's readiness). */
    status: (node: string) => `vm.media.node.${node}.status`,
    sessionUpdate: (instance: string) => `vm.media.${instance}.session.update`,
    play: (instance: string) => `vm.media.${instance}.play`,
    stopPlayback: (instance: string) => `vm.media.${instance}.stop-playback`,
    recordStart: (instance: string) => `vm.media.${instance}.record.start`,
    recordStop: (instance: string) => `vm.media.${instance}.record.stop`,
    sessionClose: (instance: string) => `vm.media.${instance}.session.close`,
    bridgeOffer: (instance: string) => `vm.media.${instance}.bridge.offer`,
    bridge: (instance: string) => `vm.media.${instance}.bridge.connect`,
    /**
     * Any media instance of the node, beside the rtpengine that wrote the pcap (queue group):
     * stops and delivers a recording whose instance is gone (restarted, crashed). Recording state
     * lives in NATS KV; the pcap only on the node's disk.
     */
    recordStopOnNode: (node: string) => `vm.media.node.${node}.record.stop`,
    /** Any media instance of the node (queue group): the call is over, its delivered recording may go. */
    recordRelease: (node: string) => `vm.media.node.${node}.record.release`,
  },
  /** Requests to the signaling instance that holds a call's dialog (payloads in call.ts). */
  signaling: {
    hangup: (instance: string) => `vm.signaling.${instance}.hangup`,
    finalReply: (instance: string) => `vm.signaling.${instance}.final-reply`,
    transfer: (instance: string) => `vm.signaling.${instance}.transfer`,
    /** NOTIFY an MWI subscription whose dialog this instance's drachtio-server holds (payloads in mwi.ts). */
    mwiNotify: (instance: string) => `vm.signaling.${instance}.mwi-notify`,
  },
  /** The voicemail application (see voicemail.ts). */
  voicemail: {
    /** JetStream: finished recordings handed over for storing and mailing (stream VM_DEPOSITS). */
    deposit: 'vm.voicemail.deposit',
    /** Core NATS: what became of each deposit. */
    depositOutcome: 'vm.voicemail.deposit-outcome',
    /** JetStream: messages waiting for the transcriber (stream VM_TRANSCRIPTIONS, see transcription.ts). */
    transcribe: 'vm.voicemail.transcribe',
    /** JetStream: the timers of voicemail calls waiting for a key (stream VM_VOICEMAIL_TIMERS). */
    timer: 'vm.voicemail.timer',
  },
  /** The voicebox and annrecorder applications (see voicebox.ts). */
  voicebox: {
    /** JetStream: the inactivity timers of calls waiting for a key (stream VM_VOICEBOX_TIMERS). */
    timer: 'vm.voicebox.timer',
    /** The same for annrecorder calls (the same stream, a consumer of its own). */
    annrecorderTimer: 'vm.voicebox.annrecorder-timer',
  },
  /** JetStream: audio on its way to storage, one subject per staged file (stream VM_STAGING, see staging.ts). */
  staging: {
    file: (token: string) => `vm.staging.${token}`,
    all: 'vm.staging.>',
  },
  /** JetStream: webhook deliveries of the web service (streams VM_WEBHOOKS, VM_WEBHOOKS_FAILED; see webhooks.ts). */
  webhook: {
    deliver: 'vm.webhook.deliver',
    failed: 'vm.webhook.failed',
  },
  /** JetStream: the durable mail outbox (stream VM_MAIL, see mail.ts). */
  mail: {
    send: 'vm.mail.send',
    failed: 'vm.mail.failed',
  },
} as const;

/** An instance id that is safe as a subject token: letters, digits, `_` and `-`. */
export const INSTANCE_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** The media node of a single-node installation, which names none (MEDIA_NODE unset). */
export const DEFAULT_MEDIA_NODE = 'default';
