/** `sundial login` and `sundial logout`: a profile of URL and key, kept 0600 in the user's config. */
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import {
  ApiError,
  checkUrl,
  clientFor,
  configPath,
  DEFAULT_PROFILE,
  DEFAULT_URL,
  type GlobalOptions,
  must,
  readConfig,
  UsageError,
  writeConfig,
} from '../context.js';
import { readStdin } from '../files.js';

/** From a terminal: asked for, not echoed. From a pipe: its first line. */
async function readKey(): Promise<string> {
  if (!process.stdin.isTTY) return (await readStdin()).split(/\r?\n/)[0]?.trim() ?? '';
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  process.stderr.write('API key (input hidden): ');
  // The key typed is never echoed back.
  (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = () => {};
  const key = await new Promise<string>((resolve) => rl.question('', resolve));
  rl.close();
  process.stderr.write('\n');
  return key.trim();
}

export function registerLogin(program: Command): void {
  program
    .command('login')
    .description('check an API key against the API and save it, with the URL, as a profile')
    .option('--url <url>', `the API (default: SUNDIAL_URL, or ${DEFAULT_URL})`)
    .option('--api-key <key>', 'the key (prefer stdin: a command line is visible to other users)')
    .addHelpText(
      'after',
      `
The key is checked (GET /v1/jobs?limit=1) before anything is saved, then written to
${configPath()} (mode 0600) under the profile given by --profile or SUNDIAL_PROFILE
(default "default"). SUNDIAL_URL and SUNDIAL_API_KEY, when set, still win over it.

Examples:
  $ sundial login --url https://abc123.execute-api.eu-west-1.amazonaws.com/prod < key.txt
  $ sundial login                      # asks for the key
  $ sundial --profile staging login --url https://staging.example.com`,
    )
    .action(async (options: { url?: string; apiKey?: string }, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const profile = globals.profile || process.env.SUNDIAL_PROFILE || DEFAULT_PROFILE;
      const url = (options.url || process.env.SUNDIAL_URL || DEFAULT_URL).replace(/\/+$/, '');
      checkUrl(url);
      const apiKey = options.apiKey?.trim() || (await readKey());
      if (!apiKey) throw new UsageError('no API key given: pass it on stdin (or --api-key)');
      try {
        await must(clientFor(url, apiKey).GET('/v1/jobs', { params: { query: { limit: 1 } } }));
      } catch (error) {
        if (error instanceof ApiError) {
          process.stderr.write(`The key was not saved: ${url} refused it.\n`);
        }
        throw error;
      }
      const config = await readConfig();
      config.profiles[profile] = { url, apiKey };
      const path = await writeConfig(config);
      // Never the key itself.
      if (globals.json) process.stdout.write(`${JSON.stringify({ profile, url, path })}\n`);
      else process.stdout.write(`Logged in to ${url} (profile "${profile}"); saved in ${path}.\n`);
    });

  program
    .command('logout')
    .description('forget a saved profile')
    .addHelpText('after', '\nExample:\n  $ sundial --profile staging logout')
    .action(async (_options: unknown, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const profile = globals.profile || process.env.SUNDIAL_PROFILE || DEFAULT_PROFILE;
      const config = await readConfig();
      if (!Object.hasOwn(config.profiles, profile)) {
        process.stdout.write(`No profile "${profile}" saved.\n`);
        return;
      }
      delete config.profiles[profile];
      await writeConfig(config);
      process.stdout.write(`Forgot profile "${profile}".\n`);
    });
}
