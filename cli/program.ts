/**
 * The `sundial` program: commander wiring, and the mapping of every outcome to an exit
 * code — 0 ok, 1 the API refused (or could not be reached), 2 usage (the command line, a
 * file, or no key configured).
 */
import { Command, CommanderError } from 'commander';
import { ApiError } from '../client/index.js';
import { registerApply } from './commands/apply.js';
import { registerBreakers } from './commands/breakers.js';
import { registerDr } from './commands/dr.js';
import { registerJobs } from './commands/jobs.js';
import { registerLogin } from './commands/login.js';
import { registerMisc } from './commands/misc.js';
import { registerRuns } from './commands/runs.js';
import { connectionProblem, type GlobalOptions, ReportedError, UsageError } from './context.js';
import { setColour, useColour } from './format.js';

export function buildProgram(): Command {
  const program = new Command('sundial')
    .description('Operate Sundial, the serverless job scheduler, from a terminal or a script.')
    .version('0.1.0', '-V, --version')
    .option('--json', "print the API's JSON body as it comes (problems too, on stdout), for scripts")
    .option('--profile <name>', 'the login profile to use (SUNDIAL_PROFILE; default "default")')
    .option('--no-color', 'no colour, even on a terminal')
    .showHelpAfterError('(add --help for usage)')
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    // Every command inherits these: commander's own exits become exit codes we choose.
    .exitOverride()
    .hook('preAction', (_program, action) => {
      const { color } = action.optsWithGlobals<GlobalOptions>();
      setColour(color !== false && useColour());
    });
  program.addHelpText(
    'after',
    `
Configuration:
  SUNDIAL_URL       the API (default http://localhost:3000)
  SUNDIAL_API_KEY   an API key (sk_…); or run \`sundial login\` once
  SUNDIAL_PROFILE   the login profile (default "default")
  Environment variables win over the profile.

Exit codes: 0 ok, 1 the API refused (its problem on stderr; with --json on stdout too)
or could not be reached, 2 usage (bad command line, bad file, no API key).
\`sundial dr\` talks to the regions' tables with AWS credentials instead: see its --help.

Examples:
  $ sundial login --url https://sundial.example.com < key.txt
  $ sundial jobs list --tag team:billing
  $ sundial preview 'cron(0 9 * * ? *)' --tz America/New_York
  $ sundial apply -f jobs/ --dry-run`,
  );
  registerJobs(program);
  registerRuns(program);
  registerMisc(program);
  registerBreakers(program);
  registerApply(program);
  registerLogin(program);
  registerDr(program);
  return program;
}

function wantsJson(argv: string[]): boolean {
  return argv.includes('--json');
}

/** Runs the command line and answers the exit code; never throws. */
export async function run(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (error) {
    return report(error, wantsJson(argv));
  }
}

function report(error: unknown, json: boolean): number {
  if (error instanceof CommanderError) {
    // Help and version asked for: not an error. Anything else commander refused is usage.
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return 0;
    return 2;
  }
  if (error instanceof ReportedError) return error.exitCode;
  if (error instanceof UsageError) {
    process.stderr.write(`error: ${error.message}\n`);
    return 2;
  }
  if (error instanceof ApiError) {
    process.stderr.write(`error: ${error.describe()}\n`);
    if (json) process.stdout.write(`${JSON.stringify(error.problem, null, 2)}\n`);
    return 1;
  }
  const unreachable = connectionProblem(error);
  if (unreachable) {
    process.stderr.write(`error: ${unreachable}\n`);
    return 1;
  }
  process.stderr.write(`error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  return 1;
}
