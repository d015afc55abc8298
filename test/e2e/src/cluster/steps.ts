/**
 * What the cluster test and the upgrade test both do: give a mailbox a short personal greeting (so
 * that callers reach the beep soon), and wait until the proxy sends calls to every node.
 */
import type { NatsConnection } from '@nats-io/nats-core';
import { request, stageAudio, stagingBucket, StorageApi, type Mailbox } from '@sipvm/contracts';
import { toneWav, waitFor, type Cluster } from '@sipvm/harness';

/** A personal greeting of `ms` of a `hz` tone (1.5 s by default). */
export async function toneGreeting(nc: NatsConnection, mailbox: Mailbox, hz: number, ms = 1_500): Promise<void> {
  const wav = toneWav(hz, ms);
  const audio = await stageAudio(
    await stagingBucket(nc),
    `cluster-greeting-${mailbox.uid}-${process.pid}`,
    (async function* () {
      yield wav;
    })(),
  );
  await request(nc, StorageApi.putGreeting, { mailbox, type: 'vm', audio });
}

/** Every node is ready and the proxy sends it calls (its OPTIONS probes got 200). */
export async function nodesInRotation(cluster: Cluster, timeoutMs = 30_000): Promise<void> {
  await waitFor(
    async () => Object.values(await cluster.proxy.nodeStates()).filter((s) => s === 'AP').length === cluster.nodes.length,
    timeoutMs,
    'every node in the proxy rotation',
  );
}
