/** `sundial apply -f <file|dir> [--dry-run] [--prune] [--resend-secrets]`: jobs as code. */
import type { Command } from 'commander';
import { ApiError } from '../../client/index.js';
import {
  checkFutureFires,
  execute,
  formatInputError,
  type InputError,
  keyedJobs,
  prepare,
  readSources,
} from '../apply.js';
import { contextOf, type GlobalOptions, ReportedError } from '../context.js';
import { paint } from '../format.js';
import {
  executionOrder,
  keyOf,
  makePlan,
  type PlanEntry,
  planLine,
  summarize,
  summaryLine,
} from '../plan.js';

interface ApplyOptions {
  file: string;
  dryRun?: boolean;
  prune?: boolean;
  resendSecrets?: boolean;
}

const LINE_STYLE = { create: 'green', update: 'yellow', delete: 'red', unchanged: 'dim' } as const;

function change(entry: PlanEntry, id?: string) {
  return {
    action: entry.action,
    key: entry.key,
    ...('file' in entry ? { file: entry.file } : {}),
    ...(entry.action === 'update' ? { fields: entry.fields } : {}),
    ...((id ?? ('job' in entry ? entry.job.id : undefined))
      ? { jobId: id ?? ('job' in entry ? entry.job.id : undefined) }
      : {}),
  };
}

export function registerApply(program: Command): void {
  program
    .command('apply')
    .description('make the jobs of YAML/JSON files exist as written (jobs as code)')
    .requiredOption('-f, --file <path>', 'a file, or a directory: every *.yaml, *.yml and *.json in it')
    .option('--dry-run', 'print the plan, change nothing')
    .option('--prune', 'delete jobs carrying a sundial/key that no file has')
    .option(
      '--resend-secrets',
      'send secret header values and webhook secrets again (they cannot be compared)',
    )
    .addHelpText(
      'after',
      `
A file is { jobs: [ { key, …job fields } ] }. key (1-128 of A-Za-z0-9._-, unique across the
files) is kept on the job as the tag sundial/key. "\${NAME}" in any string is the environment
variable NAME (unset: an error), so secrets stay out of the file. dependsOn may name job ids
or keys of the files. Every job is validated before anything changes; errors are printed as
<file>: <key>: <field>: <message> and exit 2. A field left out means its default.

The plan, one line per job, then one summary line:
  + create <key>      ~ update <key> (<fields that change>)
  = unchanged <key>   - delete <key> (with --prune)

Secret values are write-only in the API: only their names are compared. After changing a
secret's value, apply with --resend-secrets (those jobs are updated).

Example jobs.yaml:
  jobs:
    - key: nightly-report
      name: Nightly report
      schedule: { expression: 'cron(0 2 * * ? *)', timezone: Europe/Berlin }
      target:
        type: http
        url: https://reports.example.com/run
        secretHeaders: { Authorization: 'Bearer \${REPORTS_TOKEN}' }

Examples:
  $ sundial apply -f jobs.yaml --dry-run
  $ sundial apply -f jobs/ --prune
  $ sundial apply -f jobs/ --json | jq '.summary'`,
    )
    .action(async (options: ApplyOptions, command: Command) => {
      const json = Boolean(command.optsWithGlobals<GlobalOptions>().json);
      const now = new Date();
      const refuse = (errors: InputError[]): never => {
        for (const e of errors) process.stderr.write(`${formatInputError(e)}\n`);
        process.stderr.write(`error: ${errors.length} problem(s) in the files; nothing was changed\n`);
        if (json) process.stdout.write(`${JSON.stringify({ errors }, null, 2)}\n`);
        throw new ReportedError(2);
      };
      const sources = await readSources(options.file);
      const { desired, errors } = prepare(sources, process.env, now);
      if (errors.length > 0) refuse(errors);

      const ctx = await contextOf(command);
      const existing = await keyedJobs(ctx.api);
      const plan = makePlan(desired, existing, {
        prune: Boolean(options.prune),
        resendSecrets: Boolean(options.resendSecrets),
      });
      if (plan.problems.length > 0) {
        for (const p of plan.problems) process.stderr.write(`error: ${p}\n`);
        throw new ReportedError(1);
      }
      const future = checkFutureFires(plan.entries, now);
      if (future.length > 0) refuse(future);

      const summary = summarize(plan.entries);
      const print = (text: string) => {
        if (!json) process.stdout.write(`${text}\n`);
      };
      for (const entry of plan.entries) print(paint(LINE_STYLE[entry.action], planLine(entry)));
      if (!options.resendSecrets && desired.some((d) => hasSecrets(d.input))) {
        process.stderr.write(
          `${paint('dim', 'note: secret values are not compared (write-only); use --resend-secrets to push changed ones')}\n`,
        );
      }
      if (options.dryRun || summary.create + summary.update + summary.delete === 0) {
        const applied = !options.dryRun;
        print(summaryLine(summary, applied));
        if (json) {
          process.stdout.write(
            `${JSON.stringify({ dryRun: Boolean(options.dryRun), applied, changes: plan.entries.map((e) => change(e)), summary }, null, 2)}\n`,
          );
        }
        return;
      }

      const ids = new Map<string, string>(
        existing.flatMap((job) => {
          const key = keyOf(job);
          return key ? [[key, job.id] as [string, string]] : [];
        }),
      );
      const done = { create: 0, update: 0, delete: 0, unchanged: summary.unchanged };
      const results = new Map<PlanEntry, string | undefined>();
      for (const entry of executionOrder(plan.entries)) {
        try {
          results.set(entry, await execute(ctx.api, entry, ids));
          if (entry.action !== 'unchanged') done[entry.action]++;
        } catch (error) {
          if (!(error instanceof ApiError)) throw error;
          const where = 'file' in entry ? `${entry.file}: ${entry.key}` : entry.key;
          process.stderr.write(`error: ${entry.action} ${where} was refused: ${error.describe()}\n`);
          for (const e of error.problem.errors ?? [])
            process.stderr.write(`${where}: ${e.field}: ${e.message}\n`);
          print(
            `Applied: partly — ${done.create} created, ${done.update} updated, ${done.delete} deleted before ${entry.action} ${entry.key} was refused; fix it and apply again.`,
          );
          if (json)
            process.stdout.write(
              `${JSON.stringify({ ...error.problem, key: entry.key, action: entry.action, done }, null, 2)}\n`,
            );
          throw new ReportedError(1);
        }
      }
      print(summaryLine(summary, true));
      if (json) {
        process.stdout.write(
          `${JSON.stringify({ dryRun: false, applied: true, changes: plan.entries.map((e) => change(e, results.get(e))), summary }, null, 2)}\n`,
        );
      }
    });
}

function hasSecrets(input: {
  target: { type: string; secretHeaders?: Record<string, string> };
  notify: { secret: string | null };
}) {
  return Object.keys(input.target.secretHeaders ?? {}).length > 0 || input.notify.secret !== null;
}
