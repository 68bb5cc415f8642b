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
  /**
   * Lambda traces the first invocation each second and 5% of the rest (its fixed sampling);
   * below one worker invocation a second that is every invocation, the case priced here.
   */
  tracedShareOfInvocations: 1,
};

export interface CallsPerRun {
  dynamoRcu: number;
  dynamoWcu: number;
  sqsRequests: number;
  schedulerCalls: number;
  kmsRequests?: number;
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
export function costModel(e: EndToEnd, logs: LogVolume, batchSize: number, tracing: boolean) {
  const fired = e.perOperation['scheduled run (scheduler fires into SQS)'];
  const worked = e.perOperation['scheduled run (worker: claim, call, record)'];
  const per = (x: keyof CallsPerRun) => (fired?.[x] ?? 0) + (worked?.[x] ?? 0);
  const million = 1_000_000;
  const invocations = million / batchSize;
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
    xray: tracing ? (invocations * ASSUMPTIONS.tracedShareOfInvocations * PRICES.xray.usd) / million : 0,
  };
  const total = Object.values(parts).reduce((a, b) => a + b, 0);
  const monthlyRuns = 1000 * 24 * 30;
  return {
    batchSize,
    tracing,
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
    floorPerMillionRuns: round(
      PRICES.scheduler.usd + per('sqsRequests') * PRICES.sqs.usd + 2 * PRICES.dynamoWrite.usd,
    ),
    assumptions: ASSUMPTIONS,
  };
}
