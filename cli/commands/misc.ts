/** `sundial preview`, `backfill`, `dlq list|redrive`, `keys create|list|revoke`. */
import type { Command } from 'commander';
import { describeFireTimes, wallTime } from '../../client/fire-times.js';
import { allPages, contextOf, must, printJson, UsageError } from '../context.js';
import { at, cut, paint, status, table, viewerZone } from '../format.js';
import { choice, listQuery, type PageOptions, pageOptions, positiveInt } from './shared.js';

function isoInstant(flag: string) {
  return (value: string): string => {
    if (Number.isNaN(Date.parse(value)) || !/^\d{4}-\d{2}-\d{2}T/.test(value)) {
      throw new UsageError(`${flag} must be an ISO 8601 instant, e.g. 2026-11-01T00:00:00Z (got "${value}")`);
    }
    return value;
  };
}

export function registerMisc(program: Command): void {
  program
    .command('preview')
    .description("a schedule expression's next fire times, daylight-saving changes marked")
    .argument('<expression>', 'e.g. "cron(0 9 * * ? *)", "rate(5 minutes)", "at(2026-12-24T18:00:00)"')
    .option('--tz, --timezone <zone>', 'the IANA zone the expression is read in', 'UTC')
    .option('--count <n>', 'how many fire times (1-100)', positiveInt(100), 10)
    .option('--start <iso>', 'the first instant considered (startAt)')
    .option('--end <iso>', 'the last instant considered (endAt)')
    .addHelpText(
      'after',
      `
Each fire time is shown in the zone given, in UTC and in yours (${viewerZone()}); DST marks
a fire time whose UTC offset differs from the previous one (or from --start's / now's).

Examples:
  $ sundial preview 'cron(0 9 * * ? *)' --tz America/New_York --start 2027-03-12T00:00:00Z --count 4
  $ sundial preview 'rate(15 minutes)' --count 3 --json`,
    )
    .action(
      async (
        expression: string,
        options: { timezone: string; count: number; start?: string; end?: string },
        command: Command,
      ) => {
        const startAt = options.start ? isoInstant('--start')(options.start) : null;
        const endAt = options.end ? isoInstant('--end')(options.end) : null;
        const ctx = await contextOf(command);
        const body = await must(
          ctx.api.POST('/v1/schedules/preview', {
            body: { expression, timezone: options.timezone, count: options.count, startAt, endAt },
          }),
        );
        if (ctx.json) return printJson(body);
        if (body.fireTimes.length === 0) return ctx.out('It never fires (after now, within --start/--end).');
        const viewer = viewerZone();
        const since = startAt && Date.parse(startAt) > Date.now() ? startAt : new Date();
        const views = describeFireTimes(body.fireTimes, options.timezone, since);
        // A zone of UTC needs no second UTC column.
        const showUtc = options.timezone !== 'UTC';
        const header = ['#', options.timezone];
        if (showUtc) header.push('UTC');
        const showViewer = viewer !== options.timezone && viewer !== 'UTC';
        if (showViewer) header.push(`YOURS (${viewer})`);
        header.push('');
        ctx.out(
          table(
            header,
            views.map((v, i) => {
              const row = [String(i + 1), `${v.local} ${v.offset}`];
              if (showUtc) row.push(wallTime(v.at, 'UTC').local);
              if (showViewer) {
                const mine = wallTime(v.at, viewer);
                row.push(`${mine.local} ${mine.offset}`);
              }
              row.push(v.dstChange ? paint('yellow', `DST ${v.change}`) : '');
              return row;
            }),
          ),
        );
      },
    );

  program
    .command('backfill')
    .description("run every occurrence of a job's schedule in a past range [from, to)")
    .argument('<jobId>')
    .requiredOption('--from <iso>', 'the first instant of the range, e.g. 2026-11-01T00:00:00Z')
    .requiredOption('--to <iso>', 'the end of the range (not included; not in the future)')
    .option('--max-runs <n>', 'refuse a range holding more occurrences than this (1-1000)', positiveInt(1000))
    .addHelpText(
      'after',
      `
An occurrence that already ran is not run again, so repeating a backfill queues 0.

Example:
  $ sundial backfill job_01KAP… --from 2026-11-01T00:00:00Z --to 2026-11-08T00:00:00Z`,
    )
    .action(
      async (jobId: string, options: { from: string; to: string; maxRuns?: number }, command: Command) => {
        const from = isoInstant('--from')(options.from);
        const to = isoInstant('--to')(options.to);
        const ctx = await contextOf(command);
        const result = await must(
          ctx.api.POST('/v1/jobs/{jobId}/backfill', {
            params: { path: { jobId } },
            body: { from, to, ...(options.maxRuns ? { maxRuns: options.maxRuns } : {}) },
          }),
        );
        if (ctx.json) return printJson(result);
        ctx.out(
          `Queued ${result.runs} backfill run(s) of job ${jobId}. Follow them: sundial runs list ${jobId}`,
        );
      },
    );

  const dlq = program
    .command('dlq')
    .description('dead letters: firings the queues gave up on')
    .addHelpText(
      'after',
      '\nExamples:\n  $ sundial dlq list --status dead\n  $ sundial dlq redrive <id> <id>',
    );
  pageOptions(
    dlq
      .command('list')
      .description('dead letters, newest first')
      .addOption(choice('--status <status>', 'only these', ['dead', 'redriven'])),
  )
    .addHelpText(
      'after',
      "\nExamples:\n  $ sundial dlq list\n  $ sundial dlq list --status dead --json | jq -r '.items[].id'",
    )
    .action(async (options: PageOptions & { status?: 'dead' | 'redriven' }, command: Command) => {
      const ctx = await contextOf(command);
      const page = await allPages(
        (cursor) =>
          must(
            ctx.api.GET('/v1/dead-letters', {
              params: { query: listQuery(options, cursor, { status: options.status }) },
            }),
          ),
        Boolean(options.all),
        options.cursor,
      );
      if (ctx.json) return printJson(page);
      if (page.items.length === 0) return ctx.out('No dead letters.');
      ctx.out(
        table(
          ['ID', 'JOB', 'RUN', 'PRIORITY', 'STATUS', `DEAD-LETTERED (${viewerZone()})`, 'REASON'],
          page.items.map((l) => [
            l.id,
            l.jobId ?? '-',
            l.runId ?? '-',
            l.priority,
            status(l.status),
            at(l.deadLetteredAt),
            cut(l.reason, 70),
          ]),
        ),
      );
      if (page.nextCursor) ctx.out(paint('dim', `More: --cursor ${page.nextCursor} (or --all)`));
    });

  dlq
    .command('redrive')
    .description('put dead letters back on their queue (each at most once)')
    .argument('<ids...>', 'dead-letter ids (1-50)')
    .addHelpText('after', '\nExample:\n  $ sundial dlq redrive 5f0c…-… 9a1b…-…')
    .action(async (ids: string[], _options: unknown, command: Command) => {
      const ctx = await contextOf(command);
      const result = await must(ctx.api.POST('/v1/dead-letters/redrive', { body: { ids } }));
      if (ctx.json) return printJson(result);
      ctx.out(`Redriven: ${result.redriven.length > 0 ? result.redriven.join(', ') : 'none'}`);
      if (result.alreadyRedriven.length > 0)
        ctx.out(`Already redriven before (not sent again): ${result.alreadyRedriven.join(', ')}`);
    });

  const keys = program
    .command('keys')
    .description("the tenant's API keys (admin)")
    .addHelpText(
      'after',
      '\nExamples:\n  $ sundial keys create --name ci --role operator\n  $ sundial keys list\n  $ sundial keys revoke <id>',
    );
  keys
    .command('create')
    .description('create an API key; the key is printed this once')
    .requiredOption('--name <name>', 'what uses it, e.g. billing-service')
    .addOption(
      choice('--role <role>', 'what it may do', ['viewer', 'operator', 'admin']).makeOptionMandatory(),
    )
    .addHelpText(
      'after',
      '\nExamples:\n  $ sundial keys create --name ci --role operator\n  $ sundial keys create --name ci --role operator --json | jq -r .key',
    )
    .action(async (options: { name: string; role: 'viewer' | 'operator' | 'admin' }, command: Command) => {
      const ctx = await contextOf(command);
      const key = await must(ctx.api.POST('/v1/keys', { body: { name: options.name, role: options.role } }));
      if (ctx.json) return printJson(key);
      ctx.out(`Created ${key.role} key "${key.name}" (id ${key.id}).`);
      ctx.out('The key is shown this once — Sundial keeps only its hash. Store it now:');
      ctx.out('');
      ctx.out(`  ${paint('bold', key.key)}`);
      ctx.out('');
    });

  pageOptions(keys.command('list').description('API keys, without the keys themselves'))
    .addHelpText('after', '\nExample:\n  $ sundial keys list')
    .action(async (options: PageOptions, command: Command) => {
      const ctx = await contextOf(command);
      const page = await allPages(
        (cursor) =>
          must(
            ctx.api.GET('/v1/keys', {
              params: { query: listQuery(options, cursor) },
            }),
          ),
        Boolean(options.all),
        options.cursor,
      );
      if (ctx.json) return printJson(page);
      if (page.items.length === 0) return ctx.out('No keys.');
      ctx.out(
        table(
          ['ID', 'NAME', 'ROLE', 'CREATED', 'BY', 'REVOKED'],
          page.items.map((k) => [
            k.id,
            k.name,
            k.role,
            at(k.createdAt),
            k.createdBy,
            k.revokedAt ? paint('red', at(k.revokedAt)) : '-',
          ]),
        ),
      );
      if (page.nextCursor) ctx.out(paint('dim', `More: --cursor ${page.nextCursor} (or --all)`));
    });

  keys
    .command('revoke')
    .description('revoke an API key: it stops working at once')
    .argument('<keyId>')
    .addHelpText('after', '\nExample:\n  $ sundial keys revoke 01KAP…')
    .action(async (keyId: string, _options: unknown, command: Command) => {
      const ctx = await contextOf(command);
      await must(ctx.api.DELETE('/v1/keys/{keyId}', { params: { path: { keyId } } }));
      if (!ctx.json) ctx.out(`Revoked key ${keyId}.`);
    });
}
