/**
 * The reconciler: compares the jobs table (the truth) with the schedules in Sundial's
 * schedule group and repairs drift both ways — a missing or disabled/enabled-wrong
 * schedule is re-applied, one whose expression, time zone, window or target was edited by
 * hand is re-applied, and a schedule with no job is deleted. A maintenance job: it scans
 * the table and pages through the group, pacing its Scheduler calls under the API quota.
 */
import {
  GetScheduleCommand,
  type GetScheduleCommandOutput,
  ListSchedulesCommand,
  type ListSchedulesCommandOutput,
  ResourceNotFoundException,
  type SchedulerClient,
} from '@aws-sdk/client-scheduler';
import type { JobStore, StoredJob } from '../adapters/job-store.js';
import type { EventBridgeScheduleGateway } from '../adapters/schedule-gateway.js';
import type { Job } from '../domain/job.js';
import type { JobServiceLogger } from './jobs.js';

export interface ReconcileDeps {
  jobs: JobStore;
  scheduler: SchedulerClient;
  gateway: EventBridgeScheduleGateway;
  groupName: string;
  logger: JobServiceLogger;
  /** Waits between Scheduler calls, keeping under its rate quota. */
  pace?: () => Promise<void>;
}

export interface ReconcileReport {
  jobs: number;
  schedules: number;
  /** Enabled jobs whose schedule was gone: re-created. */
  missing: number;
  /** Schedules that differed from their job (state, expression, target…): re-applied. */
  drifted: number;
  /** Schedules with no job (or a job without a schedule): deleted. */
  orphaned: number;
  failed: number;
}

export async function reconcile(deps: ReconcileDeps): Promise<ReconcileReport> {
  const pace = deps.pace ?? (() => Promise.resolve());
  const report: ReconcileReport = { jobs: 0, schedules: 0, missing: 0, drifted: 0, orphaned: 0, failed: 0 };
  const existing = new Set<string>();
  let token: string | undefined;
  do {
    await pace();
    const page: ListSchedulesCommandOutput = await deps.scheduler.send(
      new ListSchedulesCommand({ GroupName: deps.groupName, MaxResults: 100, NextToken: token }),
    );
    for (const s of page.Schedules ?? []) if (s.Name) existing.add(s.Name);
    token = page.NextToken;
  } while (token);
  report.schedules = existing.size;

  const repair = async (kind: 'missing' | 'drifted' | 'orphaned', name: string, fix: () => Promise<void>) => {
    try {
      await pace();
      await fix();
      report[kind]++;
      deps.logger.warn('schedule drift repaired', { kind, schedule: name });
    } catch (error) {
      report.failed++;
      deps.logger.error('schedule drift repair failed', { kind, schedule: name, error: String(error) });
    }
  };

  const seen = new Set<string>();
  for await (const job of deps.jobs.scanAll()) {
    report.jobs++;
    seen.add(job.id);
    // A job being changed or deleted is the sync sweeper's: its marker is still set.
    if (job.syncPendingAt || job.state === 'deleting') continue;
    const name = job.id;
    if (!job.schedule) {
      if (existing.has(name)) await repair('orphaned', name, () => deps.gateway.remove(name));
      continue;
    }
    if (!existing.has(name)) {
      await repair('missing', name, () => deps.gateway.apply(job as Job));
      continue;
    }
    await pace();
    if (await differs(deps, job)) await repair('drifted', name, () => deps.gateway.apply(job as Job));
  }
  for (const name of existing) {
    if (!seen.has(name)) await repair('orphaned', name, () => deps.gateway.remove(name));
  }
  deps.logger.info('reconciliation finished', { ...report });
  return report;
}

/** Whether the schedule in Scheduler is not what the job says it should be. */
async function differs(deps: ReconcileDeps, job: StoredJob): Promise<boolean> {
  let got: GetScheduleCommandOutput;
  try {
    got = await deps.scheduler.send(new GetScheduleCommand({ Name: job.id, GroupName: deps.groupName }));
  } catch (error) {
    if (error instanceof ResourceNotFoundException) return true;
    throw error;
  }
  const want = deps.gateway.toScheduleInput({ ...(job as Job), schedule: job.schedule! });
  const time = (d: Date | undefined) => (d ? new Date(d).getTime() : null);
  return (
    got.ScheduleExpression !== want.ScheduleExpression ||
    (got.ScheduleExpressionTimezone ?? 'UTC') !== want.ScheduleExpressionTimezone ||
    got.State !== want.State ||
    time(got.StartDate) !== time(want.StartDate) ||
    time(got.EndDate) !== time(want.EndDate) ||
    got.FlexibleTimeWindow?.Mode !== want.FlexibleTimeWindow?.Mode ||
    (got.FlexibleTimeWindow?.MaximumWindowInMinutes ?? null) !==
      (want.FlexibleTimeWindow?.MaximumWindowInMinutes ?? null) ||
    got.Target?.Arn !== want.Target?.Arn ||
    got.Target?.RoleArn !== want.Target?.RoleArn ||
    got.Target?.Input !== want.Target?.Input
  );
}
