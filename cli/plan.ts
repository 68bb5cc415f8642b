/**
 * Jobs as code, the pure part: what `sundial apply` would change. Jobs of the files (already
 * validated, so with the server's defaults applied) are matched to the tenant's jobs by the
 * tag `sundial/key` and compared field by field as the API shows them; a field left out of
 * a file is its default, so it counts too. No I/O here: apply.ts reads, asks and sends.
 */
import type { Job, JobInput, JobPatch } from '../client/index.js';
import type { JobInput as ValidatedInput } from '../functions/domain/job.js';

/** The tag that says which key of the files a job is. */
export const KEY_TAG = 'sundial/key';
export const KEY_PATTERN = /^[A-Za-z0-9._-]{1,128}$/;

/** A job's fields a file sets, in the order the plan names them. */
export const FIELDS = [
  'name',
  'description',
  'schedule',
  'target',
  'dependsOn',
  'retryPolicy',
  'overlapPolicy',
  'misfireGraceSeconds',
  'notify',
  'catchUp',
  'catchUpWindowMinutes',
  'priority',
  'state',
  'tags',
] as const;
export type Field = (typeof FIELDS)[number];

/** A dependency as a file names it: a job id, or the key of another job of the files. */
export type DependencyRef = { id: string } | { key: string };

export interface DesiredJob {
  key: string;
  file: string;
  /** As validated: defaults applied, the key's tag in `tags`; dependsOn as `dependsOn` below says. */
  input: ValidatedInput;
  dependsOn: DependencyRef[];
}

export type PlanEntry =
  | { action: 'create'; key: string; file: string; desired: DesiredJob }
  | { action: 'update'; key: string; file: string; desired: DesiredJob; job: Job; fields: Field[] }
  | { action: 'unchanged'; key: string; file: string; job: Job }
  | { action: 'delete'; key: string; job: Job };

export interface PlanOptions {
  /** Delete jobs carrying a `sundial/key` that no file has. */
  prune?: boolean;
  /**
   * Secret values (target.secretHeaders, notify.secret) are write-only: only their names
   * (and whether a webhook secret is set) can be compared. With this, a job whose file has
   * secrets has them sent again, as a change of `target` / `notify`.
   */
  resendSecrets?: boolean;
}

export interface Plan {
  entries: PlanEntry[];
  /** Why the plan cannot be made (e.g. two jobs carry the same key); nothing may be applied. */
  problems: string[];
}

/** The job's id for a key of the files, once it exists. */
export type IdOf = (key: string) => string | undefined;

export function keyOf(job: Pick<Job, 'tags'>): string | undefined {
  return Object.hasOwn(job.tags, KEY_TAG) ? job.tags[KEY_TAG] : undefined;
}

export function makePlan(
  desired: readonly DesiredJob[],
  existing: readonly Job[],
  options: PlanOptions = {},
): Plan {
  const problems: string[] = [];
  const byKey = new Map<string, Job>();
  for (const job of existing) {
    const key = keyOf(job);
    if (key === undefined) continue;
    const other = byKey.get(key);
    if (other) {
      problems.push(
        `${KEY_TAG} "${key}" is on more than one job (${other.id}, ${job.id}): delete or retag all but one`,
      );
      continue;
    }
    byKey.set(key, job);
  }
  const idOf: IdOf = (key) => byKey.get(key)?.id;
  const entries: PlanEntry[] = desired.map((d): PlanEntry => {
    const job = byKey.get(d.key);
    if (!job) return { action: 'create', key: d.key, file: d.file, desired: d };
    const fields = changedFields(d, job, idOf, options);
    return fields.length === 0
      ? { action: 'unchanged', key: d.key, file: d.file, job }
      : { action: 'update', key: d.key, file: d.file, desired: d, job, fields };
  });
  if (options.prune) {
    const wanted = new Set(desired.map((d) => d.key));
    const gone = [...byKey.entries()]
      .filter(([key]) => !wanted.has(key))
      .sort(([a], [b]) => a.localeCompare(b));
    for (const [key, job] of gone) entries.push({ action: 'delete', key, job });
  }
  return { entries, problems };
}

/** The top-level fields whose value differs between the file (after defaults) and the job. */
export function changedFields(d: DesiredJob, job: Job, idOf: IdOf, options: PlanOptions = {}): Field[] {
  const want = comparableDesired(d, idOf);
  const have = comparableJob(job);
  const changed = FIELDS.filter((field) => canonical(want[field]) !== canonical(have[field]));
  if (options.resendSecrets) {
    const target = d.input.target;
    if (
      target.type === 'http' &&
      Object.keys(target.secretHeaders).length > 0 &&
      !changed.includes('target')
    ) {
      changed.push('target');
    }
    if (d.input.notify.secret !== null && !changed.includes('notify')) changed.push('notify');
    changed.sort((a, b) => FIELDS.indexOf(a) - FIELDS.indexOf(b));
  }
  return changed;
}

/** dependsOn as job ids; undefined while a key it names has no job yet. */
export function resolveDependsOn(d: DesiredJob, idOf: IdOf): string[] | undefined {
  const ids: string[] = [];
  for (const ref of d.dependsOn) {
    const id = 'id' in ref ? ref.id : idOf(ref.key);
    if (id === undefined) return undefined;
    ids.push(id);
  }
  return ids;
}

type Comparable = Record<Field, unknown>;

/** A long target's optional timeouts: left out and null mean the same. */
function withNullTimeouts(target: Record<string, unknown>): Record<string, unknown> {
  const out = { ...target };
  if (out.type === 'http') out.runTimeoutSeconds ??= null;
  if (out.type === 'http' || out.type === 'stepfunctions') out.heartbeatTimeoutSeconds ??= null;
  return out;
}

/** The file's job as the API would show it: secret values replaced by their names. */
function comparableDesired(d: DesiredJob, idOf: IdOf): Comparable {
  const { input } = d;
  let target: Record<string, unknown> = { ...input.target };
  if (input.target.type === 'http') {
    const { secretHeaders, ...rest } = input.target;
    target = { ...rest, secretHeaderNames: Object.keys(secretHeaders).sort() };
  }
  // A key whose job is not made yet: the dependency differs from anything that exists.
  const dependsOn =
    resolveDependsOn(d, idOf) ?? d.dependsOn.map((ref) => ('id' in ref ? ref.id : `(new ${ref.key})`));
  return {
    name: input.name,
    description: input.description,
    schedule: input.schedule,
    target: withNullTimeouts(target),
    dependsOn,
    retryPolicy: input.retryPolicy,
    overlapPolicy: input.overlapPolicy,
    misfireGraceSeconds: input.misfireGraceSeconds,
    notify: { onFailure: input.notify.onFailure, secretSet: input.notify.secret !== null },
    catchUp: input.catchUp,
    catchUpWindowMinutes: input.catchUpWindowMinutes,
    priority: input.priority,
    state: input.state,
    tags: input.tags,
  };
}

function comparableJob(job: Job): Comparable {
  const target: Record<string, unknown> = { ...job.target };
  if (job.target.type === 'http') target.secretHeaderNames = [...job.target.secretHeaderNames].sort();
  return {
    name: job.name,
    description: job.description,
    schedule: job.schedule,
    target: withNullTimeouts(target),
    dependsOn: job.dependsOn,
    retryPolicy: job.retryPolicy,
    overlapPolicy: job.overlapPolicy,
    misfireGraceSeconds: job.misfireGraceSeconds,
    notify: { onFailure: job.notify.onFailure, secretSet: job.notify.secretSet },
    catchUp: job.catchUp,
    catchUpWindowMinutes: job.catchUpWindowMinutes,
    priority: job.priority,
    state: job.state,
    tags: job.tags,
  };
}

/** JSON with object keys sorted and undefined left out: equal values, equal text. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(
        Object.entries(v as Record<string, unknown>)
          .filter(([, x]) => x !== undefined)
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
      );
    }
    return v;
  });
}

function withDependsOn(d: DesiredJob, idOf: IdOf): string[] {
  const ids = resolveDependsOn(d, idOf);
  if (!ids) {
    const missing = d.dependsOn.filter((ref) => 'key' in ref && idOf(ref.key) === undefined);
    throw new Error(
      `${d.key}: depends on ${missing.map((r) => ('key' in r ? r.key : r.id)).join(', ')}, not made yet`,
    );
  }
  return ids;
}

/** POST /v1/jobs: the file's job with its defaults, dependencies as ids. */
export function createBody(d: DesiredJob, idOf: IdOf): JobInput {
  // The validated input is what the server's own schema makes of the file: a JobInput.
  return { ...d.input, dependsOn: withDependsOn(d, idOf) } as JobInput;
}

/**
 * PATCH /v1/jobs/{id}: only the fields that change. schedule, target and notify merge one
 * level deep on the server, so they are sent whole; a target key the file no longer has is
 * sent as null (same type: merged), and secret headers are always sent with a target, so
 * the ones left out of the file are removed.
 */
export function patchBody(entry: Extract<PlanEntry, { action: 'update' }>, idOf: IdOf): JobPatch {
  const { input } = entry.desired;
  const patch: Record<string, unknown> = {};
  for (const field of entry.fields) {
    if (field === 'dependsOn') patch.dependsOn = withDependsOn(entry.desired, idOf);
    else if (field === 'target') {
      const target: Record<string, unknown> = { ...input.target };
      if (entry.job.target.type === input.target.type) {
        for (const key of Object.keys(entry.job.target)) {
          if (key !== 'secretHeaderNames' && !Object.hasOwn(target, key)) target[key] = null;
        }
      }
      patch.target = target;
    } else patch[field] = input[field];
  }
  return patch as JobPatch;
}

/**
 * The order changes are made in: creates (a job after the keys it depends on), then
 * updates, then deletes (a job before those it depends on, so none is refused with 409).
 */
export function executionOrder(entries: readonly PlanEntry[]): PlanEntry[] {
  const creates = entries.filter((e) => e.action === 'create');
  const ordered: PlanEntry[] = [];
  const placed = new Set<string>();
  const pending = new Map(creates.map((e) => [e.key, e]));
  const place = (entry: Extract<PlanEntry, { action: 'create' }>, path: Set<string>) => {
    if (placed.has(entry.key) || path.has(entry.key)) return;
    path.add(entry.key);
    for (const ref of entry.desired.dependsOn) {
      const dep = 'key' in ref ? pending.get(ref.key) : undefined;
      if (dep && dep.action === 'create') place(dep, path);
    }
    placed.add(entry.key);
    ordered.push(entry);
  };
  for (const entry of creates) if (entry.action === 'create') place(entry, new Set());
  ordered.push(...entries.filter((e) => e.action === 'update'));
  const deletes = entries.filter((e) => e.action === 'delete');
  const deleting = new Map(deletes.map((e) => [e.job.id, e]));
  const done = new Set<string>();
  const remove = (entry: Extract<PlanEntry, { action: 'delete' }>, path: Set<string>) => {
    if (done.has(entry.job.id) || path.has(entry.job.id)) return;
    path.add(entry.job.id);
    // Dependents first: a job others depend on is refused while they remain.
    for (const other of deletes) {
      if (other.action === 'delete' && other.job.dependsOn.includes(entry.job.id)) remove(other, path);
    }
    done.add(entry.job.id);
    ordered.push(entry);
  };
  for (const entry of deleting.values()) if (entry.action === 'delete') remove(entry, new Set());
  return ordered;
}

/** Keys of the files that depend on each other in a circle (they can never all be made). */
export function dependencyCycle(desired: readonly DesiredJob[]): string[] | undefined {
  const deps = new Map(desired.map((d) => [d.key, d.dependsOn.flatMap((r) => ('key' in r ? [r.key] : []))]));
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (key: string): string[] | undefined => {
    if (state.get(key) === 'done') return undefined;
    if (state.get(key) === 'visiting') return [...stack.slice(stack.indexOf(key)), key];
    state.set(key, 'visiting');
    stack.push(key);
    for (const next of deps.get(key) ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(key, 'done');
    return undefined;
  };
  for (const key of deps.keys()) {
    const cycle = visit(key);
    if (cycle) return cycle;
  }
  return undefined;
}

export interface Summary {
  create: number;
  update: number;
  delete: number;
  unchanged: number;
}

export function summarize(entries: readonly PlanEntry[]): Summary {
  const s: Summary = { create: 0, update: 0, delete: 0, unchanged: 0 };
  for (const e of entries) s[e.action]++;
  return s;
}

/** `+ create nightly`, `~ update nightly (schedule, target)`, `= unchanged nightly`, `- delete old`. */
export function planLine(entry: PlanEntry): string {
  switch (entry.action) {
    case 'create':
      return `+ create ${entry.key}`;
    case 'update':
      return `~ update ${entry.key} (${entry.fields.join(', ')})`;
    case 'unchanged':
      return `= unchanged ${entry.key}`;
    case 'delete':
      return `- delete ${entry.key}`;
  }
}

/** The one summary line: `Plan: …` for a dry run, `Applied: …` after. */
export function summaryLine(summary: Summary, applied: boolean): string {
  const head = applied ? 'Applied:' : 'Plan:';
  if (summary.create + summary.update + summary.delete === 0) {
    return `${head} no changes, ${summary.unchanged} unchanged.`;
  }
  return applied
    ? `${head} ${summary.create} created, ${summary.update} updated, ${summary.delete} deleted, ${summary.unchanged} unchanged.`
    : `${head} ${summary.create} to create, ${summary.update} to update, ${summary.delete} to delete, ${summary.unchanged} unchanged.`;
}
