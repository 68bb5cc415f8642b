/** Pieces several commands share: list options, number parsing, the job's one-line views. */
import { type Command, InvalidArgumentError, Option } from 'commander';
import { wallTime } from '../../client/fire-times.js';
import type { Job, Run } from '../../client/index.js';
import { at, cut, viewerZone } from '../format.js';

export function positiveInt(max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1 || n > max)
      throw new InvalidArgumentError(`must be a whole number 1-${max}`);
    return n;
  };
}

export interface PageOptions {
  limit?: number;
  cursor?: string;
  all?: boolean;
}

/** --limit, --cursor, --all on a list command. */
export function pageOptions(command: Command): Command {
  return command
    .option('--limit <n>', 'items per page (1-100; the API defaults to 20)', positiveInt(100))
    .option('--cursor <cursor>', "start at this page (a previous list's nextCursor)")
    .option('--all', 'follow nextCursor to the last page');
}

/**
 * A list's query: the page size, the cursor and the filters that were given, and nothing
 * for those that were not (the API reads an empty value as one given).
 */
export function listQuery<F extends Record<string, string | undefined>>(
  options: Pick<PageOptions, 'limit'>,
  cursor: string | undefined,
  filters = {} as F,
): { limit?: number; cursor?: string } & { [K in keyof F]?: Exclude<F[K], undefined> } {
  const given = Object.entries({ limit: options.limit, cursor, ...filters }).filter(([, v]) => v);
  return Object.fromEntries(given) as { limit?: number; cursor?: string } & {
    [K in keyof F]?: Exclude<F[K], undefined>;
  };
}

export function choice(flags: string, description: string, values: readonly string[]): Option {
  return new Option(flags, description).choices(values);
}

/** `cron(0 9 * * ? *) America/New_York`, or `-` for a job run only on demand. */
export function scheduleText(job: Pick<Job, 'schedule'>): string {
  if (!job.schedule) return '- (on demand)';
  return job.schedule.timezone === 'UTC'
    ? job.schedule.expression
    : `${job.schedule.expression} ${job.schedule.timezone}`;
}

/** The time in the viewer's zone; then in the job's own, when that differs. */
export function bothZones(instant: string | null, jobZone: string | undefined): string {
  if (!instant) return '-';
  const viewer = viewerZone();
  const mine = at(instant, viewer);
  if (!jobZone || jobZone === viewer) return mine;
  const theirs = wallTime(instant, jobZone);
  return `${mine} (${theirs.local} ${jobZone})`;
}

export function stateText(job: Pick<Job, 'state' | 'pausedReason'>, max = 40): string {
  if (job.state !== 'paused') return job.state;
  return job.pausedReason ? `paused: ${cut(job.pausedReason, max)}` : 'paused';
}

export function targetText(target: Job['target']): string {
  switch (target.type) {
    case 'http':
      return `http ${target.method} ${target.url}${target.completion === 'callback' ? ' (callback)' : ''}`;
    case 'lambda':
      return `lambda ${target.functionArn}`;
    case 'sqs':
      return `sqs ${target.queueUrl}`;
    case 'eventbridge':
      return `eventbridge ${target.eventBusArn} ${target.source}/${target.detailType}`;
    case 'ecs':
      return `ecs ${target.taskDefinition} on ${target.cluster}`;
    case 'stepfunctions':
      return `stepfunctions ${target.stateMachineArn}`;
  }
}

/** What a run ended with, in a few words: `200`, `http_status: 500 …`, `skipped: …`. */
export function outcomeText(run: Run, max = 60): string {
  if (run.error) return cut(`${run.error.type}: ${run.error.message}`, max);
  if (run.skipReason) return cut(run.skipReason, max);
  if (run.result?.statusCode !== null && run.result?.statusCode !== undefined)
    return String(run.result.statusCode);
  if (run.result?.exitCode !== null && run.result?.exitCode !== undefined)
    return `exit ${run.result.exitCode}`;
  if (run.progress !== null)
    return `${Math.round(run.progress * 100)}%${run.progressMessage ? ` ${run.progressMessage}` : ''}`;
  return '';
}
