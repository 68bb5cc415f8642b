/**
 * The HTTP plumbing every local AWS stand-in shares (Lambda, EventBridge, ECS, Step
 * Functions): a JSON body read whole, a server on 127.0.0.1 only (invariant 9), a close
 * that does not wait for idle keep-alive connections, and an AWS JSON-protocol answer.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';

/** The request's JSON body; `empty` when there is none. */
export async function readJson(req: IncomingMessage, empty: unknown = {}): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text === '' ? empty : JSON.parse(text);
}

/** Listens on a free port of 127.0.0.1; resolves to the server's base URL. */
export function listen(server: Server): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve(`http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`);
    });
  });
}

export function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** An answer in the AWS JSON protocol (1.0 or 1.1), with the error type header on errors. */
export function sendAwsJson(
  res: ServerResponse,
  version: '1.0' | '1.1',
  status: number,
  body: unknown,
  errorType?: string,
): void {
  res
    .writeHead(status, {
      'content-type': `application/x-amz-json-${version}`,
      ...(errorType ? { 'x-amzn-errortype': errorType } : {}),
    })
    .end(JSON.stringify(body));
}
