/**
 * What a job calls: an HTTP endpoint, a Lambda function, an SQS queue, an EventBridge bus,
 * an ECS task or a Step Functions execution. AWS targets are named by ARN (or, for SQS,
 * queue URL) and must be allowed by the deployment's configuration: the worker's IAM role
 * is granted exactly those ARNs. HTTP with `completion: "callback"`, ECS and Step Functions
 * targets finish later than they start: a long run, tracked to its end (DESIGN.md,
 * "Long-running runs").
 */

import { MAX_TARGET_TIMEOUT_SECONDS } from '../../lib/definitions.js';
import {
  DEFAULT_RUN_TIMEOUT_SECONDS,
  MAX_RUN_TIMEOUT_SECONDS,
  MIN_RUN_TIMEOUT_SECONDS,
} from './job-rules.js';
import * as z from './zod.js';

export const TARGET_TYPES = ['http', 'lambda', 'sqs', 'eventbridge', 'ecs', 'stepfunctions'] as const;
export type TargetType = (typeof TARGET_TYPES)[number];

const MAX_PAYLOAD_BYTES = 65_536;
const headerName = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const timeoutSeconds = z._default(z.int().check(z.minimum(1), z.maximum(MAX_TARGET_TIMEOUT_SECONDS)), 30);
const jsonBytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value) ?? '', 'utf8');
/** A JSON value sent as given (a Lambda payload, an execution input); {} when left out. */
const jsonUpTo64KiB = () =>
  z
    ._default(z.json(), {})
    .check(z.refine((p) => jsonBytes(p) <= MAX_PAYLOAD_BYTES, 'must be at most 64 KiB as JSON'));

const runTimeoutSeconds = z
  .int()
  .check(
    z.minimum(MIN_RUN_TIMEOUT_SECONDS, `must be at least ${MIN_RUN_TIMEOUT_SECONDS} (a minute)`),
    z.maximum(MAX_RUN_TIMEOUT_SECONDS, `must be at most ${MAX_RUN_TIMEOUT_SECONDS} (24 hours)`),
  );
const heartbeatTimeoutSeconds = z
  .int()
  .check(
    z.minimum(10, 'must be at least 10'),
    z.maximum(MAX_RUN_TIMEOUT_SECONDS, `must be at most ${MAX_RUN_TIMEOUT_SECONDS} (24 hours)`),
  );

/** A heartbeat timeout longer than the run's own would never fire. */
function heartbeatWithinRun(
  t: { runTimeoutSeconds?: number | null | undefined; heartbeatTimeoutSeconds?: number | null | undefined },
  ctx: z.core.$RefinementCtx,
): void {
  const run = t.runTimeoutSeconds ?? DEFAULT_RUN_TIMEOUT_SECONDS;
  if (typeof t.heartbeatTimeoutSeconds === 'number' && t.heartbeatTimeoutSeconds > run) {
    ctx.addIssue({
      code: 'custom',
      path: ['heartbeatTimeoutSeconds'],
      message: `must be at most runTimeoutSeconds (${run})`,
    });
  }
}

/** What Node's http sends in a header value: tab, space, visible ASCII and Latin-1 (obs-text). */
function headerValueProblem(value: string, secret: boolean): string | null {
  for (const char of value) {
    const code = char.codePointAt(0) ?? 0;
    if ((code < 0x20 && code !== 0x09) || code === 0x7f) {
      return 'header values must not contain CR, LF, NUL or other control characters (a tab is allowed)';
    }
    if (code > 0xff) {
      // A secret value's characters are not echoed, not even one.
      const which = secret ? 'a character' : `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
      return `header values must be Latin-1 text: HTTP cannot send ${which} in a header`;
    }
  }
  return null;
}

/** Framing and connection headers: HTTP sets them for each call; a job's own would break or smuggle it. */
const PROTOCOL_HEADERS = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'te',
  'trailer',
  'trailers',
  'proxy-connection',
  'proxy-authenticate',
]);
/** Credentials: plain headers are shown to anyone who can read the job, secret headers to no one. */
const CREDENTIAL_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie', 'x-api-key']);
/** Sundial's own: x-sundial-*, sundial-* (Sundial-Signature, Sundial-Callback-Url, ...) and Idempotency-Key. */
const isSundialHeader = (name: string) =>
  name.startsWith('x-sundial-') || name.startsWith('sundial-') || name === 'idempotency-key';

function headerNameProblem(name: string, secret: boolean): string | null {
  if (!headerName.test(name)) return 'header names must be HTTP tokens';
  if (name.length > 128) return 'header names must be at most 128 characters';
  const lower = name.toLowerCase();
  if (PROTOCOL_HEADERS.has(lower)) {
    return `"${name}" is set by HTTP itself for each call; a job cannot set it`;
  }
  if (isSundialHeader(lower)) return `"${name}" is set by Sundial on every call; a job cannot set it`;
  if (!secret && CREDENTIAL_HEADERS.has(lower)) {
    return `"${name}" carries a credential: put it in secretHeaders, which are stored encrypted and never shown (anyone who can read the job sees headers)`;
  }
  return null;
}

/** A header record, each refused name or value reported at its own path (target.headers.<name>). */
function headersSchema(options: { secret: boolean; maxHeaders: number; maxValue: number }) {
  const { secret, maxHeaders, maxValue } = options;
  const label = secret ? 'secret header' : 'header';
  return z.record(z.string(), z.string()).check(
    z.superRefine((headers, ctx) => {
      const entries = Object.entries(headers);
      if (entries.length > maxHeaders) {
        ctx.addIssue({ code: 'custom', message: `at most ${maxHeaders} ${label}s` });
      }
      for (const [name, value] of entries) {
        const problem =
          headerNameProblem(name, secret) ??
          (secret && value.length === 0 ? 'secret header values must not be empty' : null) ??
          (value.length > maxValue ? `${label} values must be at most ${maxValue} characters` : null) ??
          headerValueProblem(value, secret);
        if (problem) ctx.addIssue({ code: 'custom', path: [name], message: problem });
      }
    }),
  );
}

const httpTargetSchema = z
  .strictObject({
    type: z.literal('http'),
    url: z
      .url({ protocol: /^https?$/, error: 'must be an absolute http:// or https:// URL' })
      .check(z.maxLength(2048, 'must be at most 2048 characters')),
    method: z._default(z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']), 'POST'),
    headers: z._default(headersSchema({ secret: false, maxHeaders: 50, maxValue: 4096 }), {}),
    body: z._default(
      z.nullable(z.string().check(z.maxLength(MAX_PAYLOAD_BYTES, 'must be at most 64 KiB'))),
      null,
    ),
    // Write-only: stored encrypted with KMS, sent with every call, never returned or logged.
    secretHeaders: z._default(headersSchema({ secret: true, maxHeaders: 10, maxValue: 2048 }), {}),
    /** For a callback target: how long the first call may take to be accepted. */
    timeoutSeconds,
    /**
     * `response`: the answer is the outcome. `callback`: a 2xx answer only accepts the run;
     * the target reports its outcome to the Sundial-Callback-Url it was given.
     */
    completion: z._default(
      z.enum(['response', 'callback'], { error: 'must be "response" or "callback"' }),
      'response',
    ),
    /** Callback targets only: how long an attempt may run (default 3,600); null unsets it. */
    runTimeoutSeconds: z.optional(z.nullable(runTimeoutSeconds)),
    /** Callback targets only: an attempt whose heartbeats stop this long ends timed out. */
    heartbeatTimeoutSeconds: z.optional(z.nullable(heartbeatTimeoutSeconds)),
  })
  .check(
    // Checked on the merged target too, so a PATCH to GET with a body still stored is refused.
    z.refine((t) => t.method !== 'GET' || t.body === null, {
      message: 'a GET request has no body',
      path: ['body'],
    }),
    z.superRefine((t, ctx) => {
      if (t.completion !== 'callback') {
        for (const field of ['runTimeoutSeconds', 'heartbeatTimeoutSeconds'] as const) {
          if (t[field] !== undefined && t[field] !== null) {
            ctx.addIssue({
              code: 'custom',
              path: [field],
              message:
                'applies only to targets that finish later than they answer (completion: "callback"); a response target is bounded by timeoutSeconds',
            });
          }
        }
        return;
      }
      heartbeatWithinRun(t, ctx);
    }),
  );

const LAMBDA_ARN =
  /^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9$_-]{1,128})?$/;

const lambdaTargetSchema = z.strictObject({
  type: z.literal('lambda'),
  functionArn: z
    .string({ error: 'is required, e.g. "arn:aws:lambda:eu-west-1:123456789012:function:report"' })
    .check(
      z.regex(
        LAMBDA_ARN,
        'must be a Lambda function ARN, e.g. arn:aws:lambda:eu-west-1:123456789012:function:report',
      ),
    ),
  // Sent as the function's event, as given.
  payload: jsonUpTo64KiB(),
  timeoutSeconds,
});

/** `https://sqs.<region>.amazonaws.com/<account>/<name>`, or a local emulator's equivalent. */
const QUEUE_URL = /^https?:\/\/[^/]+\/(\d{12})\/([A-Za-z0-9_-]{1,80}(\.fifo)?)$/;
const ATTRIBUTE_NAME = /^(?!aws\.|amazon\.|sundial-)[A-Za-z0-9_.-]{1,256}$/i;
/** SQS allows 10 attributes per message; Sundial adds three of its own. */
export const SUNDIAL_SQS_ATTRIBUTES = 3;

const sqsTargetSchema = z.strictObject({
  type: z.literal('sqs'),
  queueUrl: z
    .string({ error: 'is required, e.g. "https://sqs.eu-west-1.amazonaws.com/123456789012/reports"' })
    .check(
      z.regex(
        QUEUE_URL,
        'must be an SQS queue URL, e.g. https://sqs.eu-west-1.amazonaws.com/123456789012/reports',
      ),
    ),
  body: z
    .string({ error: 'is required: the message body' })
    .check(z.minLength(1, 'must not be empty'), z.maxLength(MAX_PAYLOAD_BYTES, 'must be at most 64 KiB')),
  messageAttributes: z._default(
    z
      .record(
        z
          .string()
          .check(
            z.regex(
              ATTRIBUTE_NAME,
              'attribute names are letters, digits, _ - . and may not start with aws., amazon. or sundial-',
            ),
          ),
        z.string().check(z.minLength(1, 'attribute values must not be empty'), z.maxLength(1024)),
      )
      .check(
        z.refine(
          (a) => Object.keys(a).length <= 10 - SUNDIAL_SQS_ATTRIBUTES,
          `at most ${10 - SUNDIAL_SQS_ATTRIBUTES} attributes (SQS allows 10; Sundial adds ${SUNDIAL_SQS_ATTRIBUTES})`,
        ),
      ),
    {},
  ),
  // FIFO queues only; the job id when unset.
  messageGroupId: z._default(z.nullable(z.string().check(z.minLength(1), z.maxLength(128))), null),
  timeoutSeconds,
});

const EVENT_BUS_ARN = /^arn:aws[a-z-]*:events:[a-z0-9-]+:\d{12}:event-bus\/[A-Za-z0-9._/-]{1,256}$/;

const eventBridgeTargetSchema = z.strictObject({
  type: z.literal('eventbridge'),
  eventBusArn: z
    .string({ error: 'is required, e.g. "arn:aws:events:eu-west-1:123456789012:event-bus/default"' })
    .check(
      z.regex(
        EVENT_BUS_ARN,
        'must be an event bus ARN, e.g. arn:aws:events:eu-west-1:123456789012:event-bus/default',
      ),
    ),
  source: z.string({ error: 'is required, e.g. "com.example.reports"' }).check(
    z.minLength(1, 'must not be empty'),
    z.maxLength(256),
    z.refine((s) => !s.startsWith('aws.'), 'must not start with "aws." (reserved for AWS services)'),
  ),
  detailType: z.string({ error: 'is required' }).check(z.minLength(1, 'must not be empty'), z.maxLength(128)),
  detail: z
    ._default(z.record(z.string(), z.json(), { error: 'must be a JSON object' }), {})
    .check(z.refine((d) => jsonBytes(d) <= MAX_PAYLOAD_BYTES, 'must be at most 64 KiB as JSON')),
  timeoutSeconds,
});

const ECS_CLUSTER_ARN = /^arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:cluster\/[A-Za-z0-9_-]{1,255}$/;
const ECS_TASK_DEFINITION_ARN =
  /^arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:task-definition\/[A-Za-z0-9_-]{1,255}(:[1-9]\d{0,8})?$/;
const SUBNET_ID = /^subnet-[0-9a-f]{8,17}$/;
const SECURITY_GROUP_ID = /^sg-[0-9a-f]{8,17}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,254}$/;
/** What Sundial gives every container: the run it is, and where to report heartbeats. */
export const SUNDIAL_ENV_PREFIX = 'SUNDIAL_';
/** ECS refuses container overrides over 8 KiB in all. */
const MAX_OVERRIDES_BYTES = 8_192;

const containerOverrideSchema = z.strictObject({
  name: z
    .string({ error: 'is required: the container of the task definition to override' })
    .check(z.minLength(1), z.maxLength(255)),
  command: z.optional(
    z
      .array(z.string().check(z.maxLength(4096)), {
        error: 'must be an array of strings, e.g. ["python", "x.py"]',
      })
      .check(z.minLength(1, 'must have at least the program to run'), z.maxLength(256)),
  ),
  environment: z._default(
    z.record(
      z.string().check(
        z.regex(ENV_NAME, 'environment names are letters, digits and _, not starting with a digit'),
        z.refine(
          (name) => !name.toUpperCase().startsWith(SUNDIAL_ENV_PREFIX),
          `names starting with ${SUNDIAL_ENV_PREFIX} are set by Sundial`,
        ),
      ),
      z.string().check(z.maxLength(4096)),
    ),
    {},
  ),
});

const ecsTargetSchema = z
  .strictObject({
    type: z.literal('ecs'),
    cluster: z
      .string({ error: 'is required, e.g. "arn:aws:ecs:eu-west-1:123456789012:cluster/batch"' })
      .check(
        z.regex(
          ECS_CLUSTER_ARN,
          'must be an ECS cluster ARN, e.g. arn:aws:ecs:eu-west-1:123456789012:cluster/batch',
        ),
      ),
    taskDefinition: z
      .string({ error: 'is required, e.g. "arn:aws:ecs:eu-west-1:123456789012:task-definition/import:3"' })
      .check(
        z.regex(
          ECS_TASK_DEFINITION_ARN,
          'must be an ECS task definition ARN, e.g. arn:aws:ecs:eu-west-1:123456789012:task-definition/import:3',
        ),
      ),
    launchType: z._default(z.enum(['FARGATE', 'EC2'], { error: 'must be "FARGATE" or "EC2"' }), 'FARGATE'),
    /** Required on AWS for Fargate (awsvpc); optional locally. */
    network: z._default(
      z.nullable(
        z.strictObject({
          subnets: z
            .array(z.string().check(z.regex(SUBNET_ID, 'subnet ids look like subnet-0123456789abcdef0')))
            .check(z.minLength(1, 'at least one subnet'), z.maxLength(16)),
          securityGroups: z._default(
            z
              .array(
                z
                  .string()
                  .check(z.regex(SECURITY_GROUP_ID, 'security group ids look like sg-0123456789abcdef0')),
              )
              .check(z.maxLength(5)),
            [],
          ),
          assignPublicIp: z._default(z.boolean({ error: 'must be true or false' }), false),
        }),
      ),
      null,
    ),
    containerOverrides: z._default(z.array(containerOverrideSchema).check(z.maxLength(10)), []),
    /** How long RunTask may take to answer. */
    timeoutSeconds,
    runTimeoutSeconds: z._default(runTimeoutSeconds, DEFAULT_RUN_TIMEOUT_SECONDS),
    /** The container heartbeats to $SUNDIAL_CALLBACK_URL/heartbeat; none by default. */
    heartbeatTimeoutSeconds: z._default(z.nullable(heartbeatTimeoutSeconds), null),
  })
  .check(
    z.refine((t) => jsonBytes(t.containerOverrides) <= MAX_OVERRIDES_BYTES, {
      message: 'must be at most 8 KiB as JSON (ECS refuses larger overrides)',
      path: ['containerOverrides'],
    }),
    z.superRefine(heartbeatWithinRun),
  );

const STATE_MACHINE_ARN = /^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:[A-Za-z0-9_-]{1,80}$/;

const stepFunctionsTargetSchema = z.strictObject({
  type: z.literal('stepfunctions'),
  stateMachineArn: z
    .string({ error: 'is required, e.g. "arn:aws:states:eu-west-1:123456789012:stateMachine:pipeline"' })
    .check(
      z.regex(
        STATE_MACHINE_ARN,
        'must be a Standard state machine ARN, e.g. arn:aws:states:eu-west-1:123456789012:stateMachine:pipeline',
      ),
    ),
  /** The execution's input, as given. */
  input: jsonUpTo64KiB(),
  /** How long StartExecution may take to answer. */
  timeoutSeconds,
  runTimeoutSeconds: z._default(runTimeoutSeconds, DEFAULT_RUN_TIMEOUT_SECONDS),
  heartbeatTimeoutSeconds: z.optional(
    z.null({
      error:
        'Step Functions executions do not heartbeat to Sundial; set HeartbeatSeconds on the task states of the state machine',
    }),
  ),
});

export const targetSchema = z.discriminatedUnion(
  'type',
  [
    httpTargetSchema,
    lambdaTargetSchema,
    sqsTargetSchema,
    eventBridgeTargetSchema,
    ecsTargetSchema,
    stepFunctionsTargetSchema,
  ],
  { error: `must be one of ${TARGET_TYPES.map((t) => `"${t}"`).join(', ')}` },
);

export type Target = z.infer<typeof targetSchema>;
export type HttpTarget = Extract<Target, { type: 'http' }>;
export type LambdaTarget = Extract<Target, { type: 'lambda' }>;
export type SqsTarget = Extract<Target, { type: 'sqs' }>;
export type EventBridgeTarget = Extract<Target, { type: 'eventbridge' }>;
export type EcsTarget = Extract<Target, { type: 'ecs' }>;
export type StepFunctionsTarget = Extract<Target, { type: 'stepfunctions' }>;
/** A target that finishes later than it starts: its run is tracked to its end. */
export type LongTarget = EcsTarget | StepFunctionsTarget | (HttpTarget & { completion: 'callback' });

// What runs need of a target, kept where the worker can load it without these schemas.
export {
  DEFAULT_RUN_TIMEOUT_SECONDS,
  heartbeatTimeoutOf,
  isLongTarget,
  MAX_RUN_TIMEOUT_SECONDS,
  MIN_RUN_TIMEOUT_SECONDS,
  runTimeoutOf,
} from './job-rules.js';

/** The field that names an AWS target, for error messages. */
export function targetArnField(target: Target): string {
  switch (target.type) {
    case 'lambda':
      return 'functionArn';
    case 'sqs':
      return 'queueUrl';
    case 'ecs':
      return 'taskDefinition';
    case 'stepfunctions':
      return 'stateMachineArn';
    default:
      return 'eventBusArn';
  }
}
