/**
 * How long a domain keeps messages (docs/behaviour.md §6): unheard ones so many days after they
 * arrived, saved ones so many days after they were heard (0: for ever), and how many days before
 * the owner is told. From the domains file, over the platform's STORAGE_RETENTION_* settings.
 */
import type { Mailbox } from '@sipvm/contracts';
import type { Domains } from '@sipvm/service';
import { timeOfId, type Scan } from './mailbox-scan.js';

export interface RetentionPolicy {
  newDays: number;
  savedDays: number;
  warnDays: number;
}

export const NO_RETENTION: RetentionPolicy = { newDays: 0, savedDays: 0, warnDays: 0 };

const DAY_MS = 24 * 3600 * 1000;

/** When a message expires: a new one `newDays` after it was recorded, a saved one `savedDays` after it was heard; undefined: never. */
export function expiryOf(policy: RetentionPolicy, state: 'new' | 'saved', since: number): number | undefined {
  const days = state === 'new' ? policy.newDays : policy.savedDays;
  return days > 0 ? since + days * DAY_MS : undefined;
}

export function retentionPolicies(domains: Domains, platform: RetentionPolicy): (mailbox: Mailbox) => RetentionPolicy {
  return (mailbox) => {
    const domain = domains.of(mailbox.did);
    return {
      newDays: domain.retentionNewDays ?? platform.newDays,
      savedDays: domain.retentionSavedDays ?? platform.savedDays,
      warnDays: domain.retentionWarnDays ?? platform.warnDays,
    };
  };
}

/** When a message of a scan expires: a new one by its time, a saved one by when it was heard; undefined: never (or not known). */
export function expiryOfMessage(policy: RetentionPolicy, scan: Pick<Scan, 'read'>, id: string): number | undefined {
  if (!scan.read.has(id)) return expiryOf(policy, 'new', timeOfId(id));
  const heard = scan.read.get(id);
  return heard === undefined ? undefined : expiryOf(policy, 'saved', heard.getTime());
}
