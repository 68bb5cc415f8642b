/**
 * A local stand-in for AWS Step Functions (standard workflows): the JSON 1.0 API that
 * @aws-sdk/client-sfn speaks (StartExecution, DescribeExecution, StopExecution, ListExecutions),
 * where a state machine is a local handler registered like the Lambda stand-in's functions.
 * Each execution status change is handed to `onEvent` as EventBridge delivers Step Functions'
 * "Step Functions Execution Status Change" event.
 *
 * Not emulated: Amazon States Language definitions, versions and aliases, redrive, express
 * workflows, execution history.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { close, listen, readJson, sendAwsJson } from './stub-http.js';

export type LocalStateMachine = (
  input: unknown,
  context: { executionArn: string; name: string; signal: AbortSignal },
) => Promise<unknown>;

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

/** The "Step Functions Execution Status Change" event as EventBridge delivers it. */
export interface StepFunctionsExecutionStatusChangeEvent {
  version: '0';
  id: string;
  'detail-type': 'Step Functions Execution Status Change';
  source: 'aws.states';
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: {
    executionArn: string;
    stateMachineArn: string;
    name: string;
    status: ExecutionStatus;
    /** Epoch milliseconds, as in AWS's events. */
    startDate: number;
    stopDate: number | null;
    input: string | null;
    inputDetails: { included: boolean };
    output: string | null;
    outputDetails: { included: boolean } | null;
    error: string | null;
    cause: string | null;
    stateMachineVersionArn: null;
    stateMachineAliasArn: null;
    redriveCount: number;
    redriveDate: null;
    redriveStatus: 'REDRIVABLE' | 'NOT_REDRIVABLE';
    redriveStatusReason: string | null;
  };
}

export interface LocalStepFunctionsOptions {
  region: string;
  accountId: string;
  onEvent: (event: StepFunctionsExecutionStatusChangeEvent) => void | Promise<void>;
}

/** What a test can see of an execution. */
export interface LocalExecutionInfo {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  status: ExecutionStatus;
  input: string;
  output: string | undefined;
  error: string | undefined;
  cause: string | undefined;
}

interface ExecutionRecord {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  status: ExecutionStatus;
  startDate: number;
  stopDate: number | undefined;
  input: string;
  output: string | undefined;
  error: string | undefined;
  cause: string | undefined;
  controller: AbortController;
}

class SfnError extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

const TARGET_PREFIX = 'AWSStepFunctions.';
const PAYLOAD_LIMIT = 256 * 1024;
// EventBridge's event size limit leaves Step Functions 248 KiB for input and output together.
const EVENT_PAYLOAD_LIMIT = 248 * 1024;
// What a name must not contain, per the StartExecution reference (control characters apart).
const BAD_NAME = /[\s<>{}[\]?*"#%\\^|~`$&,;:/]/u;

function validName(name: string): boolean {
  if (name.length < 1 || name.length > 80 || BAD_NAME.test(name)) return false;
  for (const ch of name) {
    const code = ch.codePointAt(0) ?? 0;
    const control = code <= 0x1f || (code >= 0x7f && code <= 0x9f) || code === 0xfffe || code === 0xffff;
    if (control || (code >= 0xd800 && code <= 0xdfff)) return false;
  }
  return true;
}

function redrive(status: ExecutionStatus): {
  redriveStatus: 'REDRIVABLE' | 'NOT_REDRIVABLE';
  reason: string | null;
} {
  // As AWS reports it (this stand-in does not implement RedriveExecution).
  return status === 'RUNNING' || status === 'SUCCEEDED'
    ? { redriveStatus: 'NOT_REDRIVABLE', reason: `Execution is ${status} and cannot be redriven` }
    : { redriveStatus: 'REDRIVABLE', reason: null };
}

export class LocalStepFunctions {
  /** Upcoming events to drop, as if EventBridge lost them. */
  dropEvents = 0;
  /** Deliver every event twice (EventBridge delivers at least once). */
  duplicateEvents = false;
  endpoint = '';

  private readonly region: string;
  private readonly accountId: string;
  private readonly onEvent: LocalStepFunctionsOptions['onEvent'];
  private readonly machines = new Map<string, LocalStateMachine>();
  private readonly executionList: ExecutionRecord[] = [];
  private delivery: Promise<void> = Promise.resolve();
  private server: Server | undefined;
  private closing = false;

  constructor(options: LocalStepFunctionsOptions) {
    this.region = options.region;
    this.accountId = options.accountId;
    this.onEvent = options.onEvent;
  }

  /** Registers (or replaces) a state machine; returns its ARN. */
  register(name: string, handler: LocalStateMachine): string {
    if (!validName(name)) throw new Error(`Invalid state machine name: ${name}`);
    this.machines.set(name, handler);
    return this.stateMachineArn(name);
  }

  stateMachineArn(name: string): string {
    return `arn:aws:states:${this.region}:${this.accountId}:stateMachine:${name}`;
  }

  /** The executions started so far, oldest first. */
  executions(): LocalExecutionInfo[] {
    return this.executionList.map((e) => ({
      executionArn: e.executionArn,
      stateMachineArn: e.stateMachineArn,
      name: e.name,
      status: e.status,
      input: e.input,
      output: e.output,
      error: e.error,
      cause: e.cause,
    }));
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error) =>
        send(res, 500, { __type: 'InternalFailure', message: String(error) }, 'InternalFailure'),
      );
    });
    this.endpoint = await listen(this.server);
    return this;
  }

  /**
   * Closes the server and aborts running executions (their signals fire; they end ABORTED
   * with no event, the stand-in being gone). Handlers that ignore their signal are not awaited.
   */
  async stop(): Promise<void> {
    this.closing = true;
    const closed = this.server ? close(this.server) : Promise.resolve();
    for (const e of this.executionList) {
      if (e.status === 'RUNNING') this.end(e, 'ABORTED', undefined, 'Stand-in stopped');
    }
    await closed;
    await this.delivery;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = String(req.headers['x-amz-target'] ?? '');
    let body: Record<string, unknown>;
    try {
      const parsed = await readJson(req);
      body = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
    } catch {
      return send(res, 400, { __type: 'SerializationException', message: 'Malformed JSON body' });
    }
    const op = target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : '';
    try {
      switch (op) {
        case 'StartExecution':
          return send(res, 200, this.startExecution(body));
        case 'DescribeExecution':
          return send(res, 200, this.describeExecution(body));
        case 'StopExecution':
          return send(res, 200, this.stopExecution(body));
        case 'ListExecutions':
          return send(res, 200, this.listExecutions(body));
        default:
          return send(
            res,
            400,
            {
              __type: 'UnknownOperationException',
              message: `${target || 'no X-Amz-Target'} is not emulated`,
            },
            'UnknownOperationException',
          );
      }
    } catch (error) {
      if (error instanceof SfnError) {
        return send(res, 400, { __type: error.type, message: error.message }, error.type);
      }
      throw error;
    }
  }

  /** A state machine ARN of this region and account → its name (or undefined when another's). */
  private machineName(arn: unknown): string | undefined {
    if (typeof arn !== 'string' || arn === '') throw new SfnError('InvalidArn', 'Invalid Arn: null');
    const match = /^arn:aws[a-z-]*:states:([^:]*):([^:]*):stateMachine:([^:]+)(:[^:]+)?$/.exec(arn);
    if (!match) throw new SfnError('InvalidArn', `Invalid Arn: '${arn}'`);
    const [, region, account, name, qualifier] = match;
    // No versions or aliases here, so a qualified ARN names nothing.
    if (region !== this.region || account !== this.accountId || qualifier !== undefined) return undefined;
    return name;
  }

  private findExecution(arn: unknown): ExecutionRecord {
    if (typeof arn !== 'string' || !/^arn:aws[a-z-]*:states:[^:]*:[^:]*:execution:[^:]+:[^:]+$/.test(arn)) {
      throw new SfnError('InvalidArn', `Invalid Arn: '${String(arn)}'`);
    }
    const execution = this.executionList.find((e) => e.executionArn === arn);
    if (!execution) throw new SfnError('ExecutionDoesNotExist', `Execution Does Not Exist: '${arn}'`);
    return execution;
  }

  private startExecution(body: Record<string, unknown>): unknown {
    const smName = this.machineName(body.stateMachineArn);
    const handler = smName === undefined ? undefined : this.machines.get(smName);
    if (smName === undefined || !handler) {
      throw new SfnError(
        'StateMachineDoesNotExist',
        `State Machine Does Not Exist: '${body.stateMachineArn}'`,
      );
    }
    const name = typeof body.name === 'string' ? body.name : randomUUID();
    if (!validName(name)) throw new SfnError('InvalidName', `Invalid Name: '${name}'`);
    const input = typeof body.input === 'string' ? body.input : '{}';
    let parsed: unknown;
    try {
      parsed = JSON.parse(input);
    } catch {
      throw new SfnError('InvalidExecutionInput', `Invalid State Machine Execution Input: '${input}'`);
    }
    if (Buffer.byteLength(input) > PAYLOAD_LIMIT) {
      throw new SfnError(
        'InvalidExecutionInput',
        'Execution input exceeds the maximum size of 262144 bytes.',
      );
    }
    const executionArn = `arn:aws:states:${this.region}:${this.accountId}:execution:${smName}:${name}`;
    const prior = this.executionList.find((e) => e.executionArn === executionArn);
    if (prior) {
      // As AWS: the same name and input while it runs is the same call; anything else conflicts.
      if (prior.status === 'RUNNING' && prior.input === input) {
        return { executionArn, startDate: prior.startDate / 1000 };
      }
      throw new SfnError('ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
    }
    const execution: ExecutionRecord = {
      executionArn,
      stateMachineArn: this.stateMachineArn(smName),
      name,
      status: 'RUNNING',
      startDate: Date.now(),
      stopDate: undefined,
      input,
      output: undefined,
      error: undefined,
      cause: undefined,
      controller: new AbortController(),
    };
    this.executionList.push(execution);
    this.emit(execution);
    const { signal } = execution.controller;
    Promise.resolve()
      .then(() => handler(parsed, { executionArn, name, signal }))
      .then(
        (result) => {
          if (execution.status !== 'RUNNING') return;
          const output = JSON.stringify(result ?? null);
          if (Buffer.byteLength(output) > PAYLOAD_LIMIT) {
            this.end(
              execution,
              'FAILED',
              'States.DataLimitExceeded',
              'The state/task returned a result with a size exceeding the maximum number of bytes service limit.',
            );
          } else {
            execution.output = output;
            this.end(execution, 'SUCCEEDED');
          }
        },
        (error: unknown) => {
          if (execution.status !== 'RUNNING') return;
          const err = error instanceof Error ? error : undefined;
          const errorName = err?.name ?? 'Error';
          const cause = err ? err.message : String(error);
          this.end(execution, errorName === 'States.Timeout' ? 'TIMED_OUT' : 'FAILED', errorName, cause);
        },
      );
    return { executionArn, startDate: execution.startDate / 1000 };
  }

  private end(execution: ExecutionRecord, status: ExecutionStatus, error?: string, cause?: string): void {
    execution.status = status;
    execution.stopDate = Date.now();
    execution.error = error;
    execution.cause = cause;
    if (status === 'ABORTED') execution.controller.abort(new Error(cause ?? 'Execution aborted'));
    this.emit(execution);
  }

  private describeExecution(body: Record<string, unknown>): unknown {
    const e = this.findExecution(body.executionArn);
    const { redriveStatus, reason } = redrive(e.status);
    return {
      executionArn: e.executionArn,
      stateMachineArn: e.stateMachineArn,
      name: e.name,
      status: e.status,
      startDate: e.startDate / 1000,
      stopDate: e.stopDate === undefined ? undefined : e.stopDate / 1000,
      input: e.input,
      inputDetails: { included: true },
      output: e.output,
      outputDetails: e.output === undefined ? undefined : { included: true },
      error: e.error,
      cause: e.cause,
      redriveCount: 0,
      redriveStatus,
      redriveStatusReason: reason ?? undefined,
    };
  }

  private stopExecution(body: Record<string, unknown>): unknown {
    const e = this.findExecution(body.executionArn);
    // Stopping an execution that has already closed changes nothing.
    if (e.status === 'RUNNING') {
      this.end(
        e,
        'ABORTED',
        typeof body.error === 'string' ? body.error : undefined,
        typeof body.cause === 'string' ? body.cause : undefined,
      );
    }
    return { stopDate: (e.stopDate ?? Date.now()) / 1000 };
  }

  private listExecutions(body: Record<string, unknown>): unknown {
    const smName = this.machineName(body.stateMachineArn);
    if (smName === undefined || !this.machines.has(smName)) {
      throw new SfnError(
        'StateMachineDoesNotExist',
        `State Machine Does Not Exist: '${body.stateMachineArn}'`,
      );
    }
    const arn = this.stateMachineArn(smName);
    const status = typeof body.statusFilter === 'string' ? body.statusFilter : undefined;
    // AWS lists the newest first.
    const matching = this.executionList
      .filter((e) => e.stateMachineArn === arn && (status === undefined || e.status === status))
      .reverse();
    const max =
      typeof body.maxResults === 'number' && body.maxResults > 0 ? Math.min(body.maxResults, 1000) : 100;
    const from =
      typeof body.nextToken === 'string'
        ? Number(Buffer.from(body.nextToken, 'base64url').toString('utf8'))
        : 0;
    if (!Number.isInteger(from) || from < 0) throw new SfnError('InvalidToken', 'Invalid Token');
    const page = matching.slice(from, from + max);
    const next =
      from + max < matching.length ? Buffer.from(String(from + max)).toString('base64url') : undefined;
    return {
      executions: page.map((e) => ({
        executionArn: e.executionArn,
        stateMachineArn: e.stateMachineArn,
        name: e.name,
        status: e.status,
        startDate: e.startDate / 1000,
        stopDate: e.stopDate === undefined ? undefined : e.stopDate / 1000,
        redriveCount: 0,
      })),
      ...(next ? { nextToken: next } : {}),
    };
  }

  private emit(e: ExecutionRecord): void {
    if (this.closing) return;
    if (this.dropEvents > 0) {
      this.dropEvents -= 1;
      return;
    }
    // As Step Functions does when input and output would not fit in an event: leave them out.
    const escapedInput = JSON.stringify(e.input).length;
    const escapedOutput = e.output === undefined ? 0 : JSON.stringify(e.output).length;
    const outputFits = escapedOutput <= EVENT_PAYLOAD_LIMIT;
    const inputFits = escapedInput + (outputFits ? escapedOutput : 0) <= EVENT_PAYLOAD_LIMIT;
    const { redriveStatus, reason } = redrive(e.status);
    const event: StepFunctionsExecutionStatusChangeEvent = {
      version: '0',
      id: randomUUID(),
      'detail-type': 'Step Functions Execution Status Change',
      source: 'aws.states',
      account: this.accountId,
      // EventBridge's time has whole seconds.
      time: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      region: this.region,
      resources: [e.executionArn],
      detail: {
        executionArn: e.executionArn,
        stateMachineArn: e.stateMachineArn,
        name: e.name,
        status: e.status,
        startDate: e.startDate,
        stopDate: e.stopDate ?? null,
        input: inputFits ? e.input : null,
        inputDetails: { included: inputFits },
        output: e.output !== undefined && outputFits ? e.output : null,
        outputDetails: e.output === undefined ? null : { included: outputFits },
        error: e.error ?? null,
        cause: e.cause ?? null,
        stateMachineVersionArn: null,
        stateMachineAliasArn: null,
        redriveCount: 0,
        redriveDate: null,
        redriveStatus,
        redriveStatusReason: reason,
      },
    };
    const copies = this.duplicateEvents ? 2 : 1;
    // One at a time, in order, as a consumer would see them when nothing is lost.
    this.delivery = this.delivery.then(async () => {
      for (let i = 0; i < copies; i++) {
        try {
          await this.onEvent(structuredClone(event));
        } catch (error) {
          console.error(`[sfn] onEvent failed for ${e.executionArn}: ${String(error)}`);
        }
      }
    });
  }
}

function send(res: ServerResponse, status: number, body: unknown, errorType?: string): void {
  sendAwsJson(res, '1.0', status, body, errorType);
}
