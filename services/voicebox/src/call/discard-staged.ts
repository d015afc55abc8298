/** An action of both applications: staged audio no one needs any more (a greeting not kept, an introduction sent) goes. */
import { discardStagedAudio, type StagedAudio, type StagingBucket } from '@sipvm/contracts';

export const discardStaged =
  (staging: StagingBucket) =>
  async (action: { audio: StagedAudio }): Promise<[]> => {
    // It would expire by itself; failing to remove it early is no reason to disturb the call.
    await discardStagedAudio(staging, action.audio).catch(() => undefined);
    return [];
  };
