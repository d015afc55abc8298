/**
 * A voicebox PIN as it travels: never the PIN itself, only a verifier. signaling seals the PIN it
 * receives in P-App-Param the moment it has validated it; the call-started event, the voicebox's
 * call record and every log line carry the verifier; voicebox checks what the caller types against
 * it in constant time.
 *
 * The verifier is salted and deliberately slow (scrypt, about 16 MiB and tens of milliseconds),
 * so a copy cannot be matched against every PIN of a length in a blink. A PIN of a few digits
 * cannot be kept secret from someone who has its verifier and time, though: what protects it is
 * that only signaling and voicebox may read the subjects and buckets that carry it (permissions.ts).
 */
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';

/** What a proxy may pass as `pin`: 1 to 16 digits. */
export const PinSchema = z.string().regex(/^[0-9]{1,16}$/, 'must be 1 to 16 digits');

const KDF = { name: 'scrypt', N: 16_384, r: 8, p: 1, length: 32 } as const;

export const PinVerifierSchema = z.strictObject({
  kdf: z.literal(`scrypt:${KDF.N}:${KDF.r}:${KDF.p}`),
  salt: z.string().regex(/^[A-Za-z0-9_-]{22}$/, 'is not a 16-byte base64url salt'),
  hash: z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'is not a 32-byte base64url hash'),
});
export type PinVerifier = z.infer<typeof PinVerifierSchema>;

function derive(pin: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // 128·N·r bytes is exactly 16 MiB, which is also scrypt's default memory limit: raise it a little.
    scrypt(pin, salt, KDF.length, { N: KDF.N, r: KDF.r, p: KDF.p, maxmem: 64 * 1024 * 1024 }, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

/** The verifier of a PIN, with a fresh salt. */
export async function sealPin(pin: string): Promise<PinVerifier> {
  const salt = randomBytes(16);
  const hash = await derive(PinSchema.parse(pin), salt);
  return { kdf: `scrypt:${KDF.N}:${KDF.r}:${KDF.p}`, salt: salt.toString('base64url'), hash: hash.toString('base64url') };
}

/** Whether `entered` is the sealed PIN; the comparison takes the same time whatever matches. */
export async function pinMatches(entered: string, verifier: PinVerifier): Promise<boolean> {
  const expected = Buffer.from(verifier.hash, 'base64url');
  const actual = await derive(entered, Buffer.from(verifier.salt, 'base64url'));
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
