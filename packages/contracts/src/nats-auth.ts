/**
 * NATS authentication and authorisation from the permission table (permissions.ts): one nkey per
 * identity, and the server configuration that lets each nkey do what the table says and nothing
 * else. The configuration comes in two files, so the part that changes with the code can ship
 * with it while the keys stay with each deployment:
 *
 *   permissions.conf  authorization { users = [ { nkey: $NKEY_STORAGE, permissions: … } … ] }
 *   keys.conf         NKEY_STORAGE: "U…" … — the public keys of this deployment (not secret)
 *
 * nats.conf includes permissions.conf, which includes keys.conf beside it (NATS variables do not
 * cross from one include into a sibling). A service proves its identity with
 * the seed (`<identity>.nk`, secret: the service's NATS_NKEY_FILE); the server holds no secret.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { nkeys } from '@nats-io/nats-core';
import { grantsOf, type NatsIdentity } from './permissions.js';

const keyVariable = (identity: NatsIdentity) => `NKEY_${identity.toUpperCase()}`;

/** The authorisation block for these identities, referring to their keys as variables. */
export function natsPermissionsConfig(identities: readonly NatsIdentity[]): string {
  const list = (subjects: readonly string[]) => subjects.map((s) => `          ${JSON.stringify(s)}`).join('\n');
  const users = identities.map((identity) => {
    const grants = grantsOf(identity);
    return [
      `    # ${identity}`,
      '    {',
      `      nkey: $${keyVariable(identity)}`,
      '      permissions: {',
      `        publish: { allow: [\n${list(grants.publish)}\n        ] }`,
      `        subscribe: { allow: [\n${list(grants.subscribe)}\n        ] }`,
      // Answering a request (publishing to its reply subject) needs no grant of its own.
      '        allow_responses: true',
      '      }',
      '    }',
    ].join('\n');
  });
  return [
    '# Generated from packages/contracts/src/permissions.ts (natsPermissionsConfig): do not edit.',
    '# Each identity may publish and subscribe to these subjects only; its key is in keys.conf.',
    'include ./keys.conf',
    'authorization {',
    '  users = [',
    ...users,
    '  ]',
    '}',
    '',
  ].join('\n');
}

/** The variables permissions.conf refers to: each identity's public key. */
export function natsKeysConfig(publicKeys: Readonly<Partial<Record<NatsIdentity, string>>>): string {
  const lines = Object.entries(publicKeys).map(([identity, key]) => `${keyVariable(identity as NatsIdentity)}: ${JSON.stringify(key)}`);
  return ['# The public nkeys of this deployment (generated; not secret). Each seed stays with its service.', ...lines, ''].join('\n');
}

/** Where an identity's seed is kept in a folder of credentials (`<identity>.nk`). */
export const seedFile = (dir: string, identity: NatsIdentity): string => join(dir, `${identity}.nk`);

/**
 * Makes an nkey for each identity that has none yet at `seedPath(identity)` (readable by its
 * owner only); keys already there are kept. Returns every identity's public key.
 */
export function ensureNatsKeys(identities: readonly NatsIdentity[], seedPath: (identity: NatsIdentity) => string): Record<string, string> {
  const publicKeys: Record<string, string> = {};
  for (const identity of identities) {
    const file = seedPath(identity);
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    if (!existsSync(file)) writeFileSync(file, `${new TextDecoder().decode(nkeys.createUser().getSeed())}\n`, { mode: 0o600 });
    publicKeys[identity] = nkeys.fromSeed(readSeed(file)).getPublicKey();
  }
  return publicKeys;
}

/** The seed in an nkey file, checked: a user seed (`SU…`). */
export function readSeed(file: string): Uint8Array {
  const text = readFileSync(file, 'utf8').trim();
  if (!/^SU[A-Z2-7]{56}$/.test(text)) throw new Error(`${file} does not hold an nkey user seed (SU…)`);
  return new TextEncoder().encode(text);
}

/**
 * Writes keys.conf and permissions.conf for these identities into `configDir`, making the keys
 * that are missing (by default `<configDir>/<identity>.nk`).
 */
export function writeNatsAuth(options: { configDir: string; identities: readonly NatsIdentity[]; seedPath?: (identity: NatsIdentity) => string }): void {
  const publicKeys = ensureNatsKeys(options.identities, options.seedPath ?? ((identity) => seedFile(options.configDir, identity)));
  mkdirSync(options.configDir, { recursive: true });
  writeFileSync(join(options.configDir, 'keys.conf'), natsKeysConfig(publicKeys));
  writeFileSync(join(options.configDir, 'permissions.conf'), natsPermissionsConfig(options.identities));
}
