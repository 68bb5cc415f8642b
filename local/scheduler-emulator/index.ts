/**
 * Sundial's EventBridge Scheduler emulator. LocalStack stores schedules but never fires
 * them; this speaks the REST API that @aws-sdk/client-scheduler (and the AWS CLI) uses and
 * really fires: cron/rate/at in time zones, start/end dates, flexible windows,
 * enabled/disabled, ActionAfterCompletion, target retry policy and dead-letter queue, the
 * default notification of a target without Input — driven by an injectable clock so tests
 * can move time instead of waiting for it. Requests are checked against the API model
 * (api-model.ts) and refused as AWS refuses them; schedule groups keep their tags.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Clock } from '../../functions/commons/clock.js';
import { nextFireTimes } from '../../functions/domain/schedule/index.js';
import {
  CreateScheduleGroupInput,
  ListScheduleGroupsInput,
  ListSchedulesInput,
  ListTagsForResourceInput,
  NamedScheduleGroupInput,
  NamedScheduleInput,
  TagResourceInput,
  UntagResourceInput,
} from './api-model.js';
import {
  ApiError,
  type PendingDelivery,
  type ScheduleModel,
  type StoredSchedule,
  type TargetModel,
  validate,
  validateScheduleBody,
} from './model.js';
import { DeliveryError, type DeliveryTarget } from './sqs.js';

export {
  DeliveryError,
  type DeliveryTarget,
  parseQueueArn,
  type QueueUrlResolver,
  type SqsDeliverer,
  sqsDeliverer,
  sqsQueueUrlResolver,
} from './sqs.js';

export interface FiringReport {
  schedule: string;
  scheduledTime: string;
  attempt: number;
  outcome: 'delivered' | 'retrying' | 'dead-lettered' | 'dropped';
  /** The target's ARN. */
  target: string;
  error?: string;
}

/**
 * Where the emulator reports. `warn` gets each firing it cannot deliver: which schedule, which
 * target, which attempt, why, and what happens next (a retry, the dead-letter queue, or
 * nothing) — when it first fails, when a retry fails differently, and when it is given up.
 * `debug` gets the lifecycle chatter. Never a target's input. A Powertools Logger fits; so
 * does a plain function, which gets both.
 */
export type SchedulerEmulatorLogger =
  | ((message: string, data?: Record<string, unknown>) => void)
  | {
      warn(message: string, data: Record<string, unknown>): void;
      debug?(message: string, data: Record<string, unknown>): void;
    };

export interface SchedulerEmulatorOptions {
  clock: Clock;
  deliver: (target: DeliveryTarget) => Promise<void>;
  region?: string;
  accountId?: string;
  /** Where in a flexible window a firing lands, 0..1. */
  random?: () => number;
  /** Default: warnings to the console (stderr), no debug. */
  logger?: SchedulerEmulatorLogger;
}

export interface SchedulerEmulator {
  listen(port?: number): Promise<string>;
  close(): Promise<void>;
  fireDue(): Promise<FiringReport[]>;
  startTicking(intervalMs?: number): void;
  stopTicking(): void;
  schedules(): readonly ScheduleModel[];
}

const DEFAULT_RETRY_ATTEMPTS = 185;
const DEFAULT_EVENT_AGE_SECONDS = 86_400;
/** How many fire times to compute per round; a long clock jump loops. */
const BATCH = 500;
/** A list page when the request gives no MaxResults (the model's maximum). */
const DEFAULT_PAGE = 100;

const toSeconds = (ms: number) => ms / 1000;

/** `2026-11-23T01:00:00Z`: the format Scheduler substitutes for <aws.scheduler.scheduled-time>. */
export function formatScheduledTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * What Scheduler sends a target that has no Input. AWS documents no shape for it: the API
 * reference (Target.Input) and the user guide say only that "EventBridge Scheduler delivers a
 * default notification to the target". This is the envelope EventBridge documents for its own
 * "Scheduled Event" (version, id, detail-type, source, account, time, region, resources,
 * detail, in that order), with Scheduler as the source (aws.scheduler), the schedule's ARN as
 * the one resource, the scheduled time as the time, and the detail the string "{}" — the
 * shape other emulators send (floci's ScheduleInvoker) — not a documented contract. One event
 * id per firing, the same on each retry.
 */
export function defaultNotification(options: {
  id: string;
  scheduleArn: string;
  scheduledTime: number;
  region: string;
  account: string;
}): string {
  return JSON.stringify({
    version: '0',
    id: options.id,
    'detail-type': 'Scheduled Event',
    source: 'aws.scheduler',
    account: options.account,
    time: formatScheduledTime(options.scheduledTime),
    region: options.region,
    resources: [options.scheduleArn],
    detail: '{}',
  });
}

/**
 * Errors a retry cannot mend (the target does not exist, no permission): not retried, straight
 * to the dead-letter queue if there is one. EventBridge documents this for its rules' targets
 * ("for errors that result from missing permissions to a target, or if a target resource that
 * no longer exists, no retry attempts will happen ... EventBridge sends these events directly
 * to the target DLQ"); Scheduler's documentation does not say, and is taken to do the same.
 */
const NON_RETRYABLE = new Set([
  'QueueDoesNotExist',
  'AWS.SimpleQueueService.NonExistentQueue',
  'ResourceNotFoundException',
  'AccessDenied',
  'AccessDeniedException',
]);

function isRetryable(error: unknown): boolean {
  if (error instanceof DeliveryError) return error.retryable;
  const name = (error as { name?: unknown } | null)?.name;
  return !(typeof name === 'string' && NON_RETRYABLE.has(name));
}

/** Why a delivery failed, for the log and the dead letter: the error's name and message, never the input. */
function failureReason(error: unknown, input: string): string {
  const name = error instanceof Error ? error.name : 'Error';
  let message = error instanceof Error ? error.message : String(error);
  if (input.length >= 8) message = message.replaceAll(input, '[input]');
  const reason = name && name !== 'Error' && !message.startsWith(name) ? `${name}: ${message}` : message;
  return reason.length > 500 ? `${reason.slice(0, 500)}...` : reason;
}

function consoleLogger(): SchedulerEmulatorLogger {
  return {
    warn: (message, data) => console.warn(`[scheduler-emulator] ${message} ${JSON.stringify(data)}`),
  };
}

interface StoredGroup {
  Name: string;
  Arn: string;
  CreationDate: number;
  LastModificationDate: number;
  tags: Map<string, string>;
}

const groupView = (g: StoredGroup) => ({
  Arn: g.Arn,
  Name: g.Name,
  State: 'ACTIVE',
  CreationDate: g.CreationDate,
  LastModificationDate: g.LastModificationDate,
});

/** A list query's MaxResults as the model types it: an integer (or what was sent, to be refused). */
function queryInteger(raw: string | null): number | string | undefined {
  if (raw === null) return undefined;
  return /^-?\d+$/.test(raw) ? Number(raw) : raw;
}

function definedOnly(input: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined && v !== null));
}

export function createSchedulerEmulator(options: SchedulerEmulatorOptions): SchedulerEmulator {
  const { clock } = options;
  const region = options.region ?? 'us-east-1';
  const accountId = options.accountId ?? '000000000000';
  const random = options.random ?? Math.random;
  const logger = options.logger ?? consoleLogger();
  const warn = (message: string, data: Record<string, unknown>) =>
    typeof logger === 'function' ? logger(message, data) : logger.warn(message, data);
  const debug = (message: string, data: Record<string, unknown>) =>
    typeof logger === 'function' ? logger(message, data) : logger.debug?.(message, data);
  const groups = new Map<string, StoredGroup>();
  const groupTokens = new Map<string, string>();
  const schedules = new Map<string, StoredSchedule>();
  /** The schedules sorted by ARN, as ListSchedules pages them; rebuilt after a create or delete. */
  let byArn: StoredSchedule[] | undefined;
  const removeSchedule = (k: string) => {
    if (schedules.delete(k)) byArn = undefined;
  };
  const clientTokens = new Map<string, string>();
  const key = (group: string, name: string) => `${group}/${name}`;
  const groupArnPrefix = `arn:aws:scheduler:${region}:${accountId}:schedule-group/`;
  const groupArn = (name: string) => `${groupArnPrefix}${name}`;
  const scheduleArn = (group: string, name: string) =>
    `arn:aws:scheduler:${region}:${accountId}:schedule/${group}/${name}`;

  const nowSeconds = () => toSeconds(clock.now().getTime());
  function addGroup(name: string, tags: { Key: string; Value: string }[] = []): StoredGroup {
    const group: StoredGroup = {
      Name: name,
      Arn: groupArn(name),
      CreationDate: nowSeconds(),
      LastModificationDate: nowSeconds(),
      tags: new Map(tags.map((t) => [t.Key, t.Value])),
    };
    groups.set(name, group);
    return group;
  }
  addGroup('default');

  function requireGroup(name: string): StoredGroup {
    const group = groups.get(name);
    if (!group)
      throw new ApiError(404, 'ResourceNotFoundException', `Schedule group ${name} does not exist.`);
    return group;
  }

  /** The group a tagging request's ARN names: a schedule group of this region and account. */
  function groupOfArn(arn: string): StoredGroup {
    const group = arn.startsWith(groupArnPrefix) ? groups.get(arn.slice(groupArnPrefix.length)) : undefined;
    if (!group) throw new ApiError(404, 'ResourceNotFoundException', `Resource ${arn} does not exist.`);
    return group;
  }

  function requireSchedule(group: string, name: string): StoredSchedule {
    const stored = schedules.get(key(group, name));
    if (!stored) throw new ApiError(404, 'ResourceNotFoundException', `Schedule ${name} does not exist.`);
    return stored;
  }

  /**
   * The LastModificationDate of a write: the clock's time, but always later than the
   * schedule's previous one, as on AWS where two writes never share an instant. Under a
   * manual clock that stands still, a hand edit still shows as modified after Sundial's write.
   */
  function modifiedAt(previous?: number): number {
    const now = clock.now().getTime();
    return previous === undefined ? now / 1000 : Math.max(now, Math.round(previous * 1000) + 1) / 1000;
  }

  const groupOf = (body: Record<string, unknown>) =>
    typeof body.GroupName === 'string' && body.GroupName ? body.GroupName : 'default';

  function buildModel(
    name: string,
    body: Record<string, unknown>,
    created: number,
    previousModification?: number,
  ): ScheduleModel {
    const group = groupOf(body);
    return {
      Name: name,
      GroupName: group,
      Arn: scheduleArn(group, name),
      ScheduleExpression: body.ScheduleExpression as string,
      ...(typeof body.ScheduleExpressionTimezone === 'string'
        ? { ScheduleExpressionTimezone: body.ScheduleExpressionTimezone }
        : {}),
      ...(typeof body.StartDate === 'number' ? { StartDate: body.StartDate } : {}),
      ...(typeof body.EndDate === 'number' ? { EndDate: body.EndDate } : {}),
      ...(typeof body.Description === 'string' ? { Description: body.Description } : {}),
      ...(typeof body.KmsKeyArn === 'string' ? { KmsKeyArn: body.KmsKeyArn } : {}),
      State: body.State === 'DISABLED' ? 'DISABLED' : 'ENABLED',
      FlexibleTimeWindow: body.FlexibleTimeWindow as ScheduleModel['FlexibleTimeWindow'],
      Target: body.Target as TargetModel,
      ActionAfterCompletion: body.ActionAfterCompletion === 'DELETE' ? 'DELETE' : 'NONE',
      CreationDate: created,
      LastModificationDate: modifiedAt(previousModification),
    };
  }

  function createSchedule(name: string, body: Record<string, unknown>) {
    const parsed = validateScheduleBody(name, body);
    const group = groupOf(body);
    requireGroup(group);
    const k = key(group, name);
    if (
      typeof body.ClientToken === 'string' &&
      clientTokens.get(body.ClientToken) === k &&
      schedules.has(k)
    ) {
      return { ScheduleArn: scheduleArn(group, name) };
    }
    if (schedules.has(k)) throw new ApiError(409, 'ConflictException', `Schedule ${name} already exists.`);
    const now = clock.now().getTime();
    schedules.set(k, {
      model: buildModel(name, body, toSeconds(now)),
      parsed,
      createdAtMs: now,
      evaluatedUntil: now,
      pending: [],
    });
    byArn = undefined;
    if (typeof body.ClientToken === 'string') clientTokens.set(body.ClientToken, k);
    debug('schedule created', { name, group });
    return { ScheduleArn: scheduleArn(group, name) };
  }

  function updateSchedule(name: string, body: Record<string, unknown>) {
    const parsed = validateScheduleBody(name, body);
    const group = groupOf(body);
    requireGroup(group);
    const existing = requireSchedule(group, name);
    const now = clock.now().getTime();
    existing.model = buildModel(name, body, existing.model.CreationDate, existing.model.LastModificationDate);
    existing.parsed = parsed;
    // An update starts the schedule afresh from now; nothing before it is replayed.
    existing.evaluatedUntil = Math.max(existing.evaluatedUntil, now);
    existing.nextDueAt = undefined;
    return { ScheduleArn: existing.model.Arn };
  }

  function decodeToken(token: string | null, prefix: string): string {
    if (!token) return '';
    const after = Buffer.from(token, 'base64url').toString('utf8');
    if (!after.startsWith(prefix)) throw new ApiError(400, 'ValidationException', 'Invalid NextToken');
    return after.slice(prefix.length);
  }
  const encodeToken = (prefix: string, last: string) =>
    Buffer.from(prefix + last, 'utf8').toString('base64url');

  /**
   * A page of schedules in ARN order. The NextToken names the last ARN returned, so a page
   * costs a binary search plus the page itself (listing n schedules is O(n log n) in all,
   * not a sort per page), and schedules created or deleted between pages neither repeat
   * nor shift the others, as with AWS's opaque token.
   */
  function listSchedules(query: URLSearchParams) {
    const group = query.get('ScheduleGroup');
    const prefix = query.get('NamePrefix') ?? '';
    const state = query.get('State');
    const maxResults = queryInteger(query.get('MaxResults'));
    const token = query.get('NextToken');
    validate(
      ListSchedulesInput,
      definedOnly({
        GroupName: group,
        NamePrefix: query.get('NamePrefix'),
        State: state,
        NextToken: token,
        MaxResults: maxResults,
      }),
    );
    const max = (maxResults as number | undefined) ?? DEFAULT_PAGE;
    // The token is the last ARN returned (ARNs start "arn:"), base64url-encoded.
    const after = token ? `arn:${decodeToken(token, 'arn:')}` : '';
    if (!byArn) byArn = [...schedules.values()].sort((a, b) => (a.model.Arn < b.model.Arn ? -1 : 1));
    const sorted = byArn;
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (sorted[mid]!.model.Arn <= after) lo = mid + 1;
      else hi = mid;
    }
    const page: ScheduleModel[] = [];
    let more = false;
    for (let i = lo; i < sorted.length; i++) {
      const m = sorted[i]!.model;
      if ((group && m.GroupName !== group) || !m.Name.startsWith(prefix) || (state && m.State !== state))
        continue;
      if (page.length === max) {
        more = true;
        break;
      }
      page.push(m);
    }
    const last = page[page.length - 1];
    return {
      Schedules: page.map((m) => ({
        Arn: m.Arn,
        Name: m.Name,
        GroupName: m.GroupName,
        State: m.State,
        CreationDate: m.CreationDate,
        LastModificationDate: m.LastModificationDate,
        Target: { Arn: m.Target.Arn },
      })),
      ...(more && last ? { NextToken: encodeToken('', last.Arn) } : {}),
    };
  }

  /** A page of schedule groups in name order; the NextToken names the last group returned. */
  function listScheduleGroups(query: URLSearchParams) {
    const prefix = query.get('NamePrefix') ?? '';
    const maxResults = queryInteger(query.get('MaxResults'));
    const token = query.get('NextToken');
    validate(
      ListScheduleGroupsInput,
      definedOnly({ NamePrefix: query.get('NamePrefix'), NextToken: token, MaxResults: maxResults }),
    );
    const max = (maxResults as number | undefined) ?? DEFAULT_PAGE;
    const after = decodeToken(token, 'group:');
    const sorted = [...groups.values()]
      .filter((g) => g.Name.startsWith(prefix) && g.Name > after)
      .sort((a, b) => (a.Name < b.Name ? -1 : 1));
    const page = sorted.slice(0, max);
    const last = page[page.length - 1];
    return {
      ScheduleGroups: page.map(groupView),
      ...(sorted.length > max && last ? { NextToken: encodeToken('group:', last.Name) } : {}),
    };
  }

  function createScheduleGroup(name: string, body: Record<string, unknown>) {
    validate(CreateScheduleGroupInput, { ...body, Name: name });
    const token = typeof body.ClientToken === 'string' ? body.ClientToken : undefined;
    if (token && groupTokens.get(token) === name && groups.has(name))
      return { ScheduleGroupArn: groupArn(name) };
    if (groups.has(name))
      throw new ApiError(409, 'ConflictException', `Schedule group ${name} already exists.`);
    addGroup(name, body.Tags as { Key: string; Value: string }[] | undefined);
    if (token) groupTokens.set(token, name);
    return { ScheduleGroupArn: groupArn(name) };
  }

  function tagRequest(method: string, arn: string, url: URL, body: Record<string, unknown>) {
    if (method === 'GET') {
      validate(ListTagsForResourceInput, { ResourceArn: arn });
      const group = groupOfArn(arn);
      return { Tags: [...group.tags].map(([Key, Value]) => ({ Key, Value })) };
    }
    if (method === 'POST') {
      validate(TagResourceInput, { ...body, ResourceArn: arn });
      const group = groupOfArn(arn);
      for (const tag of body.Tags as { Key: string; Value: string }[]) group.tags.set(tag.Key, tag.Value);
      return {};
    }
    if (method === 'DELETE') {
      const keys = url.searchParams.getAll('TagKeys');
      validate(UntagResourceInput, {
        ResourceArn: arn,
        ...(url.searchParams.has('TagKeys') ? { TagKeys: keys } : {}),
      });
      const group = groupOfArn(arn);
      for (const k of keys) group.tags.delete(k);
      return {};
    }
    return undefined;
  }

  async function handle(method: string, url: URL, body: Record<string, unknown>): Promise<unknown> {
    if (url.pathname.startsWith('/tags/')) {
      const arn = decodeURIComponent(url.pathname.slice('/tags/'.length));
      const result = tagRequest(method, arn, url, body);
      if (result) return result;
    }
    const segments = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const [collection, name] = segments;
    if (collection === 'schedules' && name !== undefined && segments.length === 2) {
      if (method === 'POST') return createSchedule(name, body);
      if (method === 'PUT') return updateSchedule(name, body);
      const groupName = url.searchParams.get('groupName');
      const group = groupName || 'default';
      if (method === 'GET' || method === 'DELETE') {
        validate(
          NamedScheduleInput,
          definedOnly({ Name: name, GroupName: groupName, ClientToken: url.searchParams.get('clientToken') }),
        );
        requireGroup(group);
        const stored = requireSchedule(group, name);
        if (method === 'GET') return stored.model;
        removeSchedule(key(group, name));
        return {};
      }
    }
    if (collection === 'schedules' && segments.length === 1 && method === 'GET')
      return listSchedules(url.searchParams);
    if (collection === 'schedule-groups' && name !== undefined && segments.length === 2) {
      if (method === 'POST') return createScheduleGroup(name, body);
      if (method === 'GET' || method === 'DELETE') {
        validate(
          NamedScheduleGroupInput,
          definedOnly({ Name: name, ClientToken: url.searchParams.get('clientToken') }),
        );
        if (method === 'GET') return groupView(requireGroup(name));
        if (name === 'default')
          throw new ApiError(400, 'ValidationException', 'The default group cannot be deleted.');
        requireGroup(name);
        groups.delete(name);
        for (const [k, s] of schedules) if (s.model.GroupName === name) removeSchedule(k);
        return {};
      }
    }
    if (collection === 'schedule-groups' && segments.length === 1 && method === 'GET')
      return listScheduleGroups(url.searchParams);
    throw new ApiError(404, 'ResourceNotFoundException', `No such operation: ${method} ${url.pathname}`);
  }

  // --- firing ---

  function fireTimesAfter(stored: StoredSchedule, after: number, count: number): Date[] {
    const { model } = stored;
    return nextFireTimes(stored.parsed, {
      timezone: model.ScheduleExpressionTimezone ?? 'UTC',
      after: new Date(after),
      count,
      createdAt: new Date(stored.createdAtMs),
      ...(model.StartDate !== undefined ? { startAt: new Date(model.StartDate * 1000) } : {}),
      ...(model.EndDate !== undefined ? { endAt: new Date(model.EndDate * 1000) } : {}),
    });
  }

  function collectDue(stored: StoredSchedule, now: number): void {
    const { model } = stored;
    if (model.State === 'DISABLED') {
      // Disabled schedules skip their occurrences; re-enabling does not replay them.
      stored.evaluatedUntil = Math.max(stored.evaluatedUntil, now);
      stored.nextDueAt = undefined;
      return;
    }
    // Nothing due yet: a tick over many schedules costs a comparison each, not a computation.
    if (stored.nextDueAt !== undefined && stored.nextDueAt > now) return;
    const windowMs =
      model.FlexibleTimeWindow.Mode === 'FLEXIBLE'
        ? (model.FlexibleTimeWindow.MaximumWindowInMinutes ?? 0) * 60_000
        : 0;
    for (;;) {
      const times = fireTimesAfter(stored, stored.evaluatedUntil, BATCH);
      const due = times.filter((t) => t.getTime() <= now);
      for (const t of due) {
        const scheduledTime = t.getTime();
        stored.pending.push({
          scheduledTime,
          deliverAt: scheduledTime + Math.floor(random() * windowMs),
          attempt: 1,
        });
      }
      if (due.length < BATCH) break;
      stored.evaluatedUntil = due[due.length - 1]!.getTime();
    }
    stored.evaluatedUntil = Math.max(stored.evaluatedUntil, now);
    stored.nextDueAt = fireTimesAfter(stored, stored.evaluatedUntil, 1)[0]?.getTime() ?? Infinity;
  }

  function isFinished(stored: StoredSchedule): boolean {
    return fireTimesAfter(stored, stored.evaluatedUntil, 1).length === 0;
  }

  function substitute(input: string, model: ScheduleModel, delivery: PendingDelivery): string {
    return input
      .replaceAll('<aws.scheduler.scheduled-time>', formatScheduledTime(delivery.scheduledTime))
      .replaceAll('<aws.scheduler.execution-id>', randomUUID())
      .replaceAll('<aws.scheduler.schedule-arn>', model.Arn)
      .replaceAll('<aws.scheduler.attempt-number>', String(delivery.attempt));
  }

  /** The body of one attempt: the target's Input with its context attributes, or the default notification. */
  function payload(model: ScheduleModel, delivery: PendingDelivery): string {
    if (model.Target.Input !== undefined) return substitute(model.Target.Input, model, delivery);
    delivery.eventId ??= randomUUID();
    return defaultNotification({
      id: delivery.eventId,
      scheduleArn: model.Arn,
      scheduledTime: delivery.scheduledTime,
      region,
      account: accountId,
    });
  }

  async function attempt(
    stored: StoredSchedule,
    delivery: PendingDelivery,
    now: number,
  ): Promise<FiringReport> {
    const { model } = stored;
    const base = {
      schedule: model.Name,
      scheduledTime: formatScheduledTime(delivery.scheduledTime),
      attempt: delivery.attempt,
      target: model.Target.Arn,
    };
    const input = payload(model, delivery);
    try {
      await options.deliver({
        arn: model.Target.Arn,
        input,
        ...(model.Target.SqsParameters ? { sqsParameters: model.Target.SqsParameters } : {}),
      });
      if (delivery.lastError !== undefined)
        debug('firing delivered after a failed attempt', { schedule: model.Arn, attempt: delivery.attempt });
      return { ...base, outcome: 'delivered' };
    } catch (error) {
      const reason = failureReason(error, input);
      const retryable = isRetryable(error);
      const retries = model.Target.RetryPolicy?.MaximumRetryAttempts ?? DEFAULT_RETRY_ATTEMPTS;
      const maxAgeMs =
        (model.Target.RetryPolicy?.MaximumEventAgeInSeconds ?? DEFAULT_EVENT_AGE_SECONDS) * 1000;
      const nextAt = now + Math.min(2 ** (delivery.attempt - 1), 60) * 1000;
      const dlq = model.Target.DeadLetterConfig?.Arn;
      // Which schedule, which target, why; never the input.
      const about = {
        schedule: model.Arn,
        target: model.Target.Arn,
        scheduledTime: base.scheduledTime,
        attempt: delivery.attempt,
        reason,
        retryable,
      };
      if (retryable && delivery.attempt <= retries && nextAt - delivery.scheduledTime <= maxAgeMs) {
        // Logged when a firing first fails, and again only when it fails differently.
        if (reason !== delivery.lastError) {
          warn('firing not delivered; retrying per the retry policy', {
            ...about,
            nextAttemptAt: new Date(nextAt).toISOString(),
            retryPolicy: { MaximumRetryAttempts: retries, MaximumEventAgeInSeconds: maxAgeMs / 1000 },
          });
        }
        stored.pending.push({
          ...delivery,
          attempt: delivery.attempt + 1,
          deliverAt: nextAt,
          lastError: reason,
        });
        return { ...base, outcome: 'retrying', error: reason };
      }
      const why = retryable ? 'retry policy exhausted' : 'not retryable';
      if (dlq) {
        try {
          await options.deliver({ arn: dlq, input, deadLetterReason: reason });
          warn(`firing not delivered (${why}); sent to the dead-letter queue`, {
            ...about,
            deadLetterQueue: dlq,
          });
          return { ...base, outcome: 'dead-lettered', error: reason };
        } catch (dlqError) {
          warn(`firing not delivered (${why}) nor dead-lettered; dropped`, {
            ...about,
            deadLetterQueue: dlq,
            deadLetterReason: failureReason(dlqError, input),
          });
        }
      } else {
        warn(`firing not delivered (${why}); dropped (no dead-letter queue)`, about);
      }
      return { ...base, outcome: 'dropped', error: reason };
    }
  }

  async function fireDueNow(): Promise<FiringReport[]> {
    const now = clock.now().getTime();
    const reports: FiringReport[] = [];
    for (const stored of schedules.values()) collectDue(stored, now);
    const due: { stored: StoredSchedule; delivery: PendingDelivery }[] = [];
    for (const stored of schedules.values()) {
      const ready = stored.pending.filter((p) => p.deliverAt <= now);
      stored.pending = stored.pending.filter((p) => p.deliverAt > now);
      for (const delivery of ready) due.push({ stored, delivery });
    }
    due.sort(
      (a, b) =>
        a.delivery.deliverAt - b.delivery.deliverAt || a.delivery.scheduledTime - b.delivery.scheduledTime,
    );
    for (const { stored, delivery } of due) reports.push(await attempt(stored, delivery, now));
    for (const [k, stored] of schedules) {
      if (
        stored.model.ActionAfterCompletion === 'DELETE' &&
        stored.pending.length === 0 &&
        isFinished(stored)
      ) {
        removeSchedule(k);
        debug('schedule deleted after completion', { name: stored.model.Name });
      }
    }
    return reports;
  }

  let chain: Promise<unknown> = Promise.resolve();
  const fireDue = (): Promise<FiringReport[]> => {
    const run = chain.then(fireDueNow);
    chain = run.catch(() => undefined);
    return run;
  };

  // --- HTTP ---

  async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    try {
      let body: Record<string, unknown> = {};
      if (raw.trim()) {
        try {
          body = JSON.parse(raw) as Record<string, unknown>;
        } catch {
          throw new ApiError(400, 'ValidationException', 'Request body is not valid JSON');
        }
        if (typeof body !== 'object' || body === null || Array.isArray(body))
          throw new ApiError(400, 'ValidationException', 'Request body must be a JSON object');
      }
      const result = await handle(req.method ?? 'GET', new URL(req.url ?? '/', 'http://localhost'), body);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(result));
    } catch (error) {
      const apiError =
        error instanceof ApiError ? error : new ApiError(500, 'InternalServerException', String(error));
      res
        .writeHead(apiError.status, { 'content-type': 'application/json', 'x-amzn-errortype': apiError.type })
        .end(JSON.stringify({ Message: apiError.message }));
    }
  }

  let server: Server | undefined;
  let timer: NodeJS.Timeout | undefined;

  return {
    listen: (port = 0) =>
      new Promise((resolve, reject) => {
        server = createServer((req, res) => void onRequest(req, res));
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => {
          const address = server!.address();
          resolve(`http://127.0.0.1:${typeof address === 'object' && address ? address.port : port}`);
        });
      }),
    close: async () => {
      if (timer) clearInterval(timer);
      timer = undefined;
      await chain;
      if (!server) return;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server!.close(() => resolve()));
      server = undefined;
    },
    fireDue,
    startTicking: (intervalMs = 250) => {
      if (timer) return;
      timer = setInterval(() => {
        fireDue().catch((error) => warn('fireDue failed', { error: String(error) }));
      }, intervalMs);
      timer.unref();
    },
    stopTicking: () => {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
    schedules: () => [...schedules.values()].map((s) => s.model),
  };
}
