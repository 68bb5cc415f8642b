/** AWS list prices (us-east-1, on-demand, after free tiers) the cost model uses, with sources. */
export const PRICES = {
  dynamoWrite: {
    what: 'DynamoDB on-demand, per million write request units',
    usd: 0.625,
    source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/',
  },
  dynamoRead: {
    what: 'DynamoDB on-demand, per million read request units',
    usd: 0.125,
    source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/',
  },
  sqs: {
    what: 'SQS standard, per million requests',
    usd: 0.4,
    source: 'https://aws.amazon.com/sqs/pricing/',
  },
  scheduler: {
    what: 'EventBridge Scheduler, per million invocations',
    usd: 1.0,
    source: 'https://aws.amazon.com/eventbridge/pricing/',
  },
  lambdaRequests: {
    what: 'Lambda, per million requests',
    usd: 0.2,
    source: 'https://aws.amazon.com/lambda/pricing/',
  },
  lambdaGbSecond: {
    what: 'Lambda arm64, per GB-second',
    usd: 0.0000133334,
    source: 'https://aws.amazon.com/lambda/pricing/',
  },
  logs: {
    what: 'CloudWatch Logs ingestion (standard class), per GB',
    usd: 0.5,
    source: 'https://aws.amazon.com/cloudwatch/pricing/',
  },
  kms: {
    what: 'KMS, per million requests',
    usd: 3.0,
    source: 'https://aws.amazon.com/kms/pricing/',
  },
  xray: {
    what: 'X-Ray, per million traces recorded',
    usd: 5.0,
    source: 'https://aws.amazon.com/xray/pricing/',
  },
} as const;

/** What the counts cannot give: what a worker invocation takes on AWS, and Lambda's own log lines. */
export const ASSUMPTIONS = {
  workerMemoryGb: 0.5,
  /** Wall time of one worker invocation (a batch; its runs' targets are called side by side). */
  workerSecondsPerInvocation: 0.2,
  /** START, END and REPORT lines Lambda writes per invocation (plus the X-Ray line when traced). */
  platformLogBytesPerInvocation: 420,
  /** Runs a month the default case is priced at, spread evenly over the month. */
  runsPerMonth: 1_000_000,
};

/**
 * Which worker invocations X-Ray records. A Scheduler firing's SQS message carries no trace
 * decision, so Lambda (active tracing) decides by its fixed rule: the first invocation each
 * second and 5% of the rest. AWS documents that rule as not configurable for a function
 * ("You can't configure the X-Ray sampling rate for your functions", Lambda developer guide,
 * services-xray); X-Ray sampling rules are honoured by API Gateway, AppSync, Step Functions
 * and the X-Ray SDK on EC2, ECS and Beanstalk, not by Lambda's own decision.
 */
export const LAMBDA_SAMPLING = {
  reservoirPerSecond: 1,
  fixedRate: 0.05,
  source: 'https://docs.aws.amazon.com/lambda/latest/dg/services-xray.html',
} as const;

/**
 * The share of invocations the rule traces at `perSecond` invocations a second, spread evenly:
 * the most it can be at that rate (firings that bunch at the top of a minute share a second's
 * reservoir, so fewer are traced).
 */
export function tracedShare(
  perSecond: number,
  rule: { reservoirPerSecond: number; fixedRate: number } = LAMBDA_SAMPLING,
) {
  if (perSecond <= rule.reservoirPerSecond) return 1;
  return (rule.reservoirPerSecond + rule.fixedRate * (perSecond - rule.reservoirPerSecond)) / perSecond;
}

const MONTH_SECONDS = 30 * 24 * 3600;

export interface CallsPerRun {
  dynamoRcu: number;
  dynamoWcu: number;
  sqsRequests: number;
  schedulerCalls: number;
  kmsRequests?: number;
  /** Calls by `Service.Command`, per run. */
  byCommand?: Record<string, number>;
}

export interface EndToEnd {
  perOperation: Record<string, CallsPerRun>;
}

export interface LogVolume {
  /** The worker's own log lines per run, as Powertools writes them with a Lambda context. */
  appBytesPerRun: number;
  /** One EMF metrics document per worker invocation (a batch). */
  emfBytesPerInvocation: number;
}

const round = (n: number) => Math.round(n * 100) / 100;

/**
 * The cost of a million scheduled runs of HTTP jobs at `batchSize`: every per-run count
 * (DynamoDB units, SQS and KMS requests) is measured; Scheduler is one invocation per run.
 */
export function costModel(
  e: EndToEnd,
  logs: LogVolume,
  batchSize: number,
  tracing: boolean,
  runsPerMonth = ASSUMPTIONS.runsPerMonth,
) {
  const fired = e.perOperation['scheduled run (scheduler fires into SQS)'];
  const worked = e.perOperation['scheduled run (worker: claim, call, record)'];
  const per = (x: Exclude<keyof CallsPerRun, 'byCommand'>) => (fired?.[x] ?? 0) + (worked?.[x] ?? 0);
  const million = 1_000_000;
  // One batch delete per worker invocation, as measured: more than runs / batch size when
  // runs are put back (fair share) and delivered again in batches of their own.
  const deletesPerRun = worked?.byCommand?.['SQSClient.DeleteMessageBatchCommand'];
  const invocationsPerRun = Math.max(1 / batchSize, deletesPerRun ?? 0);
  const invocations = million * invocationsPerRun;
  const invocationsPerSecond = (runsPerMonth * invocationsPerRun) / MONTH_SECONDS;
  const traced = tracing ? tracedShare(invocationsPerSecond) : 0;
  const logBytes =
    million * logs.appBytesPerRun +
    invocations * (logs.emfBytesPerInvocation + ASSUMPTIONS.platformLogBytesPerInvocation);
  const parts = {
    scheduler: PRICES.scheduler.usd,
    sqs: per('sqsRequests') * PRICES.sqs.usd,
    dynamodb: per('dynamoWcu') * PRICES.dynamoWrite.usd + per('dynamoRcu') * PRICES.dynamoRead.usd,
    lambda:
      (invocations / million) * PRICES.lambdaRequests.usd +
      invocations *
        ASSUMPTIONS.workerMemoryGb *
        ASSUMPTIONS.workerSecondsPerInvocation *
        PRICES.lambdaGbSecond.usd,
    logs: (logBytes / 2 ** 30) * PRICES.logs.usd,
    kms: per('kmsRequests') * PRICES.kms.usd,
    xray: (invocations * traced * PRICES.xray.usd) / million,
  };
  const total = Object.values(parts).reduce((a, b) => a + b, 0);
  const floor = PRICES.scheduler.usd + per('sqsRequests') * PRICES.sqs.usd + 2 * PRICES.dynamoWrite.usd;
  const monthlyRuns = 1000 * 24 * 30;
  return {
    batchSize,
    tracing,
    runsPerMonth,
    /** Worker invocations a second at that volume, and the share of them X-Ray records. */
    invocationsPerSecond: Math.round(invocationsPerSecond * 1000) / 1000,
    tracedShareOfInvocations: Math.round(traced * 10_000) / 10_000,
    perRun: {
      dynamoWcu: round(per('dynamoWcu')),
      dynamoRcu: round(per('dynamoRcu')),
      sqsRequests: round(per('sqsRequests')),
      logBytes: Math.round(logBytes / million),
    },
    perMillionRuns: {
      total: round(total),
      parts: Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, round(v)])),
    },
    per1000JobsMonthly: { runs: monthlyRuns, total: round((total * monthlyRuns) / million) },
    /** What no design on this shape avoids: the firing, its message, the claim and the outcome. */
    floorPerMillionRuns: round(floor),
    /**
     * The floor with what the default deployment adds and cannot shed: fair share's places
     * (the writes beyond the claim and the outcome) and the worker's invocations.
     */
    floorWithFairSharePerMillionRuns: round(
      floor + Math.max(0, per('dynamoWcu') - 2) * PRICES.dynamoWrite.usd + parts.lambda,
    ),
    assumptions: ASSUMPTIONS,
  };
}

/** Prices a long run adds to those above (us-east-1, list). */
export const LONG_RUN_PRICES = {
  apiGateway: {
    what: 'API Gateway REST API, per million requests (first 333 million a month): callbacks and heartbeats',
    usd: 3.5,
    source: 'https://aws.amazon.com/api-gateway/pricing/',
  },
  eventBridgeAwsEvents: {
    what: 'EventBridge, AWS service events (ECS task and Step Functions execution state changes) on the default bus, matched by a rule and delivered to a Lambda of the same account, per million',
    usd: 0,
    source:
      'https://aws.amazon.com/eventbridge/pricing/ (AWS management events are ingested free; same-account delivery is not charged)',
  },
  awsTargetApis: {
    what: 'ECS and Step Functions API calls (RunTask, ListTasks, DescribeTaskDefinition, DescribeTasks, StartExecution, DescribeExecution), per million',
    usd: 0,
    source:
      'https://aws.amazon.com/fargate/pricing/, https://aws.amazon.com/step-functions/pricing/ (the task and the execution are billed; their API calls are not)',
  },
} as const;

/**
 * What the counts cannot give for long runs: what an invocation of the worker, the api or
 * the completion function takes, the sweep's time per watched run it looks at, and the API
 * Gateway access log line of a callback (the stack logs `jsonWithStandardFields`).
 */
export const LONG_RUN_ASSUMPTIONS = {
  memoryGb: ASSUMPTIONS.workerMemoryGb,
  /** One message, event or request per invocation: a long run's invocations rarely share a batch. */
  secondsPerInvocation: ASSUMPTIONS.workerSecondsPerInvocation,
  /** What a look at one due run adds to the sweep invocation that is paid for anyway. */
  sweepSecondsPerLook: 0.05,
  platformLogBytesPerInvocation: ASSUMPTIONS.platformLogBytesPerInvocation,
  apiAccessLogBytesPerRequest: Buffer.byteLength(
    JSON.stringify({
      requestId: 'c6af9ac6-7b61-11e6-9a41-93e812345678',
      ip: '203.0.113.10',
      caller: '-',
      user: '-',
      requestTime: '01/Jan/2027:00:00:00 +0000',
      httpMethod: 'POST',
      resourcePath: '/{proxy+}',
      status: '204',
      protocol: 'HTTP/1.1',
      responseLength: '0',
    }),
  ),
  /** Below one invocation a second Lambda's rule traces every one (API Gateway's default rule the same). */
  tracedShareOfInvocations: 1,
};

/** What one long run made, by function: invocations (or requests, or sweep looks), calls, log bytes. */
export interface LongRunUsage {
  /** The Scheduler invocations that fired it (one). */
  schedulerInvocations: number;
  /** Worker, completion (events) and api invocations; the api's are API Gateway requests too. */
  lambdaInvocations: number;
  apiRequests: number;
  /** Runs the completion sweep looked at (inside its per-minute invocation, a fixed cost). */
  sweepLooks: number;
  dynamoRcu: number;
  dynamoWcu: number;
  sqsRequests: number;
  kmsRequests: number;
  /** The functions' own log lines and their EMF metrics documents. */
  appLogBytes: number;
}

/** The cost of a million long runs with this usage, at the prices and assumptions above. */
export function longRunCostModel(u: LongRunUsage) {
  const a = LONG_RUN_ASSUMPTIONS;
  const million = 1_000_000;
  const gbSeconds =
    u.lambdaInvocations * a.memoryGb * a.secondsPerInvocation +
    u.sweepLooks * a.memoryGb * a.sweepSecondsPerLook;
  const logBytes =
    u.appLogBytes +
    u.lambdaInvocations * a.platformLogBytesPerInvocation +
    u.apiRequests * a.apiAccessLogBytesPerRequest;
  // Per run; times a million below.
  const parts = {
    scheduler: u.schedulerInvocations * PRICES.scheduler.usd,
    sqs: u.sqsRequests * PRICES.sqs.usd,
    dynamodb: u.dynamoWcu * PRICES.dynamoWrite.usd + u.dynamoRcu * PRICES.dynamoRead.usd,
    lambda: u.lambdaInvocations * PRICES.lambdaRequests.usd + million * gbSeconds * PRICES.lambdaGbSecond.usd,
    apiGateway: u.apiRequests * LONG_RUN_PRICES.apiGateway.usd,
    logs: ((million * logBytes) / 2 ** 30) * PRICES.logs.usd,
    kms: u.kmsRequests * PRICES.kms.usd,
    xray: u.lambdaInvocations * a.tracedShareOfInvocations * PRICES.xray.usd,
    eventBridge: 0,
    targetApis: 0,
  };
  const total = Object.values(parts).reduce((x, y) => x + y, 0);
  return {
    perMillionRuns: {
      total: round(total),
      parts: Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, round(v)])) as Record<
        keyof typeof parts,
        number
      >,
    },
    perRun: { gbSeconds: Math.round(gbSeconds * 1000) / 1000, logBytes: Math.round(logBytes) },
  };
}
