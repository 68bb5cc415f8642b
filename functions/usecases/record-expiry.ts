/**
 * The runs table's retention without DynamoDB TTL (`RUN_EXPIRY=sweep`, a runs table with
 * multi-Region strong consistency): every minute the completion function deletes, shard by
 * shard, the runs, attempt pointers and dead letters whose retention has ended.
 */
import type { RecordExpiry } from '../domain/ports.js';

/** Pages of one shard a sweep reads at most: a backlog is worked off over several sweeps. */
const MAX_PAGES_PER_SHARD = 20;

export async function sweepExpired(
  expiry: RecordExpiry,
  options: { now: Date; shards: number; limit?: number; stopBy?: () => boolean },
): Promise<{ due: number; deleted: number }> {
  const limit = options.limit ?? 100;
  let due = 0;
  let deleted = 0;
  for (let shard = 0; shard < options.shards; shard++) {
    for (let page = 0; page < MAX_PAGES_PER_SHARD; page++) {
      if (options.stopBy?.()) return { due, deleted };
      const swept = await expiry.sweep(shard, options.now, limit);
      due += swept.due;
      deleted += swept.deleted;
      // A short page is the shard's end; a page of records all kept would be read again.
      if (swept.due < limit || swept.deleted === 0) break;
    }
  }
  return { due, deleted };
}
