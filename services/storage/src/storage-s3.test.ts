import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { startS3 } from '@sipvm/harness';
import { describeStorageConformance } from '../test/conformance.js';

describeStorageConformance({
  name: 'S3 (s3rver over HTTP, signed requests)',
  async setup() {
    const s3 = await startS3();
    const client = new S3Client({
      endpoint: s3.endpoint,
      region: s3.region,
      forcePathStyle: true,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    });
    return {
      env: { ...s3.env, S3_PREFIX: 'vm/' },
      async listAll() {
        const keys: string[] = [];
        let token: string | undefined;
        do {
          const res = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, ContinuationToken: token }));
          keys.push(...(res.Contents ?? []).map((o) => o.Key ?? ''));
          token = res.NextContinuationToken;
        } while (token);
        return keys.sort();
      },
      async teardown() {
        client.destroy();
        await s3.close();
      },
    };
  },
});
