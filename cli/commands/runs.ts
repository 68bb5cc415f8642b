/** `sundial runs list|get|watch|cancel`. */
import type { Command } from 'commander';
import { duration } from '../../client/fire-times.js';
import type { Run } from '../../client/index.js';
import { ENDED_STATUSES } from '../../functions/domain/ports.js';
import { RUN_STATUSES, type RunStatus } from '../../functions/domain/run.js';
import {
  ApiError,
  allPages,
  type Context,
  connectionProblem,
  contextOf,
  must,
  printJson,
} from '../context.js';
import { at, fields, paint, status, table, viewerZone } from '../format.js';
import { choice, listQuery, outcomeText, type PageOptions, pageOptions, positiveInt } from './shared.js';

// The server's own lists, so a status added there is known here too.
const ENDED = new Set<string>(ENDED_STATUSES);

export function registerRuns(program: Command): void {
  const runs = program
    .command('runs')
    .description("a job's runs: history, one run, live, cancel")
    .addHelpText(
      'after',
      `
Examples:
  $ sundial runs list job_01KAP… --status failed
  $ sundial runs watch job_01KAP…
  $ sundial runs cancel job_01KAP… run_20261123T100100000Z`,
    );

  pageOptions(
    runs
      .command('list')
      .description("a job's runs, newest first")
      .argument('<jobId>')
      .addOption(choice('--status <status>', 'only runs with this status', RUN_STATUSES)),
  )
    .addHelpText(
      'after',
      `
Times are in your zone (${viewerZone()}).

Examples:
  $ sundial runs list job_01KAP…
  $ sundial runs list job_01KAP… --status failed --all --json`,
    )
    .action(async (jobId: string, options: PageOptions & { status?: RunStatus }, command: Command) => {
      const ctx = await contextOf(command);
      const page = await allPages(
        (cursor) =>
          must(
            ctx.api.GET('/v1/jobs/{jobId}/runs', {
              params: {
                path: { jobId },
                query: listQuery(options, cursor, { status: options.status }),
              },
            }),
          ),
        Boolean(options.all),
        options.cursor,
      );
      if (ctx.json) return printJson(page);
      if (page.items.length === 0) return ctx.out('No runs.');
      ctx.out(
        table(
          ['RUN', 'TRIGGER', 'STATUS', `SCHEDULED (${viewerZone()})`, 'ATTEMPT', 'DURATION', 'OUTCOME'],
          page.items.map((run) => [
            run.id,
            run.trigger,
            status(run.status),
            at(run.scheduledAt),
            String(run.attempt),
            duration(run.durationMs),
            outcomeText(run),
          ]),
        ),
      );
      if (page.nextCursor) ctx.out(paint('dim', `More: --cursor ${page.nextCursor} (or --all)`));
    });

  runs
    .command('get')
    .description('one run: its attempts, result, error and, for a long run, its progress')
    .argument('<jobId>')
    .argument('<runId>')
    .addHelpText('after', '\nExample:\n  $ sundial runs get job_01KAP… run_20261123T100100000Z')
    .action(async (jobId: string, runId: string, _options: unknown, command: Command) => {
      const ctx = await contextOf(command);
      const run = await must(
        ctx.api.GET('/v1/jobs/{jobId}/runs/{runId}', { params: { path: { jobId, runId } } }),
      );
      if (ctx.json) return printJson(run);
      ctx.out(describeRun(run));
    });

  runs
    .command('cancel')
    .description('cancel a queued run or a long run')
    .argument('<jobId>')
    .argument('<runId>')
    .addHelpText(
      'after',
      '\nA run that has ended, or a synchronous call in flight, is refused (409).\n\nExample:\n  $ sundial runs cancel job_01KAP… run_20261123T100100000Z',
    )
    .action(async (jobId: string, runId: string, _options: unknown, command: Command) => {
      const ctx = await contextOf(command);
      const run = await must(
        ctx.api.POST('/v1/jobs/{jobId}/runs/{runId}/cancel', { params: { path: { jobId, runId } } }),
      );
      if (ctx.json) return printJson(run);
      ctx.out(`Cancelled run ${run.id} of job ${jobId} (${status(run.status)}).`);
    });

  runs
    .command('watch')
    .description("follow a job's runs live: a line per new run and per status change, until Ctrl-C")
    .argument('<jobId>')
    .option('--interval <seconds>', 'how often to look (default 2)', positiveInt(3600), 2)
    .addHelpText(
      'after',
      `
Runs already ended when the watch starts are not printed; runs in progress are.
With --json, each line is the run as the API shows it (one JSON object per line).

Examples:
  $ sundial runs watch job_01KAP…
  $ sundial runs watch job_01KAP… --json --interval 5 | jq -c '{id, status}'`,
    )
    .action(async (jobId: string, options: { interval: number }, command: Command) => {
      const ctx = await contextOf(command);
      await watch(ctx, jobId, options.interval * 1000);
    });
}

/** Polls the newest runs until SIGINT; resolves then, so the process exits 0. */
async function watch(ctx: Context, jobId: string, intervalMs: number): Promise<void> {
  const seen = new Map<string, string>();
  let stopped = false;
  let wake: () => void = () => {};
  const onSignal = () => {
    stopped = true;
    wake();
  };
  const pause = () =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, intervalMs);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    let first = true;
    while (!stopped) {
      const page = await must(
        ctx.api.GET('/v1/jobs/{jobId}/runs', { params: { path: { jobId }, query: { limit: 50 } } }),
      ).catch((error: unknown) => {
        // A watch outlives a blip (a 5xx, a 429, a dropped connection) once it has started;
        // a refusal (no such job, a revoked key) ends it.
        const transient =
          error instanceof ApiError
            ? error.status >= 500 || error.status === 429
            : error instanceof TypeError;
        if (first || !transient) throw error;
        process.stderr.write(
          `warning: ${error instanceof ApiError ? error.describe() : connectionProblem(error)}; trying again\n`,
        );
        return undefined;
      });
      if (!page) {
        await pause();
        continue;
      }
      // Oldest first, so the lines read in the order things happened.
      for (const run of [...page.items].reverse()) {
        const before = seen.get(run.id);
        seen.set(run.id, run.status);
        if (before === run.status) continue;
        if (first && ENDED.has(run.status)) continue;
        ctx.out(ctx.json ? JSON.stringify(run) : watchLine(run, before));
      }
      if (first) {
        process.stderr.write(`Watching runs of ${jobId} every ${intervalMs / 1000} s (Ctrl-C to stop)\n`);
        first = false;
      }
      if (stopped) break;
      await pause();
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function watchLine(run: Run, before: string | undefined): string {
  const change = before ? `${before} → ${status(run.status)}` : status(run.status);
  const extra = [
    run.trigger,
    `attempt ${run.attempt}`,
    run.durationMs !== null ? duration(run.durationMs) : '',
    outcomeText(run),
  ]
    .filter(Boolean)
    .join('  ');
  return `${at(new Date().toISOString())}  ${run.id}  ${change}  ${paint('dim', extra)}`;
}

export function describeRun(run: Run): string {
  const pairs: [string, string][] = [
    ['run', run.id],
    ['job', run.jobId],
    ['status', status(run.status)],
    ['trigger', run.trigger],
    ['scheduled', at(run.scheduledAt)],
    ['started', at(run.startedAt)],
    ['finished', at(run.finishedAt)],
    ['duration', duration(run.durationMs)],
    ['attempt', String(run.attempt)],
  ];
  if (run.nextAttemptAt) pairs.push(['next attempt', at(run.nextAttemptAt)]);
  if (run.skipReason) pairs.push(['skip reason', run.skipReason]);
  if (run.error) pairs.push(['error', `${run.error.type}: ${run.error.message}`]);
  if (run.result) {
    if (run.result.statusCode !== null) pairs.push(['status code', String(run.result.statusCode)]);
    if (run.result.exitCode !== undefined && run.result.exitCode !== null)
      pairs.push(['exit code', String(run.result.exitCode)]);
    if (run.result.taskArn) pairs.push(['task', run.result.taskArn]);
    if (run.result.executionArn) pairs.push(['execution', run.result.executionArn]);
    if (run.result.logs)
      pairs.push(['logs', `${run.result.logs.group} ${run.result.logs.stream} (${run.result.logs.region})`]);
    if (run.result.bodyExcerpt) pairs.push(['response', run.result.bodyExcerpt]);
  }
  // A long run: how far along, and until when it may run.
  if (run.progress !== null)
    pairs.push([
      'progress',
      `${Math.round(run.progress * 100)}%${run.progressMessage ? ` ${run.progressMessage}` : ''}`,
    ]);
  else if (run.progressMessage) pairs.push(['progress', run.progressMessage]);
  if (run.heartbeatAt) pairs.push(['heartbeat', at(run.heartbeatAt)]);
  if (run.deadlineAt) pairs.push(['deadline', at(run.deadlineAt)]);
  if (run.output !== null) pairs.push(['output', JSON.stringify(run.output)]);
  if (run.cancelledBy) pairs.push(['cancelled by', run.cancelledBy]);
  let text = fields(pairs);
  if (run.attempts.length > 0) {
    text += `\n\nAttempts:\n${table(
      ['#', 'STATUS', 'STARTED', 'DURATION', 'CODE', 'ERROR'],
      run.attempts.map((a) => [
        String(a.attempt),
        status(a.status),
        at(a.startedAt),
        duration(a.durationMs),
        a.statusCode === null ? '-' : String(a.statusCode),
        a.error ? `${a.error.type}: ${a.error.message}` : '',
      ]),
    )}`;
  }
  return text;
}
