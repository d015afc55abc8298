/** The storage service's environment variables (documented in the README). */
import { z } from 'zod';
import { env, retentionDays } from '@sipvm/service';

export const storageConfig = {
  /** `local` (a folder, the embedded default) or `s3` (S3-compatible object storage). */
  STORAGE_BACKEND: env.oneOf(['local', 's3'] as const).default('local'),
  /** Folder of the local backend. */
  STORAGE_DIR: env.string().default('/var/lib/sipvm/storage'),
  S3_BUCKET: env.string().optional(),
  /** Key prefix inside the bucket, e.g. `voicemail/`. */
  S3_PREFIX: z
    .string()
    .regex(/^(?:[A-Za-z0-9._-]+\/)*$/, 'must be empty or end with / (e.g. voicemail/)')
    .default(''),
  /** Endpoint of a non-AWS S3 (MinIO, Ceph RGW); unset for AWS. */
  S3_ENDPOINT: env.url(['http', 'https']).optional(),
  /** Extra CA certificate (PEM) to trust for an https endpoint with a private CA. */
  S3_CA_FILE: env.string().optional(),
  S3_REGION: env.string().default('us-east-1'),
  /** Path-style addressing (bucket in the path), needed by most MinIO and Ceph set-ups. */
  S3_FORCE_PATH_STYLE: env.boolean().default(false),
  S3_CONNECT_TIMEOUT_MS: env.integer(100, 60_000).default(1_000),
  S3_REQUEST_TIMEOUT_MS: env.integer(1_000, 600_000).default(30_000),
  /** Unheard messages are deleted this many days after they arrived (domains may say otherwise); 0 = never. */
  STORAGE_RETENTION_NEW_DAYS: retentionDays().default(0),
  /** Saved messages are deleted this many days after they were heard (domains may say otherwise); 0 = never. */
  STORAGE_RETENTION_SAVED_DAYS: retentionDays().default(0),
  /** The owner is told this many days before retention deletes messages (domains may say otherwise); 0 = not told. */
  STORAGE_RETENTION_WARN_DAYS: retentionDays().default(0),
  /** How often retention looks for mailboxes that are due (each sweep reads only those). */
  STORAGE_RETENTION_SWEEP_MS: env.duration().pipe(z.number().min(1_000, 'must be at least 1s').max(86_400_000, 'must be at most 24h')).default(600_000),
  /** The platform's domains file (settings per domain; storage reads its retention). */
  VM_DOMAINS_FILE: env.string().optional(),
  /** How often readiness re-checks that the backend is reachable. */
  STORAGE_HEALTH_INTERVAL_MS: env.integer(500, 600_000).default(5_000),
};
