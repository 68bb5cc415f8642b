/**
 * The local Step Functions stand-in through the real @aws-sdk/client-sfn: state machines are
 * local handlers, and status changes arrive as EventBridge's Step Functions events. Every wait
 * is on an event (or a handler's own signal), never on a timer.
 */
import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  InvalidArn,
  InvalidExecutionInput,
  InvalidName,
  ListExecutionsCommand,
  SFNClient,
  StartExecutionCommand,
  StateMachineDoesNotExist,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  LocalStepFunctions,
  type StepFunctionsExecutionStatusChangeEvent,
} from '../../local/stepfunctions-emulator.js';

const REGION = 'local';
const ACCOUNT = '000000000000';

const events: StepFunctionsExecutionStatusChangeEvent[] = [];
const waiters = new Set<() => boolean>();

function notify(): void {
  for (const check of [...waiters]) if (check()) waiters.delete(check);
}

/** Resolves with the probe's first defined value, probing again on every event. */
function until<T>(probe: () => T | undefined): Promise<T> {
  return new Promise((resolve) => {
    const check = () => {
      const value = probe();
      if (value === undefined) return false;
      resolve(value);
      return true;
    };
    if (!check()) waiters.add(check);
  });
}

const eventsOf = (executionArn: string) => events.filter((e) => e.detail.executionArn === executionArn);
const closedEvent = (executionArn: string) =>
  until(() => eventsOf(executionArn).find((e) => e.detail.status !== 'RUNNING'));

/** A promise with its resolver, to hold a handler open until the test lets it go. */
function gate<T = void>(): { promise: Promise<T>; open: (value: T) => void } {
  let open: (value: T) => void = () => {};
  const promise = new Promise<T>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

class IngestError extends Error {
  override name = 'IngestError';
}

let local: LocalStepFunctions;
let sfn: SFNClient;
let double: string;
let failing: string;
let timingOut: string;
let waiting: string;
const aborted: { name: string; reason: unknown }[] = [];
const held = new Map<string, { open: (value: unknown) => void }>();

beforeAll(async () => {
  local = await new LocalStepFunctions({
    region: REGION,
    accountId: ACCOUNT,
    onEvent: (event) => {
      events.push(event);
      notify();
    },
  }).start();
  double = local.register('double', async (input) => ({ doubled: (input as { n: number }).n * 2 }));
  failing = local.register('failing', async () => {
    throw new IngestError('row 7 is malformed');
  });
  timingOut = local.register('timing-out', async () => {
    const error = new Error('ran past its deadline');
    error.name = 'States.Timeout';
    throw error;
  });
  waiting = local.register('waiting', (_input, { name, signal }) => {
    const g = gate<unknown>();
    held.set(name, g);
    signal.addEventListener('abort', () => aborted.push({ name, reason: signal.reason }));
    return g.promise;
  });
  sfn = new SFNClient({
    region: REGION,
    endpoint: local.endpoint,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
});

afterAll(async () => {
  sfn?.destroy();
  await local?.stop();
});

describe('StartExecution', () => {
  it('runs the handler to SUCCEEDED with its output, emitting RUNNING then SUCCEEDED', async () => {
    expect(double).toBe('arn:aws:states:local:000000000000:stateMachine:double');
    const started = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: double, name: 'run-1-attempt-1', input: '{"n":21}' }),
    );
    const executionArn = 'arn:aws:states:local:000000000000:execution:double:run-1-attempt-1';
    expect(started.executionArn).toBe(executionArn);
    expect(started.startDate).toBeInstanceOf(Date);

    const closed = await closedEvent(executionArn);
    const [running, ...rest] = eventsOf(executionArn);
    expect(rest).toEqual([closed]);
    expect(running).toEqual({
      version: '0',
      id: expect.any(String),
      'detail-type': 'Step Functions Execution Status Change',
      source: 'aws.states',
      account: ACCOUNT,
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      region: REGION,
      resources: [executionArn],
      detail: {
        executionArn,
        stateMachineArn: double,
        name: 'run-1-attempt-1',
        status: 'RUNNING',
        startDate: started.startDate?.getTime(),
        stopDate: null,
        input: '{"n":21}',
        inputDetails: { included: true },
        output: null,
        outputDetails: null,
        error: null,
        cause: null,
        stateMachineVersionArn: null,
        stateMachineAliasArn: null,
        redriveCount: 0,
        redriveDate: null,
        redriveStatus: 'NOT_REDRIVABLE',
        redriveStatusReason: 'Execution is RUNNING and cannot be redriven',
      },
    });
    expect(closed.detail).toMatchObject({
      status: 'SUCCEEDED',
      startDate: started.startDate?.getTime(),
      output: '{"doubled":42}',
      outputDetails: { included: true },
      error: null,
      cause: null,
    });
    expect(closed.detail.stopDate).toEqual(expect.any(Number));
    expect(closed.detail.stopDate as number).toBeGreaterThanOrEqual(closed.detail.startDate);

    const described = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    expect(described).toMatchObject({
      executionArn,
      stateMachineArn: double,
      name: 'run-1-attempt-1',
      status: 'SUCCEEDED',
      input: '{"n":21}',
      output: '{"doubled":42}',
    });
    expect(described.startDate?.getTime()).toBe(started.startDate?.getTime());
    expect(described.stopDate?.getTime()).toBe(closed.detail.stopDate);
  });

  it('reports a thrown error as FAILED with error and cause', async () => {
    const { executionArn = '' } = await sfn.send(new StartExecutionCommand({ stateMachineArn: failing }));
    expect(executionArn).toMatch(/^arn:aws:states:local:000000000000:execution:failing:[0-9a-f-]{36}$/);
    const closed = await closedEvent(executionArn);
    expect(closed.detail).toMatchObject({
      status: 'FAILED',
      input: '{}',
      error: 'IngestError',
      cause: 'row 7 is malformed',
      output: null,
      redriveStatus: 'REDRIVABLE',
    });
    expect(await sfn.send(new DescribeExecutionCommand({ executionArn }))).toMatchObject({
      status: 'FAILED',
      error: 'IngestError',
      cause: 'row 7 is malformed',
    });
  });

  it('reports a States.Timeout error as TIMED_OUT', async () => {
    const { executionArn = '' } = await sfn.send(new StartExecutionCommand({ stateMachineArn: timingOut }));
    const closed = await closedEvent(executionArn);
    expect(closed.detail).toMatchObject({
      status: 'TIMED_OUT',
      error: 'States.Timeout',
      cause: 'ran past its deadline',
    });
  });

  it('is idempotent for the same name and input while running; otherwise ExecutionAlreadyExists', async () => {
    const input = { stateMachineArn: waiting, name: 'run-2-attempt-1', input: '{"job":"j"}' };
    const first = await sfn.send(new StartExecutionCommand(input));
    const again = await sfn.send(new StartExecutionCommand(input));
    expect(again.executionArn).toBe(first.executionArn);
    expect(again.startDate?.getTime()).toBe(first.startDate?.getTime());
    expect(local.executions().filter((e) => e.name === 'run-2-attempt-1')).toHaveLength(1);
    await expect(
      sfn.send(new StartExecutionCommand({ ...input, input: '{"job":"other"}' })),
    ).rejects.toBeInstanceOf(ExecutionAlreadyExists);

    const executionArn = first.executionArn ?? '';
    held.get('run-2-attempt-1')?.open({ done: true });
    const closed = await closedEvent(executionArn);
    expect(closed.detail).toMatchObject({ status: 'SUCCEEDED', output: '{"done":true}' });
    await expect(sfn.send(new StartExecutionCommand(input))).rejects.toBeInstanceOf(ExecutionAlreadyExists);
    expect(eventsOf(executionArn).map((e) => e.detail.status)).toEqual(['RUNNING', 'SUCCEEDED']);
  });

  it('refuses an unknown state machine, a bad ARN, a bad name and bad input', async () => {
    await expect(
      sfn.send(
        new StartExecutionCommand({ stateMachineArn: 'arn:aws:states:local:000000000000:stateMachine:nope' }),
      ),
    ).rejects.toBeInstanceOf(StateMachineDoesNotExist);
    await expect(
      sfn.send(
        new StartExecutionCommand({
          stateMachineArn: 'arn:aws:states:eu-west-1:000000000000:stateMachine:double',
        }),
      ),
    ).rejects.toBeInstanceOf(StateMachineDoesNotExist);
    await expect(sfn.send(new StartExecutionCommand({ stateMachineArn: 'double' }))).rejects.toBeInstanceOf(
      InvalidArn,
    );
    await expect(
      sfn.send(new StartExecutionCommand({ stateMachineArn: double, name: 'has space' })),
    ).rejects.toBeInstanceOf(InvalidName);
    await expect(
      sfn.send(new StartExecutionCommand({ stateMachineArn: double, input: '{not json' })),
    ).rejects.toBeInstanceOf(InvalidExecutionInput);
  });
});

describe('StopExecution', () => {
  it('aborts the execution: ABORTED with the given error and cause, and the handler signal fires', async () => {
    const { executionArn = '' } = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: waiting, name: 'run-3-attempt-1' }),
    );
    const stopped = await sfn.send(
      new StopExecutionCommand({ executionArn, error: 'Sundial.Cancelled', cause: 'run cancelled' }),
    );
    expect(stopped.stopDate).toBeInstanceOf(Date);
    expect(aborted.map((a) => a.name)).toContain('run-3-attempt-1');

    const closed = await closedEvent(executionArn);
    expect(closed.detail).toMatchObject({
      status: 'ABORTED',
      error: 'Sundial.Cancelled',
      cause: 'run cancelled',
      stopDate: stopped.stopDate?.getTime(),
    });
    expect(await sfn.send(new DescribeExecutionCommand({ executionArn }))).toMatchObject({
      status: 'ABORTED',
      error: 'Sundial.Cancelled',
      cause: 'run cancelled',
    });

    // The handler finishing later changes nothing; nor does stopping again.
    held.get('run-3-attempt-1')?.open('late');
    const again = await sfn.send(new StopExecutionCommand({ executionArn }));
    expect(again.stopDate?.getTime()).toBe(stopped.stopDate?.getTime());
    expect((await sfn.send(new DescribeExecutionCommand({ executionArn }))).status).toBe('ABORTED');
    expect(eventsOf(executionArn).map((e) => e.detail.status)).toEqual(['RUNNING', 'ABORTED']);
  });

  it('refuses an unknown execution', async () => {
    const executionArn = 'arn:aws:states:local:000000000000:execution:double:never';
    await expect(sfn.send(new StopExecutionCommand({ executionArn }))).rejects.toBeInstanceOf(
      ExecutionDoesNotExist,
    );
    await expect(sfn.send(new DescribeExecutionCommand({ executionArn }))).rejects.toBeInstanceOf(
      ExecutionDoesNotExist,
    );
  });
});

describe('ListExecutions', () => {
  it('lists a state machine’s executions, newest first, by status', async () => {
    const machine = local.register('listed', async (input) => input);
    const arns: string[] = [];
    for (const name of ['l-1', 'l-2', 'l-3']) {
      const { executionArn = '' } = await sfn.send(
        new StartExecutionCommand({ stateMachineArn: machine, name }),
      );
      await closedEvent(executionArn);
      arns.push(executionArn);
    }
    const all = await sfn.send(new ListExecutionsCommand({ stateMachineArn: machine }));
    expect(all.executions?.map((e) => e.executionArn)).toEqual([...arns].reverse());
    expect(all.executions?.[0]).toMatchObject({ name: 'l-3', status: 'SUCCEEDED', stateMachineArn: machine });
    expect(
      (await sfn.send(new ListExecutionsCommand({ stateMachineArn: machine, statusFilter: 'RUNNING' })))
        .executions,
    ).toEqual([]);
    const page = await sfn.send(new ListExecutionsCommand({ stateMachineArn: machine, maxResults: 2 }));
    expect(page.executions).toHaveLength(2);
    const rest = await sfn.send(
      new ListExecutionsCommand({ stateMachineArn: machine, maxResults: 2, nextToken: page.nextToken }),
    );
    expect(rest.executions?.map((e) => e.name)).toEqual(['l-1']);
    expect(rest.nextToken).toBeUndefined();
    await expect(
      sfn.send(
        new ListExecutionsCommand({ stateMachineArn: 'arn:aws:states:local:000000000000:stateMachine:nope' }),
      ),
    ).rejects.toBeInstanceOf(StateMachineDoesNotExist);
  });
});

describe('fault seams', () => {
  it('drops the next event when asked (a lost RUNNING event)', async () => {
    local.dropEvents = 1;
    const { executionArn = '' } = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: double, input: '{"n":1}' }),
    );
    const closed = await closedEvent(executionArn);
    expect(eventsOf(executionArn)).toEqual([closed]);
    expect(local.dropEvents).toBe(0);
  });

  it('delivers each event twice when asked, with the same id', async () => {
    local.duplicateEvents = true;
    try {
      const { executionArn = '' } = await sfn.send(
        new StartExecutionCommand({ stateMachineArn: double, input: '{"n":2}' }),
      );
      await until(() => (eventsOf(executionArn).length === 4 ? true : undefined));
      const [r1, r2, s1, s2] = eventsOf(executionArn);
      expect([r1, r2, s1, s2].map((e) => e?.detail.status)).toEqual([
        'RUNNING',
        'RUNNING',
        'SUCCEEDED',
        'SUCCEEDED',
      ]);
      expect(r2).toEqual(r1);
      expect(s2?.id).toBe(s1?.id);
    } finally {
      local.duplicateEvents = false;
    }
  });
});

describe('stop()', () => {
  it('aborts running executions and sends no further events', async () => {
    const seen: StepFunctionsExecutionStatusChangeEvent[] = [];
    const other = await new LocalStepFunctions({
      region: REGION,
      accountId: ACCOUNT,
      onEvent: (event) => {
        seen.push(event);
      },
    }).start();
    const signals: AbortSignal[] = [];
    const machine = other.register('forever', (_input, { signal }) => {
      signals.push(signal);
      return new Promise(() => {});
    });
    const client = new SFNClient({
      region: REGION,
      endpoint: other.endpoint,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    try {
      await client.send(new StartExecutionCommand({ stateMachineArn: machine, name: 'held' }));
      await other.stop();
      expect(signals.map((s) => s.aborted)).toEqual([true]);
      expect(other.executions()[0]?.status).toBe('ABORTED');
      expect(seen.map((e) => e.detail.status)).toEqual(['RUNNING']);
    } finally {
      client.destroy();
    }
  });
});
