/**
 * Local stand-ins for the AWS services a job can target besides SQS (which fauxqs covers):
 * Lambda's Invoke API with a registry of in-process functions, and EventBridge's PutEvents
 * with buses that record what they receive. They speak the wire protocols the AWS SDK
 * clients use, so the worker's real LambdaClient and EventBridgeClient talk to them.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { close, listen, readJson } from './stub-http.js';

/** A function the local Lambda can run: the event, and the client context the caller sent. */
export type LocalFunction = (
  event: unknown,
  context: { functionName: string; clientContext: { custom?: Record<string, string> } | null },
) => Promise<unknown>;

export interface Invocation {
  functionName: string;
  payload: unknown;
  clientContext: { custom?: Record<string, string> } | null;
}

export interface ReceivedEvent {
  id: string;
  eventBusName: string;
  source: string;
  detailType: string;
  detail: unknown;
  time: string;
}

function awsError(res: ServerResponse, status: number, type: string, message: string, json11 = false): void {
  res
    .writeHead(status, {
      'content-type': json11 ? 'application/x-amz-json-1.1' : 'application/json',
      'x-amzn-errortype': type,
    })
    .end(JSON.stringify({ __type: type, message, Message: message }));
}

export class LocalLambda {
  readonly invocations: Invocation[] = [];
  private readonly functions = new Map<string, LocalFunction>();
  private server: Server | undefined;
  endpoint = '';

  constructor(
    private readonly region: string,
    private readonly accountId: string,
  ) {}

  /** Registers a function; returns its ARN. */
  register(name: string, fn: LocalFunction): string {
    this.functions.set(name, fn);
    return `arn:aws:lambda:${this.region}:${this.accountId}:function:${name}`;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error) => awsError(res, 500, 'ServiceException', String(error)));
    });
    this.endpoint = await listen(this.server);
    return this;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const match = /^\/2015-03-31\/functions\/([^/]+)\/invocations/.exec(req.url ?? '');
    if (req.method !== 'POST' || !match?.[1]) {
      return awsError(res, 404, 'UnknownOperationException', `${req.method} ${req.url} is not emulated`);
    }
    const ref = decodeURIComponent(match[1]);
    // A name, an ARN, or either with a :qualifier.
    const name = /:function:([^:]+)/.exec(ref)?.[1] ?? ref.split(':')[0] ?? ref;
    const fn = this.functions.get(name);
    if (!fn) return awsError(res, 404, 'ResourceNotFoundException', `Function not found: ${ref}`);
    const payload = await readJson(req, null);
    const header = req.headers['x-amz-client-context'];
    const clientContext =
      typeof header === 'string' ? JSON.parse(Buffer.from(header, 'base64').toString('utf8')) : null;
    this.invocations.push({ functionName: name, payload, clientContext });
    const headers = { 'content-type': 'application/json', 'x-amz-executed-version': '$LATEST' };
    try {
      const result = await fn(payload, { functionName: name, clientContext });
      res.writeHead(200, headers).end(JSON.stringify(result ?? null));
    } catch (error) {
      // As Lambda reports an unhandled error: HTTP 200 with X-Amz-Function-Error.
      const err = error as Error;
      res
        .writeHead(200, { ...headers, 'x-amz-function-error': 'Unhandled' })
        .end(JSON.stringify({ errorType: err.name ?? 'Error', errorMessage: err.message ?? String(error) }));
    }
  }

  stop(): Promise<void> {
    return this.server ? close(this.server) : Promise.resolve();
  }
}

export class LocalEventBridge {
  private readonly buses = new Map<string, ReceivedEvent[]>([['default', []]]);
  private server: Server | undefined;
  endpoint = '';

  constructor(
    private readonly region: string,
    private readonly accountId: string,
  ) {}

  /** Creates a bus (the default bus always exists); returns its ARN. */
  createBus(name: string): string {
    if (!this.buses.has(name)) this.buses.set(name, []);
    return this.busArn(name);
  }

  busArn(name: string): string {
    return `arn:aws:events:${this.region}:${this.accountId}:event-bus/${name}`;
  }

  /** What a bus has received, oldest first. */
  events(name: string): ReceivedEvent[] {
    return this.buses.get(name) ?? [];
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error) => awsError(res, 500, 'InternalException', String(error), true));
    });
    this.endpoint = await listen(this.server);
    return this;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.headers['x-amz-target'] !== 'AWSEvents.PutEvents') {
      return awsError(
        res,
        400,
        'UnknownOperationException',
        `${req.headers['x-amz-target']} is not emulated`,
        true,
      );
    }
    const body = (await readJson(req, null)) as {
      Entries?: {
        EventBusName?: string;
        Source?: string;
        DetailType?: string;
        Detail?: string;
        Time?: number;
      }[];
    };
    const results = (body.Entries ?? []).map((entry) => {
      const busName = (entry.EventBusName ?? 'default').replace(
        /^arn:[^:]+:events:[^:]*:\d*:event-bus\//,
        '',
      );
      const bus = this.buses.get(busName);
      if (!bus)
        return {
          ErrorCode: 'ResourceNotFoundException',
          ErrorMessage: `Event bus ${busName} does not exist.`,
        };
      let detail: unknown;
      try {
        detail = JSON.parse(entry.Detail ?? '');
      } catch {
        detail = undefined;
      }
      if (
        typeof detail !== 'object' ||
        detail === null ||
        Array.isArray(detail) ||
        !entry.Source ||
        !entry.DetailType
      ) {
        return {
          ErrorCode: 'MalformedDetail',
          ErrorMessage: 'Detail must be a JSON object; Source and DetailType are required.',
        };
      }
      const id = randomUUID();
      bus.push({
        id,
        eventBusName: busName,
        source: entry.Source,
        detailType: entry.DetailType,
        detail,
        time: new Date(entry.Time ? entry.Time * 1000 : Date.now()).toISOString(),
      });
      return { EventId: id };
    });
    const failed = results.filter((r) => 'ErrorCode' in r).length;
    res
      .writeHead(200, { 'content-type': 'application/x-amz-json-1.1' })
      .end(JSON.stringify({ FailedEntryCount: failed, Entries: results }));
  }

  stop(): Promise<void> {
    return this.server ? close(this.server) : Promise.resolve();
  }
}
