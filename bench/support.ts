/** Pieces the benchmarks share: API events for the handler in process, latency figures, an HTTP target. */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEvent } from 'aws-lambda';

export interface BenchTarget {
  url: string;
  /** The Sundial-Callback-Url of every call that carried one (callback targets), oldest first. */
  callbackUrls: string[];
  close(): Promise<void>;
}

/** A job's HTTP target that answers 200 at once and touches nothing else, so it adds no AWS calls. */
export async function startTarget(): Promise<BenchTarget> {
  const callbackUrls: string[] = [];
  const server = createServer((req, res) => {
    const callbackUrl = req.headers['sundial-callback-url'];
    if (typeof callbackUrl === 'string') callbackUrls.push(callbackUrl);
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'));
  });
  // On the ports the local runtime lets HTTP targets be (LOCAL_HTTP_TARGETS: 8000-8999).
  for (let attempt = 0; ; attempt++) {
    const candidate = 8100 + Math.floor(Math.random() * 900);
    const listening = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(candidate, '127.0.0.1', () => resolve(true));
    });
    if (listening) break;
    if (attempt > 50) throw new Error('no free port in 8100-8999 for the benchmark target');
  }
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/run`,
    callbackUrls,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** An API Gateway proxy event as the local gateway makes it, for calling the api handler in process. */
export function apiRequest(
  key: string,
  method: string,
  pathAndQuery: string,
  body?: unknown,
): APIGatewayProxyEvent {
  const url = new URL(pathAndQuery, 'http://local');
  const query = Object.fromEntries(url.searchParams);
  return {
    httpMethod: method,
    path: url.pathname,
    queryStringParameters: Object.keys(query).length > 0 ? query : null,
    headers: { authorization: `Bearer ${key}` },
    body: body === undefined ? null : JSON.stringify(body),
    requestContext: { requestId: 'bench' },
  } as unknown as APIGatewayProxyEvent;
}

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;
/** The p-th percentile of `xs` by nearest rank (0 for none): every bench section's. */
export const percentile = (xs: readonly number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? 0;

export interface Latency {
  p50Ms: number;
  p99Ms: number;
  samples: number;
}

export function latencyOf(xs: number[]): Latency {
  return { p50Ms: round(percentile(xs, 50)), p99Ms: round(percentile(xs, 99)), samples: xs.length };
}
