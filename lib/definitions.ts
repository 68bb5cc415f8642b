/**
 * The data resources of Sundial as plain data. The CDK stack and the local runtime both
 * build their tables and queues from these, so the two can never drift apart.
 * No CDK or AWS SDK imports here: this file is loaded by Lambda-free local code too.
 */

export type KeyType = 'S' | 'N';

export interface KeyDefinition {
  name: string;
  type: KeyType;
}

export interface IndexDefinition {
  indexName: string;
  partitionKey: KeyDefinition;
  sortKey?: KeyDefinition;
  /** Only these attributes beyond the keys are projected (KEYS_ONLY when empty). */
  nonKeyAttributes?: string[];
}

export interface TableDefinition {
  /** Logical id in the stack and suffix of the physical name locally. */
  id: 'Jobs' | 'Runs';
  partitionKey: KeyDefinition;
  sortKey: KeyDefinition;
  timeToLiveAttribute?: string;
  globalSecondaryIndexes: IndexDefinition[];
}

/** Number of shards of the schedule-sync marker index; spreads writes over partitions. */
export const SYNC_SHARDS = 8;

export const JOBS_TABLE: TableDefinition = {
  id: 'Jobs',
  partitionKey: { name: 'pk', type: 'S' },
  sortKey: { name: 'sk', type: 'S' },
  // Runs carry a TTL; jobs table uses it only for idempotency records.
  timeToLiveAttribute: 'expiresAt',
  globalSecondaryIndexes: [
    {
      // Sparse: only jobs whose EventBridge schedule may be out of date carry these keys.
      indexName: 'bySyncPending',
      partitionKey: { name: 'syncShard', type: 'S' },
      sortKey: { name: 'syncPendingAt', type: 'S' },
      nonKeyAttributes: [],
    },
  ],
};

/** Number of shards of the long-run watch index; spreads its writes over partitions. */
export const WATCH_SHARDS = 4;

export const RUNS_TABLE: TableDefinition = {
  id: 'Runs',
  partitionKey: { name: 'pk', type: 'S' },
  sortKey: { name: 'sk', type: 'S' },
  timeToLiveAttribute: 'expiresAt',
  globalSecondaryIndexes: [
    {
      // Sparse: only long runs in progress (or ended but not yet settled) carry these keys;
      // the completion sweep reads the ones due (a deadline, a heartbeat check, a poll).
      indexName: 'byWatch',
      partitionKey: { name: 'watchShard', type: 'S' },
      sortKey: { name: 'watchAt', type: 'S' },
      nonKeyAttributes: [],
    },
  ],
};

export const TABLES: readonly TableDefinition[] = [JOBS_TABLE, RUNS_TABLE];

/**
 * How old records leave the runs table (runs, attempt pointers, dead letters): `ttl`, by
 * DynamoDB Time to Live on `expiresAt` (free, within days of expiry); or `sweep`, deleted by
 * the completion function's minute sweep through the sparse `byExpiry` index. `sweep` is for
 * a runs table with multi-Region strong consistency, which has no TTL (Amazon DynamoDB
 * Developer Guide, "How DynamoDB global tables work", multi-Region strong consistency:
 * "TTLs and local secondary indexes are not supported for MRSC global tables").
 */
export const RUN_EXPIRIES = ['ttl', 'sweep'] as const;
export type RunExpiry = (typeof RUN_EXPIRIES)[number];

/** Number of shards of the expiry index; spreads its writes over partitions. */
export const EXPIRY_SHARDS = 16;

/** Sparse: only records written under `sweep` carry `expiryShard`. */
export const EXPIRY_INDEX: IndexDefinition = {
  indexName: 'byExpiry',
  partitionKey: { name: 'expiryShard', type: 'S' },
  sortKey: { name: 'expiresAt', type: 'N' },
  nonKeyAttributes: [],
};

/** The runs table as a run expiry needs it: TTL, or no TTL and the sweep's index. */
export function runsTableFor(expiry: RunExpiry): TableDefinition {
  if (expiry === 'ttl') return RUNS_TABLE;
  const { timeToLiveAttribute: _ttl, ...rest } = RUNS_TABLE;
  return { ...rest, globalSecondaryIndexes: [...RUNS_TABLE.globalSecondaryIndexes, EXPIRY_INDEX] };
}

/** Both tables, the runs table as the run expiry needs it. */
export function tablesFor(expiry: RunExpiry): readonly TableDefinition[] {
  return [JOBS_TABLE, runsTableFor(expiry)];
}

export const PRIORITIES = ['high', 'default', 'low'] as const;
export type Priority = (typeof PRIORITIES)[number];

export interface QueueDefinition {
  priority: Priority;
  /** Logical id in the stack; local queue name is `sundial-<name>`. */
  name: string;
  dlqName: string;
  /** Receives before a message moves to the DLQ. */
  maxReceiveCount: number;
  visibilityTimeoutSeconds: number;
  /** Messages older than this are dropped by SQS; 14 days so a DLQ keeps them longest. */
  dlqRetentionSeconds: number;
  /** Worker concurrency ceiling for this queue's event source mapping. */
  maxConcurrency: number;
  batchSize: number;
}

/** Worker Lambda timeout. Visibility timeouts are a multiple of it (AWS advises 6x). */
export const WORKER_TIMEOUT_SECONDS = 60;
/** Maximum HTTP target timeout accepted by the API; must stay below the worker timeout. */
export const MAX_TARGET_TIMEOUT_SECONDS = 50;

const queue = (priority: Priority, maxConcurrency: number): QueueDefinition => ({
  priority,
  name: `jobs-${priority}`,
  dlqName: `jobs-${priority}-dlq`,
  maxReceiveCount: 5,
  visibilityTimeoutSeconds: WORKER_TIMEOUT_SECONDS * 6,
  dlqRetentionSeconds: 14 * 24 * 3600,
  maxConcurrency,
  batchSize: 10,
});

export const QUEUES: readonly QueueDefinition[] = [queue('high', 20), queue('default', 10), queue('low', 5)];

/** The CloudWatch namespace of Sundial's own metrics (runs, lag, schedule repairs). */
export const METRICS_NAMESPACE = 'Sundial';
/** Days a run record is kept before DynamoDB TTL removes it. */
export const RUN_RETENTION_DAYS = 30;
/** Markers older than this are repaired by the sync sweeper. */
export const SYNC_GRACE_SECONDS = 30;
/** How often the reconciler compares every job with its schedule (minutes) in the stack. */
export const RECONCILE_MINUTES = 15;
/** How often the completion function sweeps long runs for deadlines and polls (minutes). */
export const COMPLETION_SWEEP_MINUTES = 1;
/** Completion function timeout: a sweep stops taking new runs well before it. */
export const COMPLETION_TIMEOUT_SECONDS = 60;
/**
 * The prefix of every attempt key: ECS `startedBy`, Step Functions execution names and
 * RunTask client tokens start with it, so the EventBridge rules match Sundial's own only.
 */
export const ATTEMPT_KEY_PREFIX = 'sundial-';
/** Long runs whose deadline passed more than a sweep ago and still are not closed (alarm). */
export const OVERDUE_RUNS_METRIC = 'LongRunsOverdue';
/** The degradation level (0..4), published each minute by the completion function (issue 17). */
export const DEGRADATION_LEVEL_METRIC = 'DegradationLevel';
/** The alarm of each degradation step: in alarm while the level is at least `level`. */
export const DEGRADATION_STEP_ALARMS = [
  { level: 1, id: 'Degraded-1-LowPriorityDeferred', description: 'low-priority firings are deferred' },
  {
    level: 2,
    id: 'Degraded-2-RunHistoryCheap',
    description: 'run history is read eventually consistent, in small pages',
  },
  { level: 3, id: 'Degraded-3-DependentsDelayed', description: 'dependency runs are triggered late' },
  { level: 4, id: 'Degraded-4-CreatesRefused', description: 'job creation is refused with 503' },
] as const;
/** How often the sync sweeper runs (minutes) in the stack. */
export const SYNC_SWEEP_MINUTES = 1;
/**
 * Runs in progress at once per tenant on a queue, by default: half the queue's worker
 * concurrency (rounded up), so one tenant can never hold every invocation of a queue —
 * an invocation lasts as long as the slowest run of its batch.
 */
export function defaultTenantRunsInProgress(priority: Priority, maxConcurrency?: number): number {
  const def = QUEUES.find((q) => q.priority === priority);
  return Math.max(1, Math.ceil((maxConcurrency ?? def?.maxConcurrency ?? 2) / 2));
}
/** What SQS allows as an event source mapping's maximum concurrency. */
export const QUEUE_CONCURRENCY_RANGE = { min: 2, max: 1000 } as const;

/**
 * Two regions (issue 16). Published every minute by each region's sync sweeper: how long ago
 * the other region's heartbeat was written (its liveness plus the replication lag), and
 * whether this region is the active one (1) or passive (0).
 */
export const PEER_HEARTBEAT_AGE_METRIC = 'PeerRegionHeartbeatAgeSeconds';
export const REGION_ACTIVE_METRIC = 'RegionActive';
/** A tenant's circuit breaker for a target opened (issue 17): service dimension only; an alarm watches it. */
export const CIRCUIT_OPENED_METRIC = 'CircuitOpened';
/** Runs that waited because their target's circuit was open, per priority. */
export const RUNS_DEFERRED_BY_CIRCUIT_METRIC = 'RunsDeferredByCircuit';
/** Firings a passive region received and recorded as skipped without calling the target. */
export const PASSIVE_SKIPS_METRIC = 'FiringsSkippedPassive';
/** A peer heartbeat older than this means the peer cannot be told to stand down (seconds). */
export const PEER_STALE_SECONDS = 180;
