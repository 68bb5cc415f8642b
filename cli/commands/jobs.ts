/** `sundial jobs list|get|create|delete|pause|resume|run`. */
import type { Command } from 'commander';
import { relative } from '../../client/fire-times.js';
import type { Job, JobInput } from '../../client/index.js';
import { allPages, contextOf, jobBody, must, printJson, UsageError } from '../context.js';
import { readDocument } from '../files.js';
import { at, fields, paint, status, table, viewerZone } from '../format.js';
import {
  bothZones,
  choice,
  listQuery,
  type PageOptions,
  pageOptions,
  scheduleText,
  stateText,
  targetText,
} from './shared.js';

export function registerJobs(program: Command): void {
  const jobs = program
    .command('jobs')
    .description('list, inspect, create, change and run jobs')
    .addHelpText(
      'after',
      `
Examples:
  $ sundial jobs list --state paused
  $ sundial jobs create -f job.yaml
  $ sundial jobs pause job_01KAP… --reason 'upstream down'
  $ sundial jobs run job_01KAP…`,
    );

  pageOptions(
    jobs
      .command('list')
      .description('list jobs, newest first')
      .addOption(choice('--state <state>', 'only jobs in this state', ['enabled', 'paused']))
      .option('--tag <key:value>', 'only jobs with this tag, e.g. team:billing'),
  )
    .addHelpText(
      'after',
      `
NEXT RUN is in your time zone (${viewerZone()}), then in the job's when it differs.

Examples:
  $ sundial jobs list
  $ sundial jobs list --state paused
  $ sundial jobs list --tag sundial/key:nightly-report --json
  $ sundial jobs list --all --json | jq -r '.items[].id'`,
    )
    .action(
      async (options: PageOptions & { state?: 'enabled' | 'paused'; tag?: string }, command: Command) => {
        const ctx = await contextOf(command);
        const page = await allPages(
          (cursor) =>
            must(
              ctx.api.GET('/v1/jobs', {
                params: { query: listQuery(options, cursor, { state: options.state, tag: options.tag }) },
              }),
            ),
          Boolean(options.all),
          options.cursor,
        );
        if (ctx.json) return printJson(page);
        if (page.items.length === 0) return ctx.out('No jobs.');
        ctx.out(
          table(
            ['ID', 'NAME', 'STATE', 'SCHEDULE', `NEXT RUN (${viewerZone()})`, 'LAST RUN'],
            page.items.map((job) => [
              job.id,
              job.name,
              job.state === 'paused' ? paint('yellow', stateText(job)) : stateText(job),
              scheduleText(job),
              bothZones(job.nextRunAt, job.schedule?.timezone),
              job.lastRun ? `${status(job.lastRun.status)} ${relative(job.lastRun.scheduledAt)}` : '-',
            ]),
          ),
        );
        if (page.nextCursor) ctx.out(paint('dim', `More: --cursor ${page.nextCursor} (or --all)`));
      },
    );

  jobs
    .command('get')
    .description('show one job')
    .argument('<jobId>', 'the job, e.g. job_01KAP…')
    .addHelpText(
      'after',
      '\nExamples:\n  $ sundial jobs get job_01KAP…\n  $ sundial jobs get job_01KAP… --json',
    )
    .action(async (jobId: string, _options: unknown, command: Command) => {
      const ctx = await contextOf(command);
      const job = await must(ctx.api.GET('/v1/jobs/{jobId}', { params: { path: { jobId } } }));
      if (ctx.json) return printJson(job);
      ctx.out(describeJob(job));
    });

  jobs
    .command('create')
    .description('create a job from a JobInput document (JSON or YAML)')
    .requiredOption('-f, --file <path>', 'the job as JSON or YAML; - reads stdin')
    .option('--idempotency-key <key>', 'a retried create with the same key and body makes nothing new')
    .addHelpText(
      'after',
      `
The file is the body of POST /v1/jobs (see the README's job fields), e.g. job.yaml:
  name: nightly-report
  schedule: { expression: 'cron(0 2 * * ? *)', timezone: Europe/Berlin }
  target: { type: http, url: 'https://reports.example.com/run' }

Examples:
  $ sundial jobs create -f job.yaml
  $ echo '{"name":"ping","target":{"type":"http","url":"https://example.com"}}' | sundial jobs create -f -`,
    )
    .action(async (options: { file: string; idempotencyKey?: string }, command: Command) => {
      const body = await readDocument(options.file);
      if (typeof body !== 'object' || body === null || Array.isArray(body)) {
        throw new UsageError(`${options.file}: must be a JSON or YAML object (a job: name, target, …)`);
      }
      const ctx = await contextOf(command);
      const job = await must(
        ctx.api.POST('/v1/jobs', {
          // The server validates; the document's shape is its business.
          body: jobBody(body as JobInput),
          ...(options.idempotencyKey
            ? { params: { header: { 'Idempotency-Key': options.idempotencyKey } } }
            : {}),
        }),
      );
      if (ctx.json) return printJson(job);
      ctx.out(
        `Created job ${paint('bold', job.id)} (${job.name}); next run ${bothZones(job.nextRunAt, job.schedule?.timezone)}`,
      );
    });

  jobs
    .command('delete')
    .description('delete a job and its schedule')
    .argument('<jobId>')
    .addHelpText(
      'after',
      '\nA job other jobs depend on is refused (409): delete those first.\n\nExample:\n  $ sundial jobs delete job_01KAP…',
    )
    .action(async (jobId: string, _options: unknown, command: Command) => {
      const ctx = await contextOf(command);
      await must(ctx.api.DELETE('/v1/jobs/{jobId}', { params: { path: { jobId } } }));
      // 204: the API sends no body, so --json prints nothing.
      if (!ctx.json) ctx.out(`Deleted job ${jobId}.`);
    });

  jobs
    .command('pause')
    .description('pause a job: its schedule stops firing until it is resumed')
    .argument('<jobId>')
    .option('--reason <text>', 'why (at most 256 characters), shown on the job until it is resumed')
    .addHelpText('after', "\nExample:\n  $ sundial jobs pause job_01KAP… --reason 'the upstream API is down'")
    .action(async (jobId: string, options: { reason?: string }, command: Command) => {
      const ctx = await contextOf(command);
      const job = await must(
        ctx.api.POST('/v1/jobs/{jobId}/pause', {
          params: { path: { jobId } },
          ...(options.reason !== undefined ? { body: { reason: options.reason } } : {}),
        }),
      );
      if (ctx.json) return printJson(job);
      ctx.out(`Paused job ${job.id} (${job.name})${job.pausedReason ? `: ${job.pausedReason}` : ''}.`);
    });

  jobs
    .command('resume')
    .description('resume a paused job (missed occurrences run as its catchUp says)')
    .argument('<jobId>')
    .addHelpText('after', '\nExample:\n  $ sundial jobs resume job_01KAP…')
    .action(async (jobId: string, _options: unknown, command: Command) => {
      const ctx = await contextOf(command);
      const job = await must(ctx.api.POST('/v1/jobs/{jobId}/resume', { params: { path: { jobId } } }));
      if (ctx.json) return printJson(job);
      ctx.out(
        `Resumed job ${job.id} (${job.name}); next run ${bothZones(job.nextRunAt, job.schedule?.timezone)}.`,
      );
    });

  jobs
    .command('run')
    .description('run a job now (a manual run with its own id)')
    .argument('<jobId>')
    .addHelpText(
      'after',
      '\nExamples:\n  $ sundial jobs run job_01KAP…\n  $ sundial jobs run job_01KAP… --json | jq -r .id',
    )
    .action(async (jobId: string, _options: unknown, command: Command) => {
      const ctx = await contextOf(command);
      const run = await must(ctx.api.POST('/v1/jobs/{jobId}/runs', { params: { path: { jobId } } }));
      if (ctx.json) return printJson(run);
      ctx.out(`Queued run ${paint('bold', run.id)} of job ${jobId}.`);
      ctx.out(
        paint('dim', `Follow it: sundial runs watch ${jobId}   or: sundial runs get ${jobId} ${run.id}`),
      );
    });
}

export function describeJob(job: Job): string {
  const zone = job.schedule?.timezone;
  const pairs: [string, string][] = [
    ['id', job.id],
    ['name', job.name],
    ...(job.description ? ([['description', job.description]] as [string, string][]) : []),
    ['state', status(job.state)],
    ...(job.state === 'paused' ? ([['paused reason', job.pausedReason ?? '-']] as [string, string][]) : []),
    ['schedule', scheduleText(job)],
    ['next run', job.nextRunAt ? `${bothZones(job.nextRunAt, zone)} ${relative(job.nextRunAt)}` : '-'],
    ['target', targetText(job.target)],
    ...(job.target.type === 'http' && job.target.secretHeaderNames.length > 0
      ? ([['secret headers', job.target.secretHeaderNames.join(', ')]] as [string, string][])
      : []),
    ['depends on', job.dependsOn.length > 0 ? job.dependsOn.join(', ') : '-'],
    [
      'retry',
      `${job.retryPolicy.maxAttempts} attempt(s), ${job.retryPolicy.initialDelaySeconds} s ×${job.retryPolicy.multiplier} up to ${job.retryPolicy.maxDelaySeconds} s`,
    ],
    ['overlap', job.overlapPolicy],
    ['priority', job.priority],
    ['catch up', `${job.catchUp} (window ${job.catchUpWindowMinutes} min)`],
    [
      'tags',
      Object.entries(job.tags)
        .map(([k, v]) => `${k}:${v}`)
        .join(', ') || '-',
    ],
    [
      'last run',
      job.lastRun ? `${job.lastRun.id} ${status(job.lastRun.status)} ${at(job.lastRun.scheduledAt)}` : '-',
    ],
    ['version', String(job.version)],
    ['created', at(job.createdAt)],
    ['updated', at(job.updatedAt)],
  ];
  return fields(pairs);
}
