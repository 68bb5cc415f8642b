import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../functions/domain/errors.js';
import { type Job, mergePatch } from '../../functions/domain/job.js';
import { validateJobInput } from '../../functions/domain/job-input.js';

const now = new Date('2026-11-23T10:00:00Z');
const FUNCTION = 'arn:aws:lambda:eu-west-1:123456789012:function:report';
const BUS = 'arn:aws:events:eu-west-1:123456789012:event-bus/orders';
const QUEUE_URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/reports';

function targetOf(target: unknown) {
  return validateJobInput({ name: 't', schedule: { expression: 'rate(1 hour)' }, target }, now).input.target;
}

function fieldsOf(target: unknown): string[] {
  try {
    targetOf(target);
  } catch (error) {
    if (error instanceof ValidationError) return error.errors.map((e) => e.field);
    throw error;
  }
  return [];
}

function errorsOf(target: unknown): { field: string; message: string }[] {
  try {
    targetOf(target);
  } catch (error) {
    if (error instanceof ValidationError) return error.errors;
    throw error;
  }
  return [];
}

describe('HTTP target headers and body', () => {
  const http = (extra: Record<string, unknown>) => ({
    type: 'http',
    url: 'https://example.com/hook',
    ...extra,
  });

  it('accepts ordinary headers, a tab and Latin-1 in values, and credentials in secretHeaders', () => {
    const target = targetOf(
      http({
        headers: { 'content-type': 'application/json', 'x-custom': 'a\tb', 'x-name': 'Renée' },
        secretHeaders: {
          Authorization: 'Bearer t',
          'proxy-authorization': 'Basic x',
          cookie: 's=1',
          'x-api-key': 'k',
        },
      }),
    );
    expect(target).toMatchObject({
      headers: { 'content-type': 'application/json', 'x-custom': 'a\tb', 'x-name': 'Renée' },
      secretHeaders: { Authorization: 'Bearer t', cookie: 's=1' },
    });
  });

  it.each([
    ['CR LF', 'a\r\nx-injected: 1'],
    ['LF', 'a\nb'],
    ['CR', 'a\rb'],
    ['NUL', 'a\u0000b'],
    ['another control character', 'a\u001bb'],
    ['DEL', 'a\u007fb'],
  ])('refuses a value with %s, naming the header', (_, value) => {
    for (const field of ['headers', 'secretHeaders']) {
      expect(errorsOf(http({ [field]: { 'x-foo': value } }))).toEqual([
        {
          field: `target.${field}.x-foo`,
          message:
            'header values must not contain CR, LF, NUL or other control characters (a tab is allowed)',
        },
      ]);
    }
  });

  it('refuses a value outside Latin-1, naming the character only when the header is not secret', () => {
    expect(errorsOf(http({ headers: { 'x-quote': 'it’s' } }))).toEqual([
      {
        field: 'target.headers.x-quote',
        message: 'header values must be Latin-1 text: HTTP cannot send U+2019 in a header',
      },
    ]);
    expect(errorsOf(http({ secretHeaders: { 'x-token': 'tök€n' } }))).toEqual([
      {
        field: 'target.secretHeaders.x-token',
        message: 'header values must be Latin-1 text: HTTP cannot send a character in a header',
      },
    ]);
  });

  it.each([
    'Host',
    'content-length',
    'Transfer-Encoding',
    'connection',
    'Keep-Alive',
    'upgrade',
    'TE',
    'trailer',
    'Proxy-Connection',
    'proxy-authenticate',
  ])('refuses the protocol header %s in headers and secretHeaders', (name) => {
    for (const field of ['headers', 'secretHeaders']) {
      const [error] = errorsOf(http({ [field]: { [name]: 'x' } }));
      expect(error?.field).toBe(`target.${field}.${name}`);
      expect(error?.message).toBe(`"${name}" is set by HTTP itself for each call; a job cannot set it`);
    }
  });

  it.each([
    'x-sundial-run-id',
    'X-Sundial-Anything',
    'Sundial-Signature',
    'sundial-callback-url',
    'Idempotency-Key',
  ])("refuses Sundial's own header %s in headers and secretHeaders", (name) => {
    for (const field of ['headers', 'secretHeaders']) {
      const [error] = errorsOf(http({ [field]: { [name]: 'x' } }));
      expect(error?.field).toBe(`target.${field}.${name}`);
      expect(error?.message).toBe(`"${name}" is set by Sundial on every call; a job cannot set it`);
    }
  });

  it.each(['authorization', 'Authorization', 'proxy-authorization', 'Cookie', 'x-api-key'])(
    'refuses the credential %s in plain headers, pointing at secretHeaders',
    (name) => {
      const [error] = errorsOf(http({ headers: { [name]: 'Bearer t' } }));
      expect(error?.field).toBe(`target.headers.${name}`);
      expect(error?.message).toMatch(/put it in secretHeaders/);
    },
  );

  it('reports each refused header at its own path, and keeps the name and size rules', () => {
    expect(
      errorsOf(http({ headers: { host: 'x', 'x-ok': 'fine', 'x-bad': 'a\nb', 'bad name': 'x' } })).map(
        (e) => e.field,
      ),
    ).toEqual(['target.headers.host', 'target.headers.x-bad', 'target.headers.bad name']);
    expect(errorsOf(http({ headers: { 'bad name': 'x' } }))[0]?.message).toBe(
      'header names must be HTTP tokens',
    );
    expect(errorsOf(http({ headers: { 'x-big': 'x'.repeat(4097) } }))).toEqual([
      { field: 'target.headers.x-big', message: 'header values must be at most 4096 characters' },
    ]);
    expect(errorsOf(http({ secretHeaders: { 'x-empty': '' } }))).toEqual([
      { field: 'target.secretHeaders.x-empty', message: 'secret header values must not be empty' },
    ]);
    const many = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`x-s${i}`, 'v']));
    expect(errorsOf(http({ secretHeaders: many }))).toEqual([
      { field: 'target.secretHeaders', message: 'at most 10 secret headers' },
    ]);
  });

  it('refuses a body on GET, and accepts GET without one', () => {
    expect(errorsOf(http({ method: 'GET', body: '{"a":1}' }))).toEqual([
      { field: 'target.body', message: 'a GET request has no body' },
    ]);
    expect(targetOf(http({ method: 'GET' }))).toMatchObject({ method: 'GET', body: null });
    expect(targetOf(http({ method: 'POST', body: '{"a":1}' }))).toMatchObject({ body: '{"a":1}' });
  });

  it('refuses a PATCH that switches to GET while a body is stored', () => {
    const { input } = validateJobInput({ name: 't', target: http({ method: 'POST', body: '{"a":1}' }) }, now);
    const job = {
      ...input,
      id: 'job_1',
      tenantId: 't',
      nextRunAt: null,
      createdAt: '',
      updatedAt: '',
      version: 1,
    };
    const merged = mergePatch(job as Job, { target: { method: 'GET' } });
    expect(() => validateJobInput(merged, now)).toThrow(ValidationError);
    try {
      validateJobInput(merged, now);
    } catch (error) {
      expect((error as ValidationError).errors).toEqual([
        { field: 'target.body', message: 'a GET request has no body' },
      ]);
    }
    // Clearing the body in the same patch is fine.
    const cleared = mergePatch(job as Job, { target: { method: 'GET', body: null } });
    expect(validateJobInput(cleared, now).input.target).toMatchObject({ method: 'GET', body: null });
  });
});

describe('AWS targets', () => {
  it('fills in defaults for a Lambda target', () => {
    expect(targetOf({ type: 'lambda', functionArn: FUNCTION })).toEqual({
      type: 'lambda',
      functionArn: FUNCTION,
      payload: {},
      timeoutSeconds: 30,
    });
  });

  it('fills in defaults for SQS and EventBridge targets', () => {
    expect(targetOf({ type: 'sqs', queueUrl: QUEUE_URL, body: 'hi' })).toEqual({
      type: 'sqs',
      queueUrl: QUEUE_URL,
      body: 'hi',
      messageAttributes: {},
      messageGroupId: null,
      timeoutSeconds: 30,
    });
    expect(
      targetOf({ type: 'eventbridge', eventBusArn: BUS, source: 'com.example', detailType: 'Tick' }),
    ).toEqual({
      type: 'eventbridge',
      eventBusArn: BUS,
      source: 'com.example',
      detailType: 'Tick',
      detail: {},
      timeoutSeconds: 30,
    });
  });

  it.each([
    [{ type: 'lambda', functionArn: 'report' }, 'target.functionArn'],
    [{ type: 'lambda', functionArn: FUNCTION, payload: 'x'.repeat(70_000) }, 'target.payload'],
    [{ type: 'lambda', functionArn: FUNCTION, url: 'https://x' }, 'target.url'],
    [{ type: 'sqs', queueUrl: 'https://example.com/queue', body: 'x' }, 'target.queueUrl'],
    [{ type: 'sqs', queueUrl: QUEUE_URL, body: '' }, 'target.body'],
    [
      { type: 'sqs', queueUrl: QUEUE_URL, body: 'x', messageAttributes: { 'sundial-run-id': 'x' } },
      'target.messageAttributes.sundial-run-id',
    ],
    [
      {
        type: 'sqs',
        queueUrl: QUEUE_URL,
        body: 'x',
        messageAttributes: Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`a${i}`, 'v'])),
      },
      'target.messageAttributes',
    ],
    [{ type: 'eventbridge', eventBusArn: 'orders', source: 's', detailType: 'd' }, 'target.eventBusArn'],
    [{ type: 'eventbridge', eventBusArn: BUS, source: 'aws.ec2', detailType: 'd' }, 'target.source'],
    [{ type: 'eventbridge', eventBusArn: BUS, source: 's', detailType: 'd', detail: [1] }, 'target.detail'],
    [{ type: 'eventbridge', eventBusArn: BUS, source: 's' }, 'target.detailType'],
  ])('rejects %j at %s', (target, field) => {
    expect(fieldsOf(target)).toContain(field);
  });
});

const CLUSTER = 'arn:aws:ecs:eu-west-1:123456789012:cluster/batch';
const TASK_DEFINITION = 'arn:aws:ecs:eu-west-1:123456789012:task-definition/import:3';
const MACHINE = 'arn:aws:states:eu-west-1:123456789012:stateMachine:pipeline';

describe('long-running targets', () => {
  const http = (extra: Record<string, unknown>) => ({
    type: 'http',
    url: 'https://example.com/hook',
    ...extra,
  });

  it('take an HTTP answer as the outcome unless the target calls back', () => {
    expect(targetOf(http({}))).toMatchObject({ completion: 'response' });
    expect(targetOf(http({}))).not.toHaveProperty('runTimeoutSeconds');
    expect(targetOf(http({ completion: 'callback' }))).toMatchObject({
      completion: 'callback',
      timeoutSeconds: 30,
    });
    expect(
      targetOf(http({ completion: 'callback', runTimeoutSeconds: 7200, heartbeatTimeoutSeconds: 300 })),
    ).toMatchObject({ runTimeoutSeconds: 7200, heartbeatTimeoutSeconds: 300 });
  });

  it('refuse a run or heartbeat timeout on a target that answers synchronously', () => {
    for (const field of ['runTimeoutSeconds', 'heartbeatTimeoutSeconds'] as const) {
      const errors = errorsOf(http({ [field]: 600 }));
      expect(errors).toEqual([
        { field: `target.${field}`, message: expect.stringMatching(/completion: "callback"/) },
      ]);
    }
    expect(fieldsOf(http({ completion: 'callback' }))).toEqual([]);
    expect(fieldsOf(http({ completion: 'later' }))).toEqual(['target.completion']);
    // A callback target patched back to a response target unsets them with null.
    expect(fieldsOf(http({ runTimeoutSeconds: null, heartbeatTimeoutSeconds: null }))).toEqual([]);
  });

  it.each([
    [{ runTimeoutSeconds: 59 }, 'target.runTimeoutSeconds'],
    [{ runTimeoutSeconds: 86_401 }, 'target.runTimeoutSeconds'],
    [{ runTimeoutSeconds: 600.5 }, 'target.runTimeoutSeconds'],
    [{ heartbeatTimeoutSeconds: 9 }, 'target.heartbeatTimeoutSeconds'],
    // A heartbeat timeout longer than the run's would never fire (default run timeout: 3,600).
    [{ heartbeatTimeoutSeconds: 3601 }, 'target.heartbeatTimeoutSeconds'],
    [{ runTimeoutSeconds: 600, heartbeatTimeoutSeconds: 601 }, 'target.heartbeatTimeoutSeconds'],
  ])('bound a callback target: %j at %s', (extra, field) => {
    expect(fieldsOf(http({ completion: 'callback', ...extra }))).toEqual([field]);
  });

  it('accept the bounds themselves', () => {
    expect(
      fieldsOf(http({ completion: 'callback', runTimeoutSeconds: 60, heartbeatTimeoutSeconds: 60 })),
    ).toEqual([]);
    expect(fieldsOf(http({ completion: 'callback', runTimeoutSeconds: 86_400 }))).toEqual([]);
    expect(fieldsOf(http({ completion: 'callback', heartbeatTimeoutSeconds: null }))).toEqual([]);
  });

  it('fill in defaults for an ECS task', () => {
    expect(
      targetOf({
        type: 'ecs',
        cluster: CLUSTER,
        taskDefinition: TASK_DEFINITION,
        containerOverrides: [{ name: 'app', command: ['python', 'x.py'] }],
      }),
    ).toEqual({
      type: 'ecs',
      cluster: CLUSTER,
      taskDefinition: TASK_DEFINITION,
      launchType: 'FARGATE',
      network: null,
      containerOverrides: [{ name: 'app', command: ['python', 'x.py'], environment: {} }],
      timeoutSeconds: 30,
      runTimeoutSeconds: 3600,
      heartbeatTimeoutSeconds: null,
    });
    expect(
      targetOf({
        type: 'ecs',
        cluster: CLUSTER,
        taskDefinition: TASK_DEFINITION,
        network: { subnets: ['subnet-0123456789abcdef0'] },
      }),
    ).toMatchObject({
      network: { subnets: ['subnet-0123456789abcdef0'], securityGroups: [], assignPublicIp: false },
    });
  });

  it('fill in defaults for a Step Functions execution', () => {
    expect(targetOf({ type: 'stepfunctions', stateMachineArn: MACHINE })).toEqual({
      type: 'stepfunctions',
      stateMachineArn: MACHINE,
      input: {},
      timeoutSeconds: 30,
      runTimeoutSeconds: 3600,
    });
  });

  const ecs = (extra: Record<string, unknown>) => ({
    type: 'ecs',
    cluster: CLUSTER,
    taskDefinition: TASK_DEFINITION,
    ...extra,
  });

  it.each([
    [ecs({ cluster: 'batch' }), 'target.cluster'],
    [ecs({ taskDefinition: 'import:3' }), 'target.taskDefinition'],
    [ecs({ launchType: 'EXTERNAL' }), 'target.launchType'],
    [ecs({ network: { subnets: [] } }), 'target.network.subnets'],
    [ecs({ network: { subnets: ['subnet-1'] } }), 'target.network.subnets.0'],
    [
      ecs({ network: { subnets: ['subnet-0123456789abcdef0'], assignPublicIp: 'yes' } }),
      'target.network.assignPublicIp',
    ],
    [ecs({ containerOverrides: [{ command: ['x'] }] }), 'target.containerOverrides.0.name'],
    [ecs({ containerOverrides: [{ name: 'app', command: [] }] }), 'target.containerOverrides.0.command'],
    [
      ecs({ containerOverrides: [{ name: 'app', environment: { SUNDIAL_RUN_ID: 'forged' } }] }),
      'target.containerOverrides.0.environment.SUNDIAL_RUN_ID',
    ],
    [
      ecs({ containerOverrides: [{ name: 'app', environment: { sundial_callback_url: 'x' } }] }),
      'target.containerOverrides.0.environment.sundial_callback_url',
    ],
    [
      ecs({ containerOverrides: [{ name: 'app', environment: { '1BAD': 'x' } }] }),
      'target.containerOverrides.0.environment.1BAD',
    ],
    [
      ecs({
        containerOverrides: [{ name: 'app', command: Array.from({ length: 3 }, () => 'x'.repeat(4000)) }],
      }),
      'target.containerOverrides',
    ],
    [ecs({ runTimeoutSeconds: 30 }), 'target.runTimeoutSeconds'],
    [ecs({ runTimeoutSeconds: 600, heartbeatTimeoutSeconds: 900 }), 'target.heartbeatTimeoutSeconds'],
    [{ type: 'stepfunctions', stateMachineArn: 'pipeline' }, 'target.stateMachineArn'],
    [
      { type: 'stepfunctions', stateMachineArn: MACHINE, heartbeatTimeoutSeconds: 60 },
      'target.heartbeatTimeoutSeconds',
    ],
    [{ type: 'stepfunctions', stateMachineArn: MACHINE, input: { a: 'x'.repeat(70_000) } }, 'target.input'],
    [
      { type: 'stepfunctions', stateMachineArn: MACHINE, runTimeoutSeconds: 100_000 },
      'target.runTimeoutSeconds',
    ],
  ])('rejects %j at %s', (target, field) => {
    expect(fieldsOf(target)).toContain(field);
  });
});
