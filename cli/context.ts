/**
 * Where the API is and which key to use (environment first, then the login profile), the
 * typed client built from them, and how results and refusals are printed.
 */
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import {
  ApiError,
  createSundialClient,
  type JobInput,
  type JobPatch,
  must,
  type SundialClient,
} from '../client/index.js';

export const DEFAULT_URL = 'http://localhost:3000';
export const DEFAULT_PROFILE = 'default';

/** The command line or its input is wrong: exit 2, nothing sent. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Already reported in full (e.g. apply's field errors): only the exit code is left to set. */
export class ReportedError extends Error {
  constructor(readonly exitCode: number) {
    super(`exit ${exitCode}`);
  }
}

export interface Profile {
  url: string;
  apiKey: string;
}
export interface ConfigFile {
  profiles: Record<string, Profile>;
}

export function configPath(env = process.env): string {
  const base = env.XDG_CONFIG_HOME || join(homedir(), '.config');
  return join(base, 'sundial', 'config.json');
}

export async function readConfig(env = process.env): Promise<ConfigFile> {
  const path = configPath(env);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { profiles: {} };
    throw error;
  }
  try {
    const parsed = JSON.parse(text) as Partial<ConfigFile>;
    return { profiles: parsed.profiles && typeof parsed.profiles === 'object' ? parsed.profiles : {} };
  } catch {
    throw new UsageError(`${path} is not valid JSON; fix or remove it (sundial login writes it)`);
  }
}

/** Written to a temporary file then renamed, 0600 from the start: the key is never world-readable. */
export async function writeConfig(config: ConfigFile, env = process.env): Promise<string> {
  const path = configPath(env);
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  await chmod(temporary, 0o600);
  await rename(temporary, path);
  return path;
}

export interface GlobalOptions {
  json?: boolean;
  profile?: string;
  color?: boolean;
}

export interface Target {
  url: string;
  apiKey: string | undefined;
  profile: string;
}

/** SUNDIAL_URL and SUNDIAL_API_KEY win over the profile's url and key. */
export async function resolveTarget(options: GlobalOptions, env = process.env): Promise<Target> {
  const profile = options.profile || env.SUNDIAL_PROFILE || DEFAULT_PROFILE;
  const config = await readConfig(env);
  const saved = Object.hasOwn(config.profiles, profile) ? config.profiles[profile] : undefined;
  if (options.profile && !saved && !env.SUNDIAL_API_KEY) {
    throw new UsageError(
      `no profile "${profile}" in ${configPath(env)}; run: sundial login --profile ${profile}`,
    );
  }
  return {
    url: env.SUNDIAL_URL || saved?.url || DEFAULT_URL,
    apiKey: env.SUNDIAL_API_KEY || saved?.apiKey,
    profile,
  };
}

const USER_AGENT = 'sundial-cli/0.1';

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * Refuses to send a key where it would travel in clear: plain http to anything but this
 * machine (the local runtime). SUNDIAL_ALLOW_INSECURE_HTTP=1 allows it, e.g. on a private
 * network behind TLS termination one knows about.
 */
export function checkUrl(url: string, env = process.env): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`the API URL must be absolute, e.g. https://sundial.example.com (got "${url}")`);
  }
  if (parsed.protocol === 'https:') return;
  if (parsed.protocol !== 'http:') {
    throw new UsageError(`the API URL must be https:// (or http:// on this machine), got "${url}"`);
  }
  if (LOOPBACK.has(parsed.hostname) || env.SUNDIAL_ALLOW_INSECURE_HTTP === '1') return;
  throw new UsageError(
    `refusing to send the API key in clear to ${parsed.host}: use https:// ` +
      '(http:// is for this machine only; SUNDIAL_ALLOW_INSECURE_HTTP=1 overrides)',
  );
}

export function clientFor(url: string, apiKey: string): SundialClient {
  checkUrl(url);
  return createSundialClient({ baseUrl: url, apiKey, headers: { 'user-agent': USER_AGENT } });
}

/** The URL the last context was made for: a connection failure names it. */
export let reachedFor = DEFAULT_URL;

/** What every API command gets: a client, where it points, and how to print. */
export interface Context {
  api: SundialClient;
  url: string;
  json: boolean;
  out: (text: string) => void;
}

export async function contextOf(command: Command): Promise<Context> {
  const options = command.optsWithGlobals<GlobalOptions>();
  const target = await resolveTarget(options);
  if (!target.apiKey) {
    throw new UsageError(
      `no API key: set SUNDIAL_API_KEY or run \`sundial login\` (profile "${target.profile}", ${target.url})`,
    );
  }
  reachedFor = target.url;
  return {
    api: clientFor(target.url, target.apiKey),
    url: target.url,
    json: Boolean(options.json),
    out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  };
}

/** The API's JSON body as it came, for scripts. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export { ApiError, must };

/**
 * A job body typed with the schema's JobInput or JobPatch, as openapi-fetch takes it: its
 * request type reads the schema's `heartbeatTimeoutSeconds?: null` (Step Functions) as
 * undefined and so refuses the schema's own type. Checked against the schema here, once.
 */
export const jobBody = <T extends JobInput | JobPatch>(body: T): never => body as never;

/** Every page of a list, following nextCursor; `{ items, nextCursor: null }` as one page would be. */
export async function allPages<T>(
  page: (cursor: string | undefined) => Promise<{ items: T[]; nextCursor: string | null }>,
  all: boolean,
  cursor?: string,
): Promise<{ items: T[]; nextCursor: string | null }> {
  const first = await page(cursor);
  if (!all) return first;
  const items = [...first.items];
  let next = first.nextCursor;
  while (next) {
    const more = await page(next);
    items.push(...more.items);
    next = more.nextCursor;
  }
  return { items, nextCursor: null };
}

/** Why fetch failed, in words: the API is not where the URL says, or not up. */
export function connectionProblem(error: unknown, url = reachedFor): string | undefined {
  if (!(error instanceof TypeError)) return undefined;
  const cause = (error as TypeError & { cause?: { code?: string; message?: string } }).cause;
  const code = cause?.code ?? '';
  const reason =
    code === 'ECONNREFUSED'
      ? 'connection refused'
      : code === 'ENOTFOUND'
        ? 'no such host'
        : code
          ? `${code}${cause?.message ? `: ${cause.message}` : ''}`
          : error.message;
  return `cannot reach Sundial at ${url} (${reason}); is it running? Set SUNDIAL_URL or run \`sundial login --url …\``;
}
