/**
 * Each function's configuration against the one table of variables (lib/environment.ts):
 * the table and the loader cannot drift, a function loads from exactly what the table gives
 * it, a missing or malformed variable fails the load naming it, and what is left unset takes
 * its documented default.
 */
import { describe, expect, it } from 'vitest';
import {
  CONFIG_FIELDS,
  ConfigurationError,
  configEnvKeys,
  DEFAULT_LIMITS,
  environmentFor,
  loadConfig,
  runsInProgressLimit,
} from '../../functions/commons/config.js';
import { DEFAULT_DEGRADATION } from '../../functions/domain/degradation.js';
import { defaultTenantRunsInProgress, PRIORITIES, RUN_RETENTION_DAYS } from '../../lib/definitions.js';
import {
  ENV,
  type EnvKey,
  type EnvName,
  environmentNames,
  FUNCTION_ENVIRONMENT,
  FUNCTION_IDS,
  type FunctionId,
} from '../../lib/environment.js';

const REGION = 'eu-west-1';
const ACCOUNT = '123456789012';
const arn = (service: string, resource: string) => `arn:aws:${service}:${REGION}:${ACCOUNT}:${resource}`;
const byPriority = (f: (p: string) => string) =>
  JSON.stringify(Object.fromEntries(PRIORITIES.map((p) => [p, f(p)])));

/** A value for every variable any function reads, each unlike its default. */
const VALUES: Record<EnvKey, string> = {
  jobsTable: 'sundial-prod-jobs',
  runsTable: 'sundial-prod-runs',
  scheduleGroup: 'sundial-prod',
  schedulerRole: `arn:aws:iam::${ACCOUNT}:role/sundial-prod-scheduler`,
  queueArns: byPriority((p) => arn('sqs', `sundial-${p}`)),
  queueUrlHigh: `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/sundial-high`,
  queueUrlDefault: `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/sundial-default`,
  queueUrlLow: `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/sundial-low`,
  deadLetterQueueArns: byPriority((p) => arn('sqs', `sundial-${p}-dlq`)),
  secretsKey: arn('kms', 'key/11111111-2222-3333-4444-555555555555'),
  allowedTargetArns: JSON.stringify([arn('lambda', 'function:team-*')]),
  protectedArns: JSON.stringify([arn('sqs', 'sundial-*'), arn('lambda', 'function:sundial-*')]),
  allowedHttpHosts: 'internal.example.com:8443,*.svc.local,10.0.0.5:9000-9100',
  sqsEndpoint: 'http://127.0.0.1:4566',
  callbackBaseUrl: 'https://sundial.example.com/prod',
  runRetentionDays: '7',
  runExpiry: 'sweep',
  failureTopic: arn('sns', 'sundial-failures'),
  tenantMaxJobs: '50',
  tenantJobCreatesPerMinute: '20',
  tenantRequestsPerSecond: '5',
  tenantRunsInProgress: '3',
  queueConcurrency: JSON.stringify({ high: 40, low: 8 }),
  breakerFailures: '3',
  breakerCoolDownSeconds: '30',
  breakerMaxCoolDownSeconds: '600',
  jwtIssuer: 'https://issuer.example.com',
  jwtAudience: 'sundial',
  jwtJwksUri: 'https://issuer.example.com/keys',
  jwtTenantClaim: 'org',
  jwtRoleClaim: 'sundial_role',
  consoleSignInDomain: 'https://sundial-prod.auth.eu-west-1.amazoncognito.com',
  drRegions: JSON.stringify([REGION, 'eu-central-1']),
  degradationSettings: JSON.stringify({ queueAgeSeconds: [30, 90, 150, 300], cheapPageSize: 10 }),
  region: REGION,
};

/** What the stack gives function `fn`: its listed variables, all of them set. */
const fullEnvironment = (fn: FunctionId) => environmentFor(fn, VALUES);

/** Only the variables function `fn` must have. */
const requiredOnly = (fn: FunctionId) =>
  Object.fromEntries(FUNCTION_ENVIRONMENT[fn].required.map((key) => [ENV[key], VALUES[key]]));

const without = (env: Record<string, string>, name: string) => {
  const { [name]: _removed, ...rest } = env;
  return rest;
};

/** The ConfigurationError `load` throws (fails the test when it does not throw one). */
function failure(load: () => unknown): ConfigurationError {
  try {
    load();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return error as ConfigurationError;
  }
  throw new Error('expected the configuration to be refused');
}

/** Required, but may be set empty: lists, where empty allows (or protects) nothing. */
const EMPTY_MEANS_NONE: EnvName[] = [ENV.allowedTargetArns, ENV.protectedArns, ENV.allowedHttpHosts];

const reads = (fn: FunctionId, key: EnvKey) =>
  FUNCTION_ENVIRONMENT[fn].required.includes(key) || FUNCTION_ENVIRONMENT[fn].optional.includes(key);
const readers = (key: EnvKey) => FUNCTION_IDS.filter((fn) => reads(fn, key));

describe.each(FUNCTION_IDS)('%s', (fn) => {
  const { required, optional } = environmentNames(fn);

  it('loads from the full environment the stack gives it, every setting it has', () => {
    const config = loadConfig(fn, fullEnvironment(fn));
    expect(Object.keys(config).sort()).toEqual([...CONFIG_FIELDS[fn]].sort());
  });

  it('reads exactly the variables the table lists for it (configEnvKeys = required ∪ optional)', () => {
    const table = [...FUNCTION_ENVIRONMENT[fn].required, ...FUNCTION_ENVIRONMENT[fn].optional];
    expect(new Set(table).size).toBe(table.length);
    expect([...configEnvKeys(fn)].sort()).toEqual([...table].sort());
  });

  it('needs at least one variable and reads none twice', () => {
    expect(required.length).toBeGreaterThan(0);
    expect(new Set([...required, ...optional]).size).toBe(required.length + optional.length);
  });

  it.each(required)('fails naming %s, and only it, when it is missing', (name) => {
    const error = failure(() => loadConfig(fn, without(fullEnvironment(fn), name)));
    expect(error.message).toBe(`${fn}: missing environment variables: ${name}`);
  });

  const allowlists = required.filter((name) => EMPTY_MEANS_NONE.includes(name));
  const names = required.filter((name) => !EMPTY_MEANS_NONE.includes(name));

  it.each(names)('fails naming %s when it is set but empty', (name) => {
    const error = failure(() => loadConfig(fn, { ...fullEnvironment(fn), [name]: '' }));
    expect(error.message).toContain(name);
  });

  if (allowlists.length > 0) {
    it.each(allowlists)('takes %s set but empty as an empty list (allows nothing)', (name) => {
      expect(() => loadConfig(fn, { ...fullEnvironment(fn), [name]: '' })).not.toThrow();
    });
  }

  it('names every missing variable at once, with the function', () => {
    const error = failure(() => loadConfig(fn, {}));
    expect(error.message).toBe(`${fn}: missing environment variables: ${required.join(', ')}`);
  });

  it('starts without any optional variable', () => {
    expect(() => loadConfig(fn, requiredOnly(fn))).not.toThrow();
  });

  it('is not disturbed by the variables of other functions, however malformed', () => {
    const others = Object.fromEntries(
      (Object.keys(ENV) as EnvKey[]).filter((key) => !reads(fn, key)).map((key) => [ENV[key], '{not json']),
    );
    expect(loadConfig(fn, { ...others, ...fullEnvironment(fn) })).toEqual(
      loadConfig(fn, fullEnvironment(fn)),
    );
  });

  it('is given by environmentFor only the variables it reads, with their values', () => {
    const env = environmentFor(fn, VALUES);
    expect(Object.keys(env).sort()).toEqual([...required, ...optional].sort());
    for (const [name, value] of Object.entries(env)) {
      const key = (Object.keys(ENV) as EnvKey[]).find((k) => ENV[k] === name)!;
      expect(value).toBe(VALUES[key]);
    }
  });

  it('is given by environmentFor nothing for a value that is not set', () => {
    const [first] = FUNCTION_ENVIRONMENT[fn].optional;
    const { [first!]: _unset, ...partial } = VALUES;
    expect(environmentFor(fn, partial)).toEqual(without(fullEnvironment(fn), ENV[first!]));
  });
});

describe('the settings, parsed', () => {
  it('reads each variable into its setting', () => {
    const queueArns = Object.fromEntries(PRIORITIES.map((p) => [p, arn('sqs', `sundial-${p}`)]));
    expect(loadConfig('Api', fullEnvironment('Api'))).toEqual({
      jobsTableName: VALUES.jobsTable,
      runsTableName: VALUES.runsTable,
      scheduleGroupName: VALUES.scheduleGroup,
      schedulerRoleArn: VALUES.schedulerRole,
      queueArns,
      queueUrls: { high: VALUES.queueUrlHigh, default: VALUES.queueUrlDefault, low: VALUES.queueUrlLow },
      secretsKeyId: VALUES.secretsKey,
      allowedTargetArns: [arn('lambda', 'function:team-*')],
      protectedArns: [arn('sqs', 'sundial-*'), arn('lambda', 'function:sundial-*')],
      allowedHttpHosts: ['internal.example.com:8443', '*.svc.local', '10.0.0.5:9000-9100'],
      sqsEndpoint: VALUES.sqsEndpoint,
      runRetentionDays: 7,
      runExpiry: 'sweep',
      limits: { maxJobs: 50, jobCreatesPerMinute: 20, requestsPerSecond: 5 },
      jwt: {
        issuer: VALUES.jwtIssuer,
        audience: VALUES.jwtAudience,
        jwksUri: VALUES.jwtJwksUri,
        tenantClaim: VALUES.jwtTenantClaim,
        roleClaim: VALUES.jwtRoleClaim,
      },
      consoleSignInDomain: VALUES.consoleSignInDomain,
      drRegions: [REGION, 'eu-central-1'],
      degradation: { ...DEFAULT_DEGRADATION, queueAgeSeconds: [30, 90, 150, 300], cheapPageSize: 10 },
      region: REGION,
    });
    // A bad degradation setting fails the cold start, naming the variable and the field.
    for (const [bad, field] of [
      ['{"queueAgeSeconds":[60,50,300,600]}', 'queueAgeSeconds'],
      ['{"cheapPageSize":0}', 'cheapPageSize'],
      ['{"stepDown":5}', 'stepDown is not a setting'],
      ['not json', 'not JSON'],
    ] as const) {
      expect(() => loadConfig('Worker', { ...fullEnvironment('Worker'), DEGRADATION_SETTINGS: bad })).toThrow(
        new RegExp(`DEGRADATION_SETTINGS: .*${field.replace(/[()]/g, '\\$&')}`),
      );
    }
    for (const bad of ['["eu-west-1"]', '["eu-west-1","eu-west-1"]', '["eu-west-1","not a region"]', 'x']) {
      expect(() => loadConfig('Api', { ...fullEnvironment('Api'), DR_REGIONS: bad })).toThrow(/DR_REGIONS/);
    }
    expect(loadConfig('Worker', { ...fullEnvironment('Worker'), DR_REGIONS: undefined }).drRegions).toEqual(
      [],
    );
    expect(() =>
      loadConfig('Api', { ...fullEnvironment('Api'), CONSOLE_SIGN_IN_DOMAIN: 'http://evil.example.com/x' }),
    ).toThrow(/CONSOLE_SIGN_IN_DOMAIN must be an https:\/\/ origin/);
    const worker = loadConfig('Worker', fullEnvironment('Worker'));
    expect(worker.failureTopicArn).toBe(VALUES.failureTopic);
    expect(worker.tenantRunsInProgress).toBe(3);
    expect(worker.breaker).toEqual({ failureThreshold: 3, coolDownSeconds: 30, maxCoolDownSeconds: 600 });
    expect(worker.callbackBaseUrl).toBe(VALUES.callbackBaseUrl);
    const completion = loadConfig('Completion', fullEnvironment('Completion'));
    expect(completion.callbackBaseUrl).toBe(VALUES.callbackBaseUrl);
    expect(completion.failureTopicArn).toBe(VALUES.failureTopic);
    // The archiver checks firings' MACs: in a passive region it must not make the firing key.
    expect(loadConfig('DeadLetters', fullEnvironment('DeadLetters')).drRegions).toEqual([
      REGION,
      'eu-central-1',
    ]);
    expect(loadConfig('DeadLetters', fullEnvironment('DeadLetters')).deadLetterQueueArns).toEqual(
      Object.fromEntries(PRIORITIES.map((p) => [p, arn('sqs', `sundial-${p}-dlq`)])),
    );
  });

  it('gives the optional settings their documented defaults', () => {
    const api = loadConfig('Api', requiredOnly('Api'));
    expect(api.runRetentionDays).toBe(RUN_RETENTION_DAYS);
    // DynamoDB TTL, unless the stack's runs table is strongly consistent (no TTL there).
    expect(api.runExpiry).toBe('ttl');
    expect(api.limits).toEqual(DEFAULT_LIMITS);
    expect(api.region).toBe('us-east-1');
    expect(api).not.toHaveProperty('jwt');
    expect(api).not.toHaveProperty('sqsEndpoint');

    const worker = loadConfig('Worker', requiredOnly('Worker'));
    expect(worker.runRetentionDays).toBe(RUN_RETENTION_DAYS);
    expect(worker.region).toBe('us-east-1');
    expect(worker).not.toHaveProperty('failureTopicArn');
    expect(worker).not.toHaveProperty('tenantRunsInProgress');
    expect(worker).not.toHaveProperty('sqsEndpoint');
    // The circuit breaker: 5 consecutive failures open it for 60 s, growing to 15 min.
    expect(worker.breaker).toEqual({ failureThreshold: 5, coolDownSeconds: 60, maxCoolDownSeconds: 900 });
    // Unset: half the queue's worker concurrency, per queue.
    for (const p of PRIORITIES) {
      expect(runsInProgressLimit(worker.tenantRunsInProgress, p)).toBe(defaultTenantRunsInProgress(p));
    }

    const completion = loadConfig('Completion', requiredOnly('Completion'));
    expect(completion.runRetentionDays).toBe(RUN_RETENTION_DAYS);
    expect(completion).not.toHaveProperty('failureTopicArn');
    expect(completion).not.toHaveProperty('sqsEndpoint');

    expect(loadConfig('DeadLetters', requiredOnly('DeadLetters')).runRetentionDays).toBe(RUN_RETENTION_DAYS);
    expect(loadConfig('Sync', requiredOnly('Sync')).region).toBe('us-east-1');
    expect(loadConfig('Reconciler', requiredOnly('Reconciler')).region).toBe('us-east-1');
  });

  it("follows each queue's deployed concurrency for fair share's default, and refuses a concurrency SQS would not take", () => {
    const worker = loadConfig('Worker', {
      ...requiredOnly('Worker'),
      [ENV.queueConcurrency]: JSON.stringify({ high: 40, low: 7 }),
    });
    expect(worker.queueConcurrency).toEqual({ high: 40, low: 7 });
    expect(runsInProgressLimit(worker.tenantRunsInProgress, 'high', worker.queueConcurrency)).toBe(20);
    expect(runsInProgressLimit(worker.tenantRunsInProgress, 'low', worker.queueConcurrency)).toBe(4);
    expect(runsInProgressLimit(worker.tenantRunsInProgress, 'default', worker.queueConcurrency)).toBe(
      defaultTenantRunsInProgress('default'),
    );
    expect(() =>
      loadConfig('Worker', {
        ...requiredOnly('Worker'),
        [ENV.queueConcurrency]: JSON.stringify({ high: 1 }),
      }),
    ).toThrow(/QUEUE_CONCURRENCY/);
  });

  it('takes BREAKER_FAILURES=0 as no circuit breaker, and a long first cool-down as raising the default maximum', () => {
    const off = loadConfig('Worker', { ...requiredOnly('Worker'), [ENV.breakerFailures]: '0' });
    expect(off.breaker.failureThreshold).toBe(0);
    const long = loadConfig('Worker', { ...requiredOnly('Worker'), [ENV.breakerCoolDownSeconds]: '1800' });
    expect(long.breaker).toMatchObject({ coolDownSeconds: 1800, maxCoolDownSeconds: 1800 });
    expect(() =>
      loadConfig('Worker', {
        ...requiredOnly('Worker'),
        [ENV.breakerCoolDownSeconds]: '120',
        [ENV.breakerMaxCoolDownSeconds]: '60',
      }),
    ).toThrow(/BREAKER_MAX_COOL_DOWN_SECONDS \(60\) must be at least BREAKER_COOL_DOWN_SECONDS \(120\)/);
  });

  it('takes TENANT_RUNS_IN_PROGRESS=0 as no fair share, not as unset', () => {
    const worker = loadConfig('Worker', { ...requiredOnly('Worker'), [ENV.tenantRunsInProgress]: '0' });
    expect(worker.tenantRunsInProgress).toBe(0);
    expect(runsInProgressLimit(worker.tenantRunsInProgress, 'default')).toBe(0);
  });

  it('takes CALLBACK_BASE_URL without its trailing slashes, so callback URLs have one slash', () => {
    for (const fn of ['Worker', 'Completion'] as const) {
      const config = loadConfig(fn, {
        ...requiredOnly(fn),
        [ENV.callbackBaseUrl]: 'http://127.0.0.1:3000//',
      });
      expect(config.callbackBaseUrl).toBe('http://127.0.0.1:3000');
    }
  });

  it('wants both the JWT issuer and audience, or takes no tokens', () => {
    const issuerOnly = { ...requiredOnly('Api'), [ENV.jwtIssuer]: VALUES.jwtIssuer };
    expect(loadConfig('Api', issuerOnly)).not.toHaveProperty('jwt');
    const both = { ...issuerOnly, [ENV.jwtAudience]: VALUES.jwtAudience };
    expect(loadConfig('Api', both).jwt).toEqual({ issuer: VALUES.jwtIssuer, audience: VALUES.jwtAudience });
  });

  it('takes empty allowlists, as the stack sets them by default, as allowing nothing', () => {
    // lib/constructs/{api,worker}.ts set props.allowedHttpHosts.join(','): '' unless the
    // operator allows hosts (-c allowedHttpHosts). That must start, with nothing allowed.
    for (const fn of ['Api', 'Worker'] as const) {
      const config = loadConfig(fn, {
        ...fullEnvironment(fn),
        [ENV.allowedHttpHosts]: '',
        [ENV.allowedTargetArns]: '',
      });
      expect(config.allowedHttpHosts).toEqual([]);
      expect(config.allowedTargetArns).toEqual([]);
    }
  });
});

describe('a malformed value fails the load, naming the variable', () => {
  const malformed: [EnvKey, string][] = [
    ['queueArns', '{"high": "arn:aws:sqs:eu-west-1:123456789012:q"'],
    ['queueArns', '["arn:aws:sqs:eu-west-1:123456789012:q"]'],
    ['queueArns', JSON.stringify({ high: 'a', default: 'b' })],
    ['queueArns', JSON.stringify({ high: 'a', default: 'b', low: '' })],
    ['queueArns', JSON.stringify({ high: 'a', default: 'b', low: 5 })],
    ['queueArns', 'null'],
    ['queueArns', '"arn:aws:sqs:eu-west-1:123456789012:q"'],
    ['deadLetterQueueArns', 'not json'],
    ['deadLetterQueueArns', JSON.stringify({ high: 'a', default: 'b' })],
    ['runRetentionDays', 'thirty'],
    ['runRetentionDays', '7.5'],
    ['runRetentionDays', '0'],
    ['runRetentionDays', '-3'],
    ['runExpiry', 'never'],
    ['runExpiry', 'TTL'],
    ['allowedHttpHosts', 'internal.example.com:8443,bad host!'],
    ['allowedHttpHosts', 'example.com:9000-8000'],
    ['allowedTargetArns', '["lambda:not-an-arn"]'],
    ['allowedTargetArns', 'arn:aws:lambda:*'],
    ['protectedArns', '{"a": 1}'],
    ['protectedArns', '[5]'],
    ['protectedArns', 'null'],
    ['queueConcurrency', '{"urgent": 5}'],
    ['queueConcurrency', '{"high": 1001}'],
    ['queueConcurrency', '{"high": "10"}'],
    ['queueConcurrency', '{"low": 2.5}'],
    ['queueConcurrency', '[10]'],
    ['drRegions', 'null'],
    ['drRegions', '{"0":"eu-west-1","1":"us-east-1"}'],
    ['drRegions', '["eu-west-1","us-east-1","us-west-2"]'],
    ['degradationSettings', '[60]'],
    ['degradationSettings', '{"cheapPageSize":1.5}'],
    ['degradationSettings', '{"queueAgeSeconds":[60,180,300]}'],
    ['degradationSettings', '{"queueAgeSeconds":[60,180,300,"600"]}'],
    ['degradationSettings', '{"stepDownSeconds":null}'],
    ['tenantRunsInProgress', '-1'],
    ['tenantRunsInProgress', '1.5'],
    ['tenantRunsInProgress', 'many'],
    ['breakerFailures', '-1'],
    ['breakerFailures', 'five'],
    ['breakerCoolDownSeconds', '0'],
    ['breakerMaxCoolDownSeconds', '1.5'],
    ['tenantMaxJobs', '0'],
    ['tenantJobCreatesPerMinute', '1e400'],
    ['tenantRequestsPerSecond', 'fast'],
    ['callbackBaseUrl', 'sundial.example.com'],
    ['callbackBaseUrl', 'ftp://sundial.example.com'],
    ['callbackBaseUrl', 'https://sundial example.com'],
  ];
  const cases = malformed.flatMap(([key, value]) =>
    readers(key).map((fn) => ({ fn, name: ENV[key] as EnvName, value })),
  );

  it('covers every function that reads one of them', () => {
    expect(new Set(cases.map((c) => c.fn))).toEqual(new Set(FUNCTION_IDS));
  });

  it.each(cases)('$fn refuses $name=$value', ({ fn, name, value }) => {
    const error = failure(() => loadConfig(fn, { ...fullEnvironment(fn), [name]: value }));
    expect(error.message).toContain(name);
  });
});
