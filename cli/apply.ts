/**
 * Jobs as code, the part with I/O: read the files, substitute ${ENV} references, validate
 * every job with the server's own validation before anything is asked or changed, then
 * list the tenant's keyed jobs, plan (plan.ts) and make the changes.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import type { Job, SundialClient } from '../client/index.js';
import { ValidationError } from '../functions/domain/errors.js';
import { JOB_ID, validateSchedule } from '../functions/domain/job.js';
import { validateJobInput } from '../functions/domain/job-input.js';
import { jobBody, must, UsageError } from './context.js';
import { parseDocument } from './files.js';
import {
  createBody,
  type DependencyRef,
  type DesiredJob,
  dependencyCycle,
  KEY_PATTERN,
  KEY_TAG,
  type PlanEntry,
  patchBody,
} from './plan.js';

/** A refusal of the files' content: `<file>: <key>: <field>: <message>`. */
export interface InputError {
  file: string;
  key: string;
  field: string;
  message: string;
}

export const formatInputError = (e: InputError) => `${e.file}: ${e.key}: ${e.field}: ${e.message}`;

const DOCUMENT = /\.(ya?ml|json)$/i;

/** A file, or every *.yaml, *.yml and *.json directly in a directory, sorted by name. */
export async function listSources(path: string): Promise<string[]> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(path);
  } catch {
    throw new UsageError(`${path}: no such file or directory`);
  }
  if (!info.isDirectory()) return [path];
  const names = (await readdir(path)).filter((name) => DOCUMENT.test(name)).sort();
  if (names.length === 0) throw new UsageError(`${path}: holds no *.yaml, *.yml or *.json file`);
  return names.map((name) => join(path, name));
}

export interface Source {
  file: string;
  document: unknown;
}

export async function readSources(path: string): Promise<Source[]> {
  const files = await listSources(path);
  return Promise.all(
    files.map(async (file) => ({
      file,
      document: parseDocument(await readFile(file, 'utf8'), extname(file) ? file : `${file}.yaml`),
    })),
  );
}

const REFERENCE = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/**
 * Every string in `value` with `${NAME}` replaced by the environment's NAME (`$${` stays a
 * literal `${`); each unset name is reported at its path.
 */
export function substituteEnv(
  value: unknown,
  env: NodeJS.ProcessEnv,
  missing: (path: string, name: string) => void,
  path = '',
): unknown {
  if (typeof value === 'string') {
    return value.replace(REFERENCE, (match, name: string | undefined) => {
      if (name === undefined) return '${';
      const found = env[name];
      if (found === undefined) {
        missing(path || '(value)', name);
        return match;
      }
      return found;
    });
  }
  if (Array.isArray(value))
    return value.map((v, i) => substituteEnv(v, env, missing, join2(path, String(i))));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, substituteEnv(v, env, missing, join2(path, k))]),
    );
  }
  return value;
}

const join2 = (a: string, b: string) => (a ? `${a}.${b}` : b);

/** A stand-in job id for a key, so the server's validation accepts dependsOn before ids exist. */
const placeholderId = (index: number) => `job_applykey${index}`;

/** Every job of the files, validated as the server would validate it, or every reason not. */
export function prepare(
  sources: readonly Source[],
  env: NodeJS.ProcessEnv,
  now: Date,
): { desired: DesiredJob[]; errors: InputError[] } {
  const errors: InputError[] = [];
  const entries: { file: string; label: string; raw: Record<string, unknown> }[] = [];
  const keyFile = new Map<string, string>();
  for (const { file, document } of sources) {
    const jobs = document && typeof document === 'object' ? (document as { jobs?: unknown }).jobs : undefined;
    if (document && typeof document === 'object' && !Array.isArray(document)) {
      for (const extra of Object.keys(document).filter((k) => k !== 'jobs')) {
        errors.push({ file, key: '(file)', field: extra, message: 'is not a known field (only jobs)' });
      }
    }
    if (!Array.isArray(jobs)) {
      errors.push({
        file,
        key: '(file)',
        field: 'jobs',
        message: 'must be a list: the file is { jobs: [ { key, …job fields } ] }',
      });
      continue;
    }
    jobs.forEach((job, index) => {
      const label = `jobs[${index}]`;
      if (!job || typeof job !== 'object' || Array.isArray(job)) {
        errors.push({
          file,
          key: label,
          field: '(job)',
          message: 'must be an object: { key, name, target, … }',
        });
        return;
      }
      const { key, ...raw } = job as Record<string, unknown>;
      if (typeof key !== 'string' || !KEY_PATTERN.test(key)) {
        errors.push({
          file,
          key: typeof key === 'string' && key ? key : label,
          field: 'key',
          message: 'is required: 1-128 characters of A-Z, a-z, 0-9, ".", "_" and "-"',
        });
        return;
      }
      const first = keyFile.get(key);
      if (first !== undefined) {
        errors.push({
          file,
          key,
          field: 'key',
          message: `is used twice (also in ${first}); keys must be unique across all files`,
        });
        return;
      }
      keyFile.set(key, file);
      entries.push({ file, label: key, raw });
    });
  }
  const indexOfKey = new Map(entries.map((e, i) => [e.label, i]));
  const desired: DesiredJob[] = [];
  for (const { file, label: key, raw: original } of entries) {
    const fail = (field: string, message: string) => errors.push({ file, key, field, message });
    const unset = new Set<string>();
    const raw = substituteEnv(original, env, (path, name) => {
      unset.add(path);
      fail(path, `\${${name}} is not set in the environment`);
    }) as Record<string, unknown>;
    // The key is kept on the job as a tag; a file may not set that tag to anything else.
    const tags = raw.tags === undefined ? {} : raw.tags;
    if (tags && typeof tags === 'object' && !Array.isArray(tags)) {
      const own = (tags as Record<string, unknown>)[KEY_TAG];
      if (own !== undefined && own !== key) fail(`tags.${KEY_TAG}`, 'is set from key; leave it out');
      raw.tags = { ...tags, [KEY_TAG]: key };
    }
    const dependsOn: DependencyRef[] = [];
    if (Array.isArray(raw.dependsOn)) {
      raw.dependsOn = raw.dependsOn.map((ref: unknown, i: number) => {
        if (typeof ref !== 'string') return ref;
        if (JOB_ID.test(ref)) {
          dependsOn.push({ id: ref });
          return ref;
        }
        const index = indexOfKey.get(ref);
        if (index === undefined) {
          fail(`dependsOn.${i}`, `"${ref}" is neither a job id nor the key of a job in these files`);
          // Reported once, here, not again by the server's validation.
          return `job_unknownkey${i}`;
        }
        if (ref === key) fail(`dependsOn.${i}`, 'a job cannot depend on itself');
        dependsOn.push({ key: ref });
        return placeholderId(index);
      });
    }
    try {
      // Future fires are checked once the plan says which schedules are new (checkFutureFires).
      const { input } = validateJobInput(raw, now, { requireFutureFire: false });
      desired.push({ key, file, input, dependsOn });
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      // A field whose variable is unset is reported once, as that.
      for (const e of error.errors) if (!unset.has(e.field)) fail(e.field, e.message);
    }
  }
  const cycle = errors.length === 0 ? dependencyCycle(desired) : undefined;
  if (cycle) {
    const d = desired.find((x) => x.key === cycle[0])!;
    errors.push({
      file: d.file,
      key: d.key,
      field: 'dependsOn',
      message: `the keys depend on each other in a circle: ${cycle.join(' → ')}`,
    });
  }
  return { desired, errors };
}

/** A schedule made or changed must fire again, as the server requires; one left as it is need not. */
export function checkFutureFires(entries: readonly PlanEntry[], now: Date): InputError[] {
  const errors: InputError[] = [];
  for (const entry of entries) {
    const scheduleIsNew =
      entry.action === 'create' || (entry.action === 'update' && entry.fields.includes('schedule'));
    if (!scheduleIsNew) continue;
    const schedule = entry.desired.input.schedule;
    if (!schedule) continue;
    try {
      validateSchedule(schedule, now, 'schedule', true);
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      for (const e of error.errors)
        errors.push({ file: entry.file, key: entry.key, field: e.field, message: e.message });
    }
  }
  return errors;
}

/** Every job of the tenant that carries a key (the API filters by tag name and value only: all are read). */
export async function keyedJobs(api: SundialClient): Promise<Job[]> {
  const jobs: Job[] = [];
  let cursor: string | undefined;
  do {
    const page = await must(
      api.GET('/v1/jobs', { params: { query: { limit: 100, ...(cursor ? { cursor } : {}) } } }),
    );
    jobs.push(...page.items.filter((job) => Object.hasOwn(job.tags, KEY_TAG)));
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return jobs;
}

/** Makes one change; answers the job's id (for a create, the id dependents then name). */
export async function execute(
  api: SundialClient,
  entry: PlanEntry,
  ids: Map<string, string>,
): Promise<string | undefined> {
  const idOf = (key: string) => ids.get(key);
  switch (entry.action) {
    case 'create': {
      const job = await must(api.POST('/v1/jobs', { body: jobBody(createBody(entry.desired, idOf)) }));
      ids.set(entry.key, job.id);
      return job.id;
    }
    case 'update': {
      const job = await must(
        api.PATCH('/v1/jobs/{jobId}', {
          params: { path: { jobId: entry.job.id }, header: { 'If-Match': `"${entry.job.version}"` } },
          body: jobBody(patchBody(entry, idOf)),
        }),
      );
      return job.id;
    }
    case 'delete':
      await must(api.DELETE('/v1/jobs/{jobId}', { params: { path: { jobId: entry.job.id } } }));
      return entry.job.id;
    case 'unchanged':
      return entry.job.id;
  }
}
