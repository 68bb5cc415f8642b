/**
 * Starting DynamoDB Local when its port is taken between choosing it and binding it (the
 * race parallel test files run into): the start is tried again on another port, and a
 * holder that accepts connections and never answers cannot make the start hang.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type DynamoDbLocal,
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
  startDynamoDbLocal,
} from '../../local/dynamodb-local.js';
import { freePort } from '../../local/ports.js';

let rival: Server;
let taken = 0;
const sockets: Socket[] = [];

beforeAll(async () => {
  // Accepts, reads, never answers: the worst a process holding the port can do.
  rival = createServer((socket) => {
    sockets.push(socket);
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => rival.listen(0, '127.0.0.1', resolve));
  taken = (rival.address() as { port: number }).port;
});
afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise<void>((resolve) => rival.close(() => resolve()));
});

describe('startDynamoDbLocal', () => {
  it('starts again on another port when the chosen one is taken before Java binds it', async () => {
    const chosen: number[] = [];
    let dynamo: DynamoDbLocal | undefined;
    try {
      dynamo = await startDynamoDbLocal({
        choosePort: async () => {
          const port = chosen.length === 0 ? taken : await freePort();
          chosen.push(port);
          return port;
        },
      });
      expect(chosen).toHaveLength(2);
      expect(chosen[0]).toBe(taken);
      expect(dynamo.endpoint).toBe(`http://127.0.0.1:${chosen[1]}`);
      const client = new DynamoDBClient({
        endpoint: dynamo.endpoint,
        region: LOCAL_REGION,
        credentials: LOCAL_CREDENTIALS,
      });
      expect((await client.send(new ListTablesCommand({}))).TableNames).toEqual([]);
      client.destroy();
    } finally {
      await dynamo?.stop();
    }
  }, 120_000);

  it('fails with the reason, not a hang, when the port it was told to use is taken', async () => {
    await expect(startDynamoDbLocal({ port: taken })).rejects.toThrow(/did not start.*(in use|bind)/is);
  }, 120_000);
});
