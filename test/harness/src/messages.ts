/** Real messages in the real storage service, stored the way voicemail stores them (staged audio, then create). */
import type { NatsConnection } from '@nats-io/nats-core';
import { request, stageAudio, stagingBucket, StorageApi, type Caller, type Mailbox, type MessageInfo, type MailboxCounts } from '@sipvm/contracts';

let stored = 0;

export async function storeMessage(
  nc: NatsConnection,
  mailbox: Mailbox,
  wav: Uint8Array,
  options: { sender?: string; caller?: Caller; urgent?: boolean; recordedAt?: Date } = {},
): Promise<{ message: MessageInfo; counts: MailboxCounts }> {
  const staging = await stagingBucket(nc);
  const audio = await stageAudio(
    staging,
    `test-message-${process.pid}-${Date.now()}-${stored++}`,
    (async function* () {
      yield wav;
    })(),
  );
  const { message, counts } = await request(
    nc,
    StorageApi.createMessage,
    {
      mailbox,
      sender: options.sender ?? 'sip:+4930123456@carrier.example',
      ...(options.caller !== undefined ? { caller: options.caller } : {}),
      recordedAt: (options.recordedAt ?? new Date()).toISOString(),
      // 8 kHz mono 16-bit after the 44-byte header.
      durationMs: Math.round(((wav.length - 44) / 16_000) * 1000),
      codec: 'PCMU',
      urgent: options.urgent ?? false,
      audio,
    },
    { timeoutMs: 15_000 },
  );
  return { message, counts };
}
