/**
 * The drill's accounting: every occurrence due during the drill, from each job's schedule (the
 * project's own schedule functions), set against the run records of the region that survives
 * and the target's call log of both regions.
 *
 * - lost: no record of the occurrence in the surviving region's runs table, and its target
 *   was never called by either region: work that silently did not happen.
 * - unreplicated: the lost region recorded the occurrence, but that record never reached the
 *   surviving region as it was (it had not been pumped when the region died): inside the RPO.
 *   The takeover then handles it as part of the failover gap (run again or recorded missed).
 * - duplicated: the target was called more than once for the occurrence, by either region.
 *   Inside the RPO when the occurrence is also unreplicated (the documented window in which a
 *   firing can run in both regions); outside it, a bug.
 * - unrecorded: called, but no record in the surviving region (not lost work; a history gap).
 * - policy mismatches: an occurrence of a failover's gap (trigger catch_up) recorded other than
 *   its job's catch-up policy says (none: missed; latest: the newest runs, the rest missed;
 *   all: run within catchUpWindowMinutes of the takeover, missed before).
 */
import type { StoredRun } from '../functions/domain/run.js';
import { scheduledRunId } from '../functions/domain/run.js';
import { nextFireTimes, parseScheduleExpression } from '../functions/domain/schedule/index.js';
import type { TargetCall } from './target.js';

export type CatchUp = 'all' | 'latest' | 'none';

/** A job the drill made, as the API answered its creation. */
export interface DrillJob {
  id: string;
  tenantId: string;
  name: string;
  expression: string;
  timezone: string;
  catchUp: CatchUp;
  catchUpWindowMinutes: number;
  createdAt: string;
}

export interface Occurrence {
  jobId: string;
  scheduledAt: string;
  /** The surviving region's record of it (id scheduledRunId(scheduledAt)), if any. */
  record: StoredRun | undefined;
  calls: TargetCall[];
  unreplicated: boolean;
  outcome: 'lost' | 'unrecorded' | 'recorded';
  /** Why its record is not what the catch-up policy says; undefined when it is. */
  mismatch: string | undefined;
}

export interface LedgerTotals {
  /** Occurrences due during the drill (from the schedules). */
  due: number;
  /** Of those, recorded in the surviving region, by status and trigger ("succeeded schedule"). */
  recorded: Record<string, number>;
  lost: number;
  unrecorded: number;
  unreplicated: number;
  duplicated: number;
  /** Duplicated occurrences that were unreplicated too: the run-in-both-regions window of the RPO. */
  duplicatedInsideRpo: number;
  /**
   * Unreplicated occurrences the survivor ran again (its catch-up policy runs them): what the
   * design says duplicated is, since the lost region had already called their targets.
   */
  rerunInsideRpo: number;
  /** Records whose outcome contradicts the job's catch-up policy. */
  mismatches: number;
  /** Records left queued or running at the end (a run no region finished). */
  unfinished: number;
  /** Records in the surviving table that are no occurrence of the schedule (should be none). */
  unexpected: number;
  /** Target calls per region (as the drill was driving them). */
  callsByRegion: Record<string, number>;
}

export interface Ledger {
  totals: LedgerTotals;
  occurrences: Occurrence[];
  /** A few examples of what went wrong, for the report. */
  problems: string[];
}

export const occurrenceKey = (jobId: string, scheduledAt: string) =>
  `${jobId}@${new Date(scheduledAt).toISOString()}`;

/** The occurrences of a job strictly after its creation, up to `end` (inclusive). */
export function dueOccurrences(job: DrillJob, end: Date): Date[] {
  const parsed = parseScheduleExpression(job.expression);
  if (!parsed.ok) throw new Error(`job ${job.name}: ${parsed.message}`);
  const createdAt = new Date(job.createdAt);
  return nextFireTimes(parsed.schedule, {
    timezone: job.timezone,
    after: createdAt,
    endAt: end,
    count: 100_000,
    createdAt,
  });
}

const UNFINISHED = new Set(['queued', 'running']);
const RAN = (run: StoredRun) => run.status !== 'missed' && run.status !== 'skipped';

export function account(input: {
  jobs: readonly DrillJob[];
  end: Date;
  /** The surviving region's runs, by job id (every record the table has for the job). */
  survivor: ReadonlyMap<string, readonly StoredRun[]>;
  calls: readonly TargetCall[];
  /** Occurrence keys whose record in the lost region never reached the survivor as it was. */
  unreplicated?: ReadonlySet<string>;
  /** When each takeover handled its gap (its clock time): catch-up windows count back from it. */
  takeovers: readonly Date[];
}): Ledger {
  const callsOf = new Map<string, TargetCall[]>();
  const callsByRegion: Record<string, number> = {};
  for (const call of input.calls) {
    const key = occurrenceKey(call.jobId, call.scheduledAt);
    callsOf.set(key, [...(callsOf.get(key) ?? []), call]);
    callsByRegion[call.region] = (callsByRegion[call.region] ?? 0) + 1;
  }
  const takeovers = [...input.takeovers].sort((a, b) => a.getTime() - b.getTime());
  const takeoverOf = (t: number) => takeovers.find((at) => at.getTime() >= t);
  const occurrences: Occurrence[] = [];
  const problems: string[] = [];
  const note = (line: string) => {
    if (problems.length < 12) problems.push(line);
  };
  let unexpected = 0;
  for (const job of input.jobs) {
    const runs = new Map((input.survivor.get(job.id) ?? []).map((r) => [r.id, r]));
    const due = dueOccurrences(job, input.end);
    const dueIds = new Set(due.map(scheduledRunId));
    for (const run of runs.values()) {
      if (run.id.includes('_passive_')) continue;
      if (!dueIds.has(run.id)) {
        unexpected++;
        note(
          `${job.name}: a record ${run.id} (${run.trigger} ${run.status}) is no occurrence of its schedule`,
        );
      }
    }
    // The failover gap's records, by the takeover that handled them: the newest of each group
    // is the one catchUp "latest" runs.
    const gapGroups = new Map<number, StoredRun[]>();
    for (const t of due) {
      const run = runs.get(scheduledRunId(t));
      if (run?.trigger !== 'catch_up') continue;
      const at = takeoverOf(t.getTime())?.getTime() ?? Number.POSITIVE_INFINITY;
      gapGroups.set(at, [...(gapGroups.get(at) ?? []), run]);
    }
    for (const t of due) {
      const scheduledAt = t.toISOString();
      const key = occurrenceKey(job.id, scheduledAt);
      const record = runs.get(scheduledRunId(t));
      const calls = callsOf.get(key) ?? [];
      const outcome = record ? 'recorded' : calls.length > 0 ? 'unrecorded' : 'lost';
      let mismatch: string | undefined;
      if (record?.trigger === 'catch_up') {
        const takeover = takeoverOf(t.getTime());
        const group = gapGroups.get(takeover?.getTime() ?? Number.POSITIVE_INFINITY) ?? [];
        const newest = group.reduce((max, r) => Math.max(max, Date.parse(r.scheduledAt)), 0);
        const shouldRun =
          job.catchUp === 'all'
            ? takeover !== undefined && t.getTime() >= takeover.getTime() - job.catchUpWindowMinutes * 60_000
            : job.catchUp === 'latest' && t.getTime() === newest;
        if (shouldRun !== RAN(record)) {
          mismatch = `catchUp ${job.catchUp} (window ${job.catchUpWindowMinutes} min) should have ${shouldRun ? 'run' : 'recorded missed'} it, but it is ${record.status}`;
        }
      } else if (record && !RAN(record) && record.trigger === 'schedule') {
        mismatch = `a scheduled occurrence recorded ${record.status}: ${record.skipReason ?? ''}`;
      }
      const occurrence: Occurrence = {
        jobId: job.id,
        scheduledAt,
        record,
        calls,
        unreplicated: input.unreplicated?.has(key) ?? false,
        outcome,
        mismatch,
      };
      occurrences.push(occurrence);
      if (outcome === 'lost') note(`${job.name} ${scheduledAt}: lost (no record, never called)`);
      if (outcome === 'unrecorded') note(`${job.name} ${scheduledAt}: called but no record in the survivor`);
      if (mismatch) note(`${job.name} ${scheduledAt}: ${mismatch}`);
      if (calls.length > 1 && !occurrence.unreplicated) {
        note(
          `${job.name} ${scheduledAt}: called ${calls.length} times (${calls.map((c) => c.region).join(', ')}) outside the RPO`,
        );
      }
    }
  }
  const recorded: Record<string, number> = {};
  for (const o of occurrences) {
    if (!o.record) continue;
    const label = `${o.record.status} ${o.record.trigger}`;
    recorded[label] = (recorded[label] ?? 0) + 1;
  }
  const duplicated = occurrences.filter((o) => o.calls.length > 1);
  return {
    totals: {
      due: occurrences.length,
      recorded,
      lost: occurrences.filter((o) => o.outcome === 'lost').length,
      unrecorded: occurrences.filter((o) => o.outcome === 'unrecorded').length,
      unreplicated: occurrences.filter((o) => o.unreplicated).length,
      duplicated: duplicated.length,
      duplicatedInsideRpo: duplicated.filter((o) => o.unreplicated).length,
      rerunInsideRpo: occurrences.filter(
        (o) => o.unreplicated && o.record?.trigger === 'catch_up' && RAN(o.record),
      ).length,
      mismatches: occurrences.filter((o) => o.mismatch).length,
      unfinished: occurrences.filter((o) => o.record && UNFINISHED.has(o.record.status)).length,
      unexpected,
      callsByRegion,
    },
    occurrences,
    problems,
  };
}

/**
 * RTO from the survivor's records: seconds from `killAt` until its first run (not a missed or
 * skipped record) of an occurrence due after `killAt`; and until every job has had one.
 */
export function recoveryTimes(
  jobs: readonly DrillJob[],
  survivor: ReadonlyMap<string, readonly StoredRun[]>,
  killAt: Date,
): { first: number | null; everyJob: number | null; firstRun: StoredRun | undefined } {
  let first: StoredRun | undefined;
  let everyJob: number | null = 0;
  for (const job of jobs) {
    const runs = (survivor.get(job.id) ?? []).filter(
      (r) =>
        !r.id.includes('_passive_') &&
        Date.parse(r.scheduledAt) > killAt.getTime() &&
        RAN(r) &&
        r.startedAt !== null,
    );
    const earliest = runs.sort((a, b) => Date.parse(a.startedAt!) - Date.parse(b.startedAt!))[0];
    if (!earliest) {
      everyJob = null;
      continue;
    }
    if (!first || Date.parse(earliest.startedAt!) < Date.parse(first.startedAt!)) first = earliest;
    if (everyJob !== null) everyJob = Math.max(everyJob, Date.parse(earliest.startedAt!) - killAt.getTime());
  }
  const seconds = (ms: number) => Math.round(ms / 1000);
  return {
    first: first ? seconds(Date.parse(first.startedAt!) - killAt.getTime()) : null,
    everyJob: everyJob === null ? null : seconds(everyJob),
    firstRun: first,
  };
}
