/**
 * Counts AWS calls by an SDK middleware: requests per service, and for DynamoDB the read
 * and write capacity units it reports (the middleware asks every call to return them).
 * DynamoDB Local reports 0 units for a read that finds nothing; DynamoDB bills such a read
 * its minimum (0.5 unit, 1 if strongly consistent), so the counter does too.
 */
const DYNAMO_READS = new Set([
  'GetItemCommand',
  'QueryCommand',
  'ScanCommand',
  'BatchGetItemCommand',
  'TransactGetItemsCommand',
]);
const DYNAMO_WRITES = new Set([
  'PutItemCommand',
  'UpdateItemCommand',
  'DeleteItemCommand',
  'BatchWriteItemCommand',
  'TransactWriteItemsCommand',
]);

interface Totals {
  dynamoRcu: number;
  dynamoWcu: number;
  dynamoRequests: number;
  sqsRequests: number;
  schedulerCalls: number;
  kmsRequests: number;
  otherCalls: number;
}

/** One command's calls since the last reset, with the DynamoDB units they consumed. */
export interface CommandCalls {
  calls: number;
  rcu: number;
  wcu: number;
  /**
   * Of `calls`, those that failed (a conditional write refused, a resource not found): AWS
   * bills them too, DynamoDB a refused write its minimum write unit. Only `commands()` has
   * them; the totals and `snapshot()` count successful calls, as they always have.
   */
  failed: number;
}

export interface CallCounter {
  instrument(client: { middlewareStack: { add: (...args: never[]) => void } }): void;
  reset(): void;
  /** The totals since the last reset, divided by `per` (operations), to two decimals. */
  snapshot(per: number): Totals & { byCommand: Record<string, number> };
  /** Each command's calls and units since the last reset (empty receives left out), unrounded. */
  commands(): Record<string, CommandCalls>;
}

type Capacity = { CapacityUnits?: number; ReadCapacityUnits?: number; WriteCapacityUnits?: number };

export function countCalls(): CallCounter {
  let totals: Totals = zero();
  let byCommand: Record<string, number> = {};
  let detail: Record<string, CommandCalls> = {};
  const record = (name: string, rcu: number, wcu: number, failed = false) => {
    const entry = detail[name] ?? { calls: 0, rcu: 0, wcu: 0, failed: 0 };
    detail[name] = entry;
    entry.calls++;
    entry.rcu += rcu;
    entry.wcu += wcu;
    if (failed) entry.failed++;
  };
  return {
    instrument(client) {
      const add = client.middlewareStack.add as unknown as (
        mw: (
          next: (args: { input: Record<string, unknown> }) => Promise<{ output: Record<string, unknown> }>,
          context: { clientName?: string; commandName?: string },
        ) => (args: { input: Record<string, unknown> }) => Promise<{ output: Record<string, unknown> }>,
        options: { step: string; name: string },
      ) => void;
      add(
        (next, context) => async (args) => {
          const service = context.clientName ?? 'unknown';
          const command = context.commandName ?? 'unknown';
          const dynamo = service.startsWith('DynamoDB');
          if (dynamo && (DYNAMO_READS.has(command) || DYNAMO_WRITES.has(command))) {
            args.input.ReturnConsumedCapacity ??= 'TOTAL';
          }
          let result: Awaited<ReturnType<typeof next>>;
          try {
            result = await next(args);
          } catch (error) {
            const minimumRead = args.input.ConsistentRead === true ? 1 : 0.5;
            record(
              `${service}.${command}`,
              dynamo && DYNAMO_READS.has(command) ? minimumRead : 0,
              dynamo && DYNAMO_WRITES.has(command) ? 1 : 0,
              true,
            );
            throw error;
          }
          byCommand[`${service}.${command}`] = (byCommand[`${service}.${command}`] ?? 0) + 1;
          if (dynamo) {
            totals.dynamoRequests++;
            const consumed = result.output.ConsumedCapacity as Capacity | Capacity[] | undefined;
            const units = [consumed ?? []].flat().reduce((sum, c) => sum + (c.CapacityUnits ?? 0), 0);
            const minimumRead = args.input.ConsistentRead === true ? 1 : 0.5;
            const rcu = DYNAMO_READS.has(command) ? units || minimumRead : 0;
            const wcu = DYNAMO_WRITES.has(command) ? units : 0;
            totals.dynamoRcu += rcu;
            totals.dynamoWcu += wcu;
            record(`${service}.${command}`, rcu, wcu);
          } else if (service.startsWith('SQS')) {
            // An empty receive is the poller waiting, paid per queue and second, not per run.
            const empty =
              command === 'ReceiveMessageCommand' &&
              ((result.output.Messages as unknown[]) ?? []).length === 0;
            if (!empty) {
              totals.sqsRequests++;
              record(`${service}.${command}`, 0, 0);
            }
          } else {
            if (service.startsWith('Scheduler')) totals.schedulerCalls++;
            else if (service.startsWith('KMS')) totals.kmsRequests++;
            else totals.otherCalls++;
            record(`${service}.${command}`, 0, 0);
          }
          return result;
        },
        { step: 'initialize', name: 'sundialBenchCounter' },
      );
    },
    reset() {
      totals = zero();
      byCommand = {};
      detail = {};
    },
    commands() {
      return structuredClone(detail);
    },
    snapshot(per) {
      const avg = (n: number) => Math.round((n / per) * 100) / 100;
      return {
        dynamoRcu: avg(totals.dynamoRcu),
        dynamoWcu: avg(totals.dynamoWcu),
        dynamoRequests: avg(totals.dynamoRequests),
        sqsRequests: avg(totals.sqsRequests),
        schedulerCalls: avg(totals.schedulerCalls),
        kmsRequests: avg(totals.kmsRequests),
        otherCalls: avg(totals.otherCalls),
        byCommand: Object.fromEntries(Object.entries(byCommand).map(([k, v]) => [k, avg(v)])),
      };
    },
  };
}

function zero(): Totals {
  return {
    dynamoRcu: 0,
    dynamoWcu: 0,
    dynamoRequests: 0,
    sqsRequests: 0,
    schedulerCalls: 0,
    kmsRequests: 0,
    otherCalls: 0,
  };
}
