import { it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, env, loadConfig } from './config.js';

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
