/** The function construct's environment: set with its grant, only what the function reads, never short. */

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AttributeType, Table } from 'aws-cdk-lib/aws-dynamodb';
import { Key } from 'aws-cdk-lib/aws-kms';
import { describe, expect, it } from 'vitest';
import { PLACEHOLDER_ENV } from '../../bench/bundles.js';
import { bundleFunction, FUNCTION_ENTRY_FILE, SundialFunction } from '../../lib/constructs/function.js';
import { ENV, type EnvKey, FUNCTION_ENVIRONMENT, type FunctionId } from '../../lib/environment.js';
import { apiGatewayEvent } from '../support/events.js';

/** A stack with one Sundial function, unbundled (the construct, not the code, is under test). */
function withFunction(id: FunctionId) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'FunctionTest');
  const fn = new SundialFunction(stack, id, {
    entry: 'functions/sync.ts',
    description: `test ${id}`,
    timeout: Duration.seconds(10),
    stage: 'dev',
  });
  const table = new Table(stack, 'Table', { partitionKey: { name: 'pk', type: AttributeType.STRING } });
  const key = new Key(stack, 'Key');
  return { app, stack, fn, table, key };
}

/** Sets every other variable the function requires to a placeholder, so the stack synthesizes. */
const bindTheRest = (fn: SundialFunction, done: EnvKey[]) => {
  for (const key of FUNCTION_ENVIRONMENT[fn.id].required) if (!done.includes(key)) fn.setEnv(key, `<${key}>`);
};

const variablesOf = (stack: Stack) =>
  Object.values(
    Template.fromStack(stack).findResources('AWS::Lambda::Function') as Record<
      string,
      { Properties: { Environment: { Variables: Record<string, unknown> } } }
    >,
  )[0]!.Properties.Environment.Variables;

describe('SundialFunction.bind', () => {
  it('sets the variable and grants its permission in one call', () => {
    const { stack, fn, table, key } = withFunction('Sync');
    fn.bind('jobsTable', table.tableName, (f) => table.grant(f, 'dynamodb:GetItem'))
      .bindKey('secretsKey', key, 'kms:Decrypt')
      .setEnv('scheduleGroup', 'sundial-dev');
    bindTheRest(fn, ['jobsTable', 'secretsKey', 'scheduleGroup']);
    expect(variablesOf(stack)).toMatchObject({
      [ENV.jobsTable]: { Ref: expect.stringMatching(/^Table/) },
      [ENV.secretsKey]: { 'Fn::GetAtt': [expect.stringMatching(/^Key/), 'Arn'] },
      [ENV.scheduleGroup]: 'sundial-dev',
    });
    const statements = Object.values(Template.fromStack(stack).findResources('AWS::IAM::Policy')).flatMap(
      (p) =>
        (p as { Properties: { PolicyDocument: { Statement: { Action: unknown }[] } } }).Properties
          .PolicyDocument.Statement,
    );
    expect(statements.map((s) => s.Action)).toEqual(
      expect.arrayContaining(['dynamodb:GetItem', 'kms:Decrypt']),
    );
  });

  it('refuses a variable the function does not read, naming it', () => {
    const { fn, table } = withFunction('Reconciler');
    expect(FUNCTION_ENVIRONMENT.Reconciler.required).not.toContain('runsTable');
    expect(FUNCTION_ENVIRONMENT.Reconciler.optional).not.toContain('runsTable');
    expect(() => fn.bindTable('runsTable', table, 'dynamodb:GetItem')).toThrow(
      'Reconciler does not read RUNS_TABLE_NAME (runsTable): FUNCTION_ENVIRONMENT in lib/environment.ts lists what it reads',
    );
    expect(() => fn.setEnv('failureTopic', 'arn:aws:sns:eu-west-1:123456789012:t')).toThrow(
      /Reconciler does not read FAILURE_TOPIC_ARN/,
    );
  });

  it('never sets the region or the local SQS endpoint, though functions read them', () => {
    const { fn } = withFunction('Api');
    expect(FUNCTION_ENVIRONMENT.Api.optional).toEqual(expect.arrayContaining(['region', 'sqsEndpoint']));
    expect(() => fn.setEnv('region', 'eu-west-1')).toThrow(
      /AWS_REGION \(region\) is never set on a function/,
    );
    expect(() => fn.setEnv('sqsEndpoint', 'http://127.0.0.1:9324')).toThrow(
      /SUNDIAL_LOCAL_SQS_ORIGIN \(sqsEndpoint\) is never set on a function/,
    );
  });

  it('refuses binding a variable twice', () => {
    const { fn, table } = withFunction('Reconciler');
    fn.bindTable('jobsTable', table, 'dynamodb:Scan');
    expect(() => fn.bindTable('jobsTable', table, 'dynamodb:GetItem')).toThrow(
      'JOBS_TABLE_NAME (jobsTable) is already bound on Reconciler',
    );
  });

  it('sets only the values the function reads from a set meant for several', () => {
    const { stack, fn } = withFunction('Worker');
    fn.setEnvWhereRead({ tenantMaxJobs: '5', tenantRunsInProgress: '2' });
    bindTheRest(fn, []);
    const variables = variablesOf(stack);
    expect(variables[ENV.tenantRunsInProgress]).toBe('2');
    expect(variables).not.toHaveProperty(ENV.tenantMaxJobs);
  });

  it('fails the synth when a required variable was never bound, naming each', () => {
    const { app, fn, table, key } = withFunction('DeadLetters');
    fn.bindTable('jobsTable', table, 'dynamodb:GetItem').bindKey('secretsKey', key, 'kms:Decrypt');
    expect(() => app.synth()).toThrow(
      /RUNS_TABLE_NAME \(runsTable\) is required by DeadLetters but was never bound[\s\S]*DEAD_LETTER_QUEUE_ARNS \(deadLetterQueueArns\) is required by DeadLetters but was never bound/,
    );
  });

  it('synthesizes once every required variable is bound', () => {
    const { app, fn, table, key } = withFunction('DeadLetters');
    fn.bindTable('jobsTable', table, 'dynamodb:GetItem')
      .bindTable('runsTable', table, 'dynamodb:PutItem')
      .bindKey('secretsKey', key, 'kms:Decrypt')
      .setEnv('deadLetterQueueArns', '{}');
    expect(() => app.synth()).not.toThrow();
  });
});

describe('bundleFunction', () => {
  /** The inputs of the entry and of every chunk it imports statically: what a cold start loads. */
  const loadedAtInit = (entry: string) => {
    const outdir = mkdtempSync(join(tmpdir(), 'sundial-bundle-'));
    const { metafile } = bundleFunction(entry, outdir, { metafile: true, logLevel: 'silent' });
    const outputs = metafile?.outputs ?? {};
    const files = new Set<string>();
    const visit = (file: string) => {
      if (files.has(file)) return;
      files.add(file);
      for (const i of outputs[file]?.imports ?? [])
        if (i.kind === 'import-statement' && !i.external) visit(i.path);
    };
    const index = Object.keys(outputs).find((f) => f.endsWith(`/${FUNCTION_ENTRY_FILE}`));
    if (index) visit(index);
    const inputs = [...files].flatMap((f) => Object.keys(outputs[f]?.inputs ?? {}));
    const imports = [...files].flatMap((f) =>
      (outputs[f]?.imports ?? []).filter((i) => i.kind === 'import-statement').map((i) => i.path),
    );
    // Every input of the package, loaded at init or later.
    const packaged = Object.values(outputs).flatMap((o) => Object.keys(o.inputs));
    return { outdir, outputs: Object.keys(outputs), inputs, imports, packaged };
  };

  /** Imports the bundle in a fresh Node process, as Lambda does, and invokes its handler once. */
  const invokeBundle = (outdir: string, event: unknown) => {
    const env = { PATH: process.env.PATH, ...PLACEHOLDER_ENV, POWERTOOLS_METRICS_DISABLED: 'true' };
    const script = `const { handler } = await import(${JSON.stringify(join(outdir, FUNCTION_ENTRY_FILE))});
const out = await handler(${JSON.stringify(event)}, { functionName: 'f', awsRequestId: 'r', getRemainingTimeInMillis: () => 30000 });
const loaded = process.moduleLoadList;
console.log(JSON.stringify({ out, streams: loaded.filter((m) => m.includes('webstreams')).length, dns: loaded.includes('NativeModule dns') }));`;
    const stdout = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      env,
      encoding: 'utf8',
    });
    return JSON.parse(stdout.trim().split('\n').at(-1)!) as { out: unknown; streams: number; dns: boolean };
  };

  it("runs as deployed: the api's bundle answers a request through middy, loading neither web streams nor DNS for it", () => {
    const outdir = mkdtempSync(join(tmpdir(), 'sundial-bundle-'));
    bundleFunction('functions/api.ts', outdir, { logLevel: 'silent' });
    const { out, streams, dns } = invokeBundle(
      outdir,
      apiGatewayEvent({ method: 'GET', path: '/v1/openapi.json' }),
    );
    const response = out as { statusCode: number; body: string };
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body)).toMatchObject({ openapi: expect.stringMatching(/^3\./) });
    // node:stream/web is @middy/core's, for response streaming only: aliased, never loaded.
    expect(streams).toBe(0);
    // The allowlist is checked at load without resolving anything: node:dns waits for a lookup.
    expect(dns).toBe(false);
  });

  it('answers node:stream/web for @middy/core alone, and its ReadableStream check as Node would', async () => {
    for (const name of ['api', 'worker', 'completion', 'sync', 'deadletters', 'reconciler']) {
      const outdir = mkdtempSync(join(tmpdir(), 'sundial-bundle-'));
      const { metafile } = bundleFunction(`functions/${name}.ts`, outdir, {
        metafile: true,
        logLevel: 'silent',
      });
      const importers = Object.entries(metafile?.inputs ?? {})
        .filter(([, input]) => input.imports.some((i) => i.path.endsWith('functions/commons/stream-web.ts')))
        .map(([file]) => file);
      // Another importer would get the one-class stand-in instead of Node's web streams.
      expect(importers, name).toEqual(['node_modules/@middy/core/index.js']);
    }
    const { ReadableStream } = await import('../../functions/commons/stream-web.js');
    expect(new globalThis.ReadableStream() instanceof ReadableStream).toBe(true);
    const { Readable } = await import('node:stream');
    expect(Readable.from(['x']) instanceof ReadableStream).toBe(false);
    expect({} instanceof ReadableStream).toBe(false);
  });

  it("splits the worker: the tracer and each target type's SDK client are chunks its cold start does not load", () => {
    const { outdir, outputs, inputs, imports } = loadedAtInit('functions/worker.ts');
    expect(existsSync(join(outdir, FUNCTION_ENTRY_FILE))).toBe(true);
    expect(existsSync(join(outdir, `${FUNCTION_ENTRY_FILE}.map`))).toBe(true);
    expect(outputs.filter((o) => o.includes('/chunks/')).length).toBeGreaterThan(0);
    const loads = (pkg: string) => inputs.some((i) => i.includes(`node_modules/${pkg}/`));
    for (const pkg of [
      '@aws-sdk/client-lambda',
      '@aws-sdk/client-eventbridge',
      '@aws-sdk/client-ecs',
      '@aws-sdk/client-sfn',
      '@aws-sdk/client-sns',
      // A batch whose runs succeed at once sends no message and opens no secret it has not kept.
      '@aws-sdk/client-sqs',
      '@aws-sdk/client-kms',
      '@aws-lambda-powertools/tracer',
      'aws-xray-sdk-core',
    ]) {
      expect(loads(pkg), pkg).toBe(false);
    }
    // Starting, tracking and settling long runs (ECS, Step Functions, callbacks) come with the first.
    for (const file of ['functions/usecases/long-runs.ts', 'functions/adapters/long-targets.ts']) {
      expect(
        inputs.some((i) => i.endsWith(file)),
        file,
      ).toBe(false);
    }
    // What every batch uses is loaded at once.
    expect(loads('@aws-sdk/client-dynamodb')).toBe(true);
    // node:http is taken at the first HTTP call, not imported (an import loads Node's undici).
    expect(imports).not.toContain('node:http');
    expect(imports).not.toContain('http');
  });

  it.each(['api', 'worker', 'completion', 'sync', 'deadletters', 'reconciler'])(
    "loads neither KMS nor SQS at the %s's cold start: they come with the first secret or message",
    (name) => {
      const { inputs } = loadedAtInit(`functions/${name}.ts`);
      for (const pkg of ['@aws-sdk/client-kms', '@aws-sdk/client-sqs']) {
        expect(
          inputs.some((i) => i.includes(`node_modules/${pkg}/`)),
          pkg,
        ).toBe(false);
      }
    },
  );

  it("loads jose at the api's first token, not at its cold start: an API key never needs it", () => {
    const { inputs } = loadedAtInit('functions/api.ts');
    expect(inputs.some((i) => i.includes('node_modules/jose/'))).toBe(false);
  });

  it("loads no zod and no OpenAPI document at the api's cold start: a read of a job or a run checks no query or body", () => {
    const { inputs } = loadedAtInit('functions/api.ts');
    expect(inputs.filter((i) => i.includes('node_modules/zod/'))).toEqual([]);
    for (const file of [
      'functions/http/requests.ts',
      // The document is read at its first request.
      'functions/http/openapi.json',
      // Rare routes: their code (and their body schemas) come with their first request.
      'functions/usecases/backfill.ts',
      'functions/usecases/callbacks.ts',
      'functions/usecases/dead-letters.ts',
    ]) {
      expect(
        inputs.some((i) => i.endsWith(file)),
        file,
      ).toBe(false);
    }
  });

  it("checks the api's queries and bodies with zod/mini, never classic zod or its JSON Schema code", () => {
    const { packaged } = loadedAtInit('functions/api.ts');
    const zod = packaged.filter((i) => i.includes('node_modules/zod/'));
    expect(zod.some((i) => i.includes('/v4/mini/'))).toBe(true);
    expect(zod.filter((i) => i.includes('/v4/classic/') || i.includes('json-schema'))).toEqual([]);
  });

  it("loads the job schemas and the Scheduler client at the api's first write, not at its cold start: reads need neither", () => {
    const { inputs } = loadedAtInit('functions/api.ts');
    for (const file of ['functions/domain/job-input.ts', 'functions/domain/target.ts']) {
      expect(
        inputs.some((i) => i.endsWith(file)),
        file,
      ).toBe(false);
    }
    expect(inputs.some((i) => i.includes('node_modules/@aws-sdk/client-scheduler/'))).toBe(false);
  });

  it.each(['sync', 'reconciler'])(
    "loads two regions' role changes at the %s's first passive or two-region run, not at its cold start",
    (name) => {
      const { inputs } = loadedAtInit(`functions/${name}.ts`);
      expect(inputs.some((i) => i.endsWith('functions/usecases/region-role.ts'))).toBe(false);
    },
  );

  it.each(['worker', 'deadletters', 'completion', 'sync', 'reconciler'])(
    'loads no zod at all in the %s: the firing parser and the environment checks are written by hand',
    (name) => {
      const { inputs } = loadedAtInit(`functions/${name}.ts`);
      expect(inputs.filter((i) => i.includes('node_modules/zod/'))).toEqual([]);
      expect(inputs.some((i) => i.endsWith('functions/domain/job.ts'))).toBe(false);
      expect(inputs.some((i) => i.endsWith('functions/domain/target.ts'))).toBe(false);
    },
  );

  it('gives each function its own bundle, its entry as the handler module', () => {
    // Bundling on (the other tests skip it): CDK caches bundles within a synth by a key that
    // must name the entry, or every function would get the first one's code.
    const app = new App();
    const stack = new Stack(app, 'BundleTest');
    for (const [id, entry] of [
      ['DeadLetters', 'functions/deadletters.ts'],
      ['Reconciler', 'functions/reconciler.ts'],
    ] as const) {
      const fn = new SundialFunction(stack, id, {
        entry,
        description: id,
        timeout: Duration.seconds(10),
        stage: 'dev',
      });
      bindTheRest(fn, []);
    }
    const functions = Object.values(
      Template.fromStack(stack).findResources('AWS::Lambda::Function') as Record<
        string,
        { Properties: { Handler: string; Code: { S3Key: string } } }
      >,
    );
    expect(functions.map((f) => f.Properties.Handler)).toEqual(['index.handler', 'index.handler']);
    expect(new Set(functions.map((f) => f.Properties.Code.S3Key)).size).toBe(2);
  });
});
