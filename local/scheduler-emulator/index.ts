/**
 * Sundial's EventBridge Scheduler emulator. LocalStack stores schedules but never fires
 * them; this speaks the REST API that @aws-sdk/client-scheduler uses and really fires:
 * cron/rate/at in time zones, start/end dates, flexible windows, enabled/disabled,
 * ActionAfterCompletion, target retry policy and dead-letter queue — driven by an
 * injectable clock so tests can move time instead of waiting for it.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Clock } from '../../functions/commons/clock.js';
import { nextFireTimes } from '../../functions/domain/schedule/index.js';
import {
  ApiError,
  type PendingDelivery,
  type ScheduleModel,
  type StoredSchedule,
  type TargetModel,
  validateName,
  validateScheduleBody,
} from './model.js';

export interface DeliveryTarget {
  arn: string;
  input: string;
  sqsParameters?: { MessageGroupId?: string };
  /** Set when delivering to the schedule's dead-letter queue. */
  deadLetterReason?: string;
}

export interface FiringReport {
  schedule: string;
  scheduledTime: string;
  attempt: number;
  outcome: 'delivered' | 'retrying' | 'dead-lettered' | 'dropped';
  error?: string;
}

export interface SchedulerEmulatorOptions {
  clock: Clock;
  deliver: (target: DeliveryTarget) => Promise<void>;
  region?: string;
  accountId?: string;
  /** Where in a flexible window a firing lands, 0..1. */
  random?: () => number;
  logger?: (message: string, data?: Record<string, unknown>) => void;
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

const toSeconds = (ms: number) => ms / 1000;

/** `2026-11-23T01:00:00Z`: the format Scheduler substitutes for <aws.scheduler.scheduled-time>. */
export function formatScheduledTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function createSchedulerEmulator(options: SchedulerEmulatorOptions): SchedulerEmulator {
  const { clock } = options;
  const region = options.region ?? 'us-east-1';
  const accountId = options.accountId ?? '000000000000';
  const random = options.random ?? Math.random;
  const log = options.logger ?? (() => undefined);
  const groups = new Map<
    string,
    { Name: string; Arn: string; CreationDate: number; LastModificationDate: number }
  >();
  const schedules = new Map<string, StoredSchedule>();
  /** The schedules sorted by ARN, as ListSchedules pages them; rebuilt after a create or delete. */
  let byArn: StoredSchedule[] | undefined;
  const removeSchedule = (k: string) => {
    if (schedules.delete(k)) byArn = undefined;
  };
  const clientTokens = new Map<string, string>();
  const key = (group: string, name: string) => `${group}/${name}`;
  const groupArn = (name: string) => `arn:aws:scheduler:${region}:${accountId}:schedule-group/${name}`;
  const scheduleArn = (group: string, name: string) =>
    `arn:aws:scheduler:${region}:${accountId}:schedule/${group}/${name}`;

  const nowSeconds = () => toSeconds(clock.now().getTime());
  groups.set('default', {
    Name: 'default',
    Arn: groupArn('default'),
    CreationDate: nowSeconds(),
    LastModificationDate: nowSeconds(),
  });

  function requireGroup(name: string) {
    const group = groups.get(name);
    if (!group)
      throw new ApiError(404, 'ResourceNotFoundException', `Schedule group ${name} does not exist.`);
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

  function buildModel(
    name: string,
    body: Record<string, unknown>,
    created: number,
    previousModification?: number,
  ): ScheduleModel {
    const group = typeof body.GroupName === 'string' && body.GroupName ? body.GroupName : 'default';
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
    validateName(name);
    const parsed = validateScheduleBody(body);
    const group = typeof body.GroupName === 'string' && body.GroupName ? body.GroupName : 'default';
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
    log('schedule created', { name, group });
    return { ScheduleArn: scheduleArn(group, name) };
  }

  function updateSchedule(name: string, body: Record<string, unknown>) {
    validateName(name);
    const parsed = validateScheduleBody(body);
    const group = typeof body.GroupName === 'string' && body.GroupName ? body.GroupName : 'default';
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
    const max = Math.min(Number(query.get('MaxResults') ?? 100) || 100, 100);
    const token = query.get('NextToken');
    let after = '';
    if (token) {
      after = Buffer.from(token, 'base64url').toString('utf8');
      if (!after.startsWith('arn:')) throw new ApiError(400, 'ValidationException', 'Invalid NextToken');
    }
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
      ...(more && last ? { NextToken: Buffer.from(last.Arn, 'utf8').toString('base64url') } : {}),
    };
  }

  async function handle(method: string, url: URL, body: Record<string, unknown>): Promise<unknown> {
    const segments = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const [collection, name] = segments;
    if (collection === 'schedules' && name !== undefined && segments.length === 2) {
      const group = url.searchParams.get('groupName') || 'default';
      if (method === 'POST') return createSchedule(name, body);
      if (method === 'PUT') return updateSchedule(name, body);
      if (method === 'GET') {
        requireGroup(group);
        return requireSchedule(group, name).model;
      }
      if (method === 'DELETE') {
        requireGroup(group);
        requireSchedule(group, name);
        removeSchedule(key(group, name));
        return {};
      }
    }
    if (collection === 'schedules' && segments.length === 1 && method === 'GET')
      return listSchedules(url.searchParams);
    if (collection === 'schedule-groups' && name !== undefined && segments.length === 2) {
      if (method === 'POST') {
        validateName(name);
        if (groups.has(name))
          throw new ApiError(409, 'ConflictException', `Schedule group ${name} already exists.`);
        groups.set(name, {
          Name: name,
          Arn: groupArn(name),
          CreationDate: nowSeconds(),
          LastModificationDate: nowSeconds(),
        });
        return { ScheduleGroupArn: groupArn(name) };
      }
      if (method === 'GET') return { ...requireGroup(name), State: 'ACTIVE' };
      if (method === 'DELETE') {
        if (name === 'default')
          throw new ApiError(400, 'ValidationException', 'The default group cannot be deleted.');
        requireGroup(name);
        groups.delete(name);
        for (const [k, s] of schedules) if (s.model.GroupName === name) removeSchedule(k);
        return {};
      }
    }
    if (collection === 'schedule-groups' && segments.length === 1 && method === 'GET') {
      const prefix = url.searchParams.get('NamePrefix') ?? '';
      return {
        ScheduleGroups: [...groups.values()]
          .filter((g) => g.Name.startsWith(prefix))
          .map((g) => ({ ...g, State: 'ACTIVE' })),
      };
    }
    if (collection === 'tags' && method === 'GET') return { Tags: [] };
    if (collection === 'tags') return {};
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
    };
    const input = substitute(model.Target.Input ?? '', model, delivery);
    try {
      await options.deliver({
        arn: model.Target.Arn,
        input,
        ...(model.Target.SqsParameters ? { sqsParameters: model.Target.SqsParameters } : {}),
      });
      return { ...base, outcome: 'delivered' };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const retries = model.Target.RetryPolicy?.MaximumRetryAttempts ?? DEFAULT_RETRY_ATTEMPTS;
      const maxAgeMs =
        (model.Target.RetryPolicy?.MaximumEventAgeInSeconds ?? DEFAULT_EVENT_AGE_SECONDS) * 1000;
      const nextAt = now + Math.min(2 ** (delivery.attempt - 1), 60) * 1000;
      if (delivery.attempt <= retries && nextAt - delivery.scheduledTime <= maxAgeMs) {
        stored.pending.push({ ...delivery, attempt: delivery.attempt + 1, deliverAt: nextAt });
        return { ...base, outcome: 'retrying', error: message };
      }
      const dlq = model.Target.DeadLetterConfig?.Arn;
      if (dlq) {
        try {
          await options.deliver({ arn: dlq, input, deadLetterReason: message });
          log('firing dead-lettered', { schedule: model.Name, error: message });
          return { ...base, outcome: 'dead-lettered', error: message };
        } catch (dlqError) {
          log('dead-letter delivery failed; firing dropped', {
            schedule: model.Name,
            error: String(dlqError),
          });
        }
      } else {
        log('firing dropped after retries', { schedule: model.Name, error: message });
      }
      return { ...base, outcome: 'dropped', error: message };
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
        log('schedule deleted after completion', { name: stored.model.Name });
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
        fireDue().catch((error) => log('fireDue failed', { error: String(error) }));
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

/** Delivers firings to SQS queues, as Scheduler's SQS target does. */
export function sqsDeliverer(sqs: SQSClient, resolveQueueUrl: (arn: string) => string) {
  return async (target: DeliveryTarget): Promise<void> => {
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: resolveQueueUrl(target.arn),
        MessageBody: target.input,
        ...(target.sqsParameters?.MessageGroupId
          ? { MessageGroupId: target.sqsParameters.MessageGroupId }
          : {}),
        ...(target.deadLetterReason
          ? {
              MessageAttributes: {
                ERROR_MESSAGE: { DataType: 'String', StringValue: target.deadLetterReason.slice(0, 1024) },
              },
            }
          : {}),
      }),
    );
  };
}
