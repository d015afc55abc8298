import { it } from 'node:test';
import assert from 'node:assert/strict';
import { commonConfigShape, ConfigError, env, loadConfig, mediaNodeShape } from './config.js';

const shape = {
  PORT: env.port().default(8080),
  ENABLED: env.boolean().default(false),
  SERVERS: env.list().default(['a']),
  MODE: env.oneOf(['x', 'y'] as const).default('x'),
  URL: env.url(['http', 'https']).optional(),
};

it('applies defaults, treating empty values as unset', () => {
  assert.deepEqual(loadConfig(shape, { PORT: '', ENABLED: '' }), { PORT: 8080, ENABLED: false, SERVERS: ['a'], MODE: 'x' });
});

it('converts strings to typed values', () => {
  const config = loadConfig(shape, { PORT: '5060', ENABLED: 'yes', SERVERS: ' nats://a:4222 , nats://b:4222 ,', MODE: 'y', URL: 'https://s3.example' });
  assert.deepEqual(config, { PORT: 5060, ENABLED: true, SERVERS: ['nats://a:4222', 'nats://b:4222'], MODE: 'y', URL: 'https://s3.example' });
});

it('reports every bad variable at once, by name, with its value', () => {
  assert.throws(
    () => loadConfig(shape, { PORT: 'http', ENABLED: 'maybe', MODE: 'z', URL: 'ftp://x' }),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.problems.length, 4);
      assert.match(error.message, /PORT \("http"\): must be a port number/);
      assert.match(error.message, /ENABLED \("maybe"\): must be true or false/);
      assert.match(error.message, /MODE \("z"\): must be one of x, y/);
      assert.match(error.message, /URL \("ftp:\/\/x"\): must be a URL \(http, https\)/);
      return true;
    },
  );
});

it('reads durations and lists of durations', () => {
  const config = loadConfig({ ONE: env.duration(), MANY: env.durations() }, { ONE: '1.5s', MANY: '200ms, 30s,2m,1h' });
  assert.deepEqual(config, { ONE: 1500, MANY: [200, 30_000, 120_000, 3_600_000] });
  assert.throws(() => loadConfig({ ONE: env.duration() }, { ONE: 'soon' }), /ONE \("soon"\): must be a duration/);
  assert.throws(() => loadConfig({ MANY: env.durations() }, { MANY: '1s,x' }), /MANY \("1s,x"\): must be a comma-separated list of durations/);
});

it('turns a Kubernetes node name into an instance id, and refuses one with nothing usable', () => {
  assert.equal(
    loadConfig(commonConfigShape, { INSTANCE_ID: 'ip-10-0-3-17.eu-west-1.compute.internal' }).INSTANCE_ID,
    'ip-10-0-3-17-eu-west-1-compute-internal',
  );
  assert.equal(loadConfig(commonConfigShape, { INSTANCE_ID: 'n'.repeat(80) }).INSTANCE_ID, 'n'.repeat(64));
  assert.match(loadConfig(commonConfigShape, {}).INSTANCE_ID, /^[A-Za-z0-9_-]{1,64}$/);
  assert.throws(() => loadConfig(commonConfigShape, { INSTANCE_ID: ' ' }), /INSTANCE_ID \(" "\): must contain a letter or digit/);
});

it('names the media node like an instance, one default node unless told', () => {
  assert.equal(loadConfig(mediaNodeShape, {}).MEDIA_NODE, 'default');
  assert.equal(loadConfig(mediaNodeShape, { MEDIA_NODE: 'worker-2.example.net' }).MEDIA_NODE, 'worker-2-example-net');
  assert.throws(() => loadConfig(mediaNodeShape, { MEDIA_NODE: ' ' }), /MEDIA_NODE \(" "\): must contain a letter or digit/);
});

it('takes the JetStream replica count, 1 unless told', () => {
  assert.equal(loadConfig(commonConfigShape, {}).JETSTREAM_REPLICAS, 1);
  assert.equal(loadConfig(commonConfigShape, { JETSTREAM_REPLICAS: '3' }).JETSTREAM_REPLICAS, 3);
  assert.throws(() => loadConfig(commonConfigShape, { JETSTREAM_REPLICAS: '0' }), /JETSTREAM_REPLICAS \("0"\): must be at least 1/);
});
