/**
 * Makes the NATS credentials of a deployment: an nkey per identity (kept when there is one
 * already) and the server's authorisation for them, generated from the permission table
 * (packages/contracts/src/permissions.ts). npm start, docker compose (the `nats-auth` one-shot
 * service) and Kubernetes (deploy/k8s/generate-secrets.sh) all run this.
 *
 *   node packages/service/dist/nats-credentials.js --config DIR (--seeds DIR | --seed-dirs DIR)
 *        [--identities storage,media,…] [--no-permissions]
 *   node packages/service/dist/nats-credentials.js --permissions-file deploy/k8s/nats-permissions.conf
 *
 *   --config DIR      writes DIR/keys.conf (public keys) and DIR/permissions.conf
 *   --seeds DIR       seeds as DIR/<identity>.nk
 *   --seed-dirs DIR   seeds as DIR/<identity>/nats.nk (a folder per identity: compose mounts one
 *                     volume per service, so each reads its own seed only)
 *   --identities      default: every service and admin (bench only when named)
 *   --no-permissions  keys.conf only (Kubernetes ships permissions.conf with the manifests)
 *   --permissions-file FILE   only the permissions, into FILE (the one Kubernetes ships)
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureNatsKeys, NATS_IDENTITIES, natsKeysConfig, natsPermissionsConfig, seedFile, type NatsIdentity } from '@sipvm/contracts';

const { values } = parseArgs({
  options: {
    config: { type: 'string' },
    seeds: { type: 'string' },
    'seed-dirs': { type: 'string' },
    identities: { type: 'string', default: NATS_IDENTITIES.filter((identity) => identity !== 'bench').join(',') },
    'no-permissions': { type: 'boolean', default: false },
    'permissions-file': { type: 'string' },
  },
});

const fail = (message: string): never => {
  process.stderr.write(`nats-credentials: ${message}\n`);
  process.exit(64);
};
const identities = values.identities.split(',').map((name) => name.trim());
for (const name of identities) if (!(NATS_IDENTITIES as readonly string[]).includes(name)) fail(`"${name}" is not an identity (${NATS_IDENTITIES.join(', ')})`);
if (values['permissions-file'] !== undefined) {
  writeFileSync(values['permissions-file'], natsPermissionsConfig(identities as NatsIdentity[]));
  process.stdout.write(`nats-credentials: permissions of ${identities.join(', ')} in ${values['permissions-file']}\n`);
  process.exit(0);
}
const config = values.config ?? fail('--config DIR is required');
const seedPath =
  values.seeds !== undefined
    ? (identity: NatsIdentity) => seedFile(values.seeds as string, identity)
    : values['seed-dirs'] !== undefined
      ? (identity: NatsIdentity) => join(values['seed-dirs'] as string, identity, 'nats.nk')
      : fail('--seeds DIR or --seed-dirs DIR is required');

const publicKeys = ensureNatsKeys(identities as NatsIdentity[], seedPath);
writeFileSync(join(config, 'keys.conf'), natsKeysConfig(publicKeys));
if (!values['no-permissions']) writeFileSync(join(config, 'permissions.conf'), natsPermissionsConfig(identities as NatsIdentity[]));
process.stdout.write(`nats-credentials: ${identities.join(', ')} in ${config}\n`);
