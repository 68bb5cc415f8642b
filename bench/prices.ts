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
    what: 'CloudWatch Logs ingestion, per GB',
    usd: 0.5,
    source: 'https://aws.amazon.com/cloudwatch/pricing/',
  },
} as const;

/** Assumptions the counts cannot give: what a worker invocation takes on AWS, and log volume. */
export const ASSUMPTIONS = {
  workerMemoryGb: 0.5,
  /** Wall time of one worker invocation (a batch), most of it waiting on targets. */
  workerSecondsPerInvocation: 0.2,
  logBytesPerRun: 1500,
};

interface EndToEnd {
  perOperation: Record<
    string,
    { dynamoRcu: number; dynamoWcu: number; sqsRequests: number; schedulerCalls: number }
  >;
}

export function costModel(e: EndToEnd, batchSize = 10) {
  const fired = e.perOperation['scheduled run (scheduler fires into SQS)'];
  const worked = e.perOperation['scheduled run (worker: claim, call, record)'];
  const per = (x: keyof NonNullable<typeof worked>) => (fired?.[x] ?? 0) + (worked?.[x] ?? 0);
  const million = 1_000_000;
  const invocations = million / batchSize;
  const parts = {
    dynamodb: per('dynamoWcu') * PRICES.dynamoWrite.usd + per('dynamoRcu') * PRICES.dynamoRead.usd,
    sqs: per('sqsRequests') * PRICES.sqs.usd,
    scheduler: PRICES.scheduler.usd,
    lambda:
      (invocations / million) * PRICES.lambdaRequests.usd +
      invocations *
        ASSUMPTIONS.workerMemoryGb *
        ASSUMPTIONS.workerSecondsPerInvocation *
        PRICES.lambdaGbSecond.usd,
    logs: ((million * ASSUMPTIONS.logBytesPerRun) / 2 ** 30) * PRICES.logs.usd,
  };
  const round = (n: number) => Math.round(n * 100) / 100;
  const total = Object.values(parts).reduce((a, b) => a + b, 0);
  const monthlyRuns = 1000 * 24 * 30;
  return {
    perRun: { dynamoWcu: per('dynamoWcu'), dynamoRcu: per('dynamoRcu'), sqsRequests: per('sqsRequests') },
    perMillionRuns: {
      total: round(total),
      parts: Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, round(v)])),
    },
    per1000JobsMonthly: { runs: monthlyRuns, total: round((total * monthlyRuns) / million) },
    assumptions: ASSUMPTIONS,
  };
}
