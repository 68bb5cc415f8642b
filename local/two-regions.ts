/**
 * Two local regions (issue 16): two local runtimes, each with its own DynamoDB Local, queues,
 * Scheduler emulator and functions, sharing one secrets key (as a multi-Region KMS key and its
 * replica do), with a stream replicator between their tables standing in for global tables
 * (and, under `strong`, one runs table both share, standing in for multi-Region strong
 * consistency).
 * The first region is home, active from the start; the second is passive until a failover.
 */
import { randomBytes } from 'node:crypto';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { RegionStore } from '../functions/adapters/region-store.js';
import { createDocumentClient } from '../functions/commons/clients.js';
import type { Clock } from '../functions/domain/ports.js';
import type { DrDeps } from '../functions/usecases/regions.js';
import { PEER_STALE_SECONDS } from '../lib/definitions.js';
import { LOCAL_CREDENTIALS, startDynamoDbLocal } from './dynamodb-local.js';
import { type ReplicaPair, replicateBothWays } from './replicator.js';
import { type LocalRuntime, type LocalRuntimeOptions, startLocalRuntime } from './runtime.js';

export const DRILL_REGIONS = ['us-east-1', 'us-west-2'] as const;

/**
 * How the two regions' runs tables agree: `eventual`, each region its own table and the
 * replicator between them (global tables' default); `strong`, one runs table both use (the
 * stand-in for multi-Region strong consistency, local/strong-table.ts). The jobs tables are
 * replicated, eventually consistent, either way.
 */
export type LocalConsistency = 'eventual' | 'strong';

export interface TwoRegions {
  regions: readonly string[];
  consistency: LocalConsistency;
  /** By region. */
  runtimes: Record<string, LocalRuntime>;
  home: LocalRuntime;
  standby: LocalRuntime;
  replication: ReplicaPair;
  /** What `sundial dr` is given: each region's jobs table, reached as an operator would. */
  dr: DrDeps;
  /** Replication both ways, then each region's jobs stream and queues, until nothing moves. */
  settle(): Promise<void>;
  stop(): Promise<void>;
}

export async function startTwoRegions(
  options: Omit<LocalRuntimeOptions, 'region' | 'drRegions' | 'kmsKeyMaterial' | 'port'> & {
    clock: Clock;
    regions?: readonly [string, string];
    /** Default `eventual`. */
    consistency?: LocalConsistency;
  },
): Promise<TwoRegions> {
  const regions = options.regions ?? DRILL_REGIONS;
  const consistency = options.consistency ?? 'eventual';
  const kmsKeyMaterial = randomBytes(32);
  const { regions: _r, consistency: _c, ...common } = options;
  const started: LocalRuntime[] = [];
  const clients: DynamoDBDocumentClient[] = [];
  // The strongly consistent runs table outlives either region, as MRSC's does.
  const strongRuns = consistency === 'strong' ? await startDynamoDbLocal() : undefined;
  try {
    for (const region of regions) {
      started.push(
        await startLocalRuntime({
          ...common,
          port: 0,
          region,
          drRegions: [...regions],
          kmsKeyMaterial,
          ...(strongRuns ? { strongRunsTable: { endpoint: strongRuns.endpoint } } : {}),
        }),
      );
    }
    const [home, standby] = started as [LocalRuntime, LocalRuntime];
    const end = (rt: LocalRuntime) => ({
      region: rt.region,
      endpoint: rt.endpoints.dynamodb,
      // One runs table under strong consistency: nothing of it to replicate.
      tables: {
        Jobs: rt.config.jobsTableName,
        ...(strongRuns ? {} : { Runs: rt.config.runsTableName }),
      },
    });
    const replication = replicateBothWays(end(home), end(standby));
    await replication.start();
    const tables: DrDeps['tables'] = {};
    for (const rt of started) {
      const db = createDocumentClient({
        region: rt.region,
        credentials: LOCAL_CREDENTIALS,
        endpoint: rt.endpoints.dynamodb,
      });
      clients.push(db);
      tables[rt.region] = new RegionStore(db, rt.config.jobsTableName, regions);
    }
    return {
      regions,
      consistency,
      runtimes: Object.fromEntries(started.map((rt) => [rt.region, rt])),
      home,
      standby,
      replication,
      dr: { regions, tables, clock: options.clock, staleSeconds: PEER_STALE_SECONDS },
      settle: async () => {
        for (let round = 0; round < 10; round++) {
          const { applied } = await replication.pump();
          const streamed = (await home.pollStreams()) + (await standby.pollStreams());
          await home.drain();
          await standby.drain();
          if (applied === 0 && streamed === 0) return;
        }
      },
      stop: async () => {
        await replication.stop().catch(() => undefined);
        for (const c of clients) c.destroy();
        for (const rt of started) await rt.stop();
        await strongRuns?.stop();
      },
    };
  } catch (error) {
    for (const rt of started) await rt.stop();
    await strongRuns?.stop();
    throw error;
  }
}
