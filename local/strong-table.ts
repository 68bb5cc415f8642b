/**
 * The local stand-in for a runs table with DynamoDB multi-Region strong consistency (MRSC),
 * for two local regions: one runs table in a DynamoDB Local of its own, which both regions'
 * functions read and write, while each region keeps its own jobs table (replicated, eventually
 * consistent, by local/replicator.ts).
 *
 * One shared table is what MRSC promises its users: a write returns once it is in another
 * Region too, a strongly consistent read returns the latest write whichever Region wrote it,
 * and a conditional write is checked against that latest write, so two regions' claims of one
 * run cannot both succeed (Amazon DynamoDB Developer Guide, "How DynamoDB global tables work",
 * multi-Region strong consistency,
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/V2globaltables_HowItWorks.html).
 * Losing one region leaves the table readable and writable from the other, as an MRSC table of
 * two replicas and a witness stays when one Region is lost. What MRSC refuses, this refuses
 * too: a transaction that writes the strongly consistent table.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

type Input = {
  TableName?: string;
  RequestItems?: Record<string, unknown>;
  TransactItems?: Record<string, { TableName?: string } | undefined>[];
};

/** The tables a command names (a single-table call, a batch, or a transaction). */
function tablesOf(input: Input): string[] {
  if (input.TableName) return [input.TableName];
  if (input.RequestItems) return Object.keys(input.RequestItems);
  return (input.TransactItems ?? []).flatMap((item) =>
    Object.values(item).flatMap((op) => (op?.TableName ? [op.TableName] : [])),
  );
}

/**
 * A document client that sends what names `tableName` to `strong` and everything else to
 * `base`. A transaction on the strong table is refused, as MRSC refuses it; so is a batch
 * naming both stores, which this stand-in cannot split (Sundial sends none).
 */
export function withStrongTable(
  base: DynamoDBDocumentClient,
  tableName: string,
  strong: DynamoDBDocumentClient,
): DynamoDBDocumentClient {
  const routed = Object.create(base) as DynamoDBDocumentClient;
  const send = (command: { input: Input }, ...rest: unknown[]) => {
    const names = tablesOf(command.input);
    const onStrong = names.filter((name) => name === tableName).length;
    if (onStrong > 0 && command.input.TransactItems) {
      const error = new Error(
        `${tableName} has multi-Region strong consistency: transactions on it are not supported`,
      );
      error.name = 'ValidationException';
      return Promise.reject(error);
    }
    if (onStrong > 0 && onStrong < names.length) {
      return Promise.reject(
        new Error(`local stand-in: a batch naming ${tableName} and another table cannot be routed`),
      );
    }
    const client = onStrong > 0 ? strong : base;
    return (client.send as (...args: unknown[]) => Promise<unknown>)(command, ...rest);
  };
  Object.defineProperty(routed, 'send', { value: send });
  return routed;
}
