/**
 * `npm start`: the whole of Sundial on this machine. PORT (default 3000) picks the API
 * port; ALLOWED_HTTP_HOSTS replaces the local HTTP target allowlist (LOCAL_HTTP_TARGETS).
 */
import { createServer } from 'node:http';
import { styleText } from 'node:util';
import { duration } from '../client/fire-times.js';
import type { RunEndedReport } from '../functions/adapters/run-metrics.js';
import { allowedHttpHosts } from '../functions/commons/config.js';
import { LOCAL_HTTP_TARGETS, startLocalRuntime } from './runtime.js';

// The SDK warns on every start under Node 20; the README says once that 22+ is recommended.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const port = Number(process.env.PORT ?? 3000);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`PORT must be a TCP port number, got "${process.env.PORT}"`);
  process.exit(2);
}

let allowedHosts: string[];
try {
  allowedHosts = process.env.ALLOWED_HTTP_HOSTS
    ? allowedHttpHosts(process.env.ALLOWED_HTTP_HOSTS)
    : LOCAL_HTTP_TARGETS;
} catch (error) {
  console.error(`ALLOWED_HTTP_HOSTS: ${(error as Error).message}`);
  process.exit(2);
}

const STATUS_COLOURS: Record<string, Parameters<typeof styleText>[0]> = {
  succeeded: 'green',
  failed: 'red',
  timed_out: 'red',
  cancelled: 'yellow',
  skipped: 'gray',
  missed: 'yellow',
};

/** One line per run as it ends: when, status, job, run id, how long it took. */
function printRunEnded(run: RunEndedReport): void {
  const time = new Date().toTimeString().slice(0, 8);
  // styleText leaves the text plain when stdout is not a terminal, or NO_COLOR is set.
  const status = styleText(STATUS_COLOURS[run.status] ?? 'white', run.status.padEnd(9));
  const tenant = run.tenantId === 'dev' ? '' : `  (tenant ${run.tenantId})`;
  console.log(`${time}  run ${status}  ${run.jobName}  ${run.runId}  ${duration(run.durationMs)}${tenant}`);
}

console.log('Starting Sundial locally: DynamoDB Local, fauxqs (SQS), Scheduler emulator, API, worker…');
const runtime = await startLocalRuntime({
  port,
  // Warnings and errors only: each run's end is the one line per run below (LOG_LEVEL=INFO for all).
  logLevel: (process.env.LOG_LEVEL as 'INFO' | undefined) ?? 'WARN',
  onRunEnded: printRunEnded,
  allowedHttpHosts: allowedHosts,
  ...(process.env.SUNDIAL_DATA_DIR ? { dbPath: process.env.SUNDIAL_DATA_DIR } : {}),
});

// A demo endpoint for the first job to call: it answers every request with what it got.
// Sundial's own API and emulators are never targets, so the example needs one of its own.
// Called as a callback target, it accepts, heartbeats once, and reports success 3 s later.
const echo = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    const callback = req.headers['sundial-callback-url'];
    if (typeof callback === 'string') {
      res.writeHead(202, { 'content-type': 'application/json' }).end('{"accepted":true}');
      const post = (url: string, body: unknown) =>
        fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        })
          .then((r) => r.arrayBuffer())
          .catch(() => undefined);
      setTimeout(() => void post(`${callback}/heartbeat`, { progress: 0.5, message: 'half way' }), 1_500);
      setTimeout(() => void post(callback, { status: 'succeeded', output: { echoed: req.url } }), 3_000);
      return;
    }
    const body = JSON.stringify({
      ok: true,
      method: req.method,
      path: req.url,
      runId: req.headers['x-sundial-run-id'],
    });
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
});
const echoPort = await listenInRange(echo, Number(process.env.ECHO_PORT ?? 8080));
const echoUrl = echoPort ? `http://127.0.0.1:${echoPort}` : undefined;

// A demo state machine for Step Functions targets: it returns its input after two seconds.
const demoStateMachine = runtime.stepFunctions.register('demo-pipeline', async (input, { signal }) => {
  await new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, 2_000);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(new Error('stopped'));
    });
  });
  return { processed: input };
});
const localArn = (service: string, resource: string) =>
  `arn:aws:${service}:us-east-1:000000000000:${resource}`;

const api = runtime.apiUrl;
console.log(`
Sundial is running.

  Console    ${api}/console/   (sign in with the dev key below)
  API        ${api}/v1   (OpenAPI: ${api}/v1/openapi.json)
  DynamoDB   ${runtime.endpoints.dynamodb}
  SQS        ${runtime.endpoints.sqs}
  Scheduler  ${runtime.endpoints.scheduler}
  Lambda     ${runtime.endpoints.lambda}   (functions: none registered by npm start)
  Events     ${runtime.endpoints.eventBridge}   (bus: default)
  ECS        ${runtime.endpoints.ecs}   (tasks run their container command here, output below)
  Step Fns   ${runtime.endpoints.stepFunctions}   (state machine: ${demoStateMachine})
  Echo       ${echoUrl ?? '(no free port in 8000-8999)'}   (a demo HTTP target: answers what it got)

  HTTP targets may reach ${allowedHosts.join(', ')}
  (and public hosts); never the API or the emulators above.

  Dev key    ${runtime.devApiKey}
             (tenant "dev", role admin; a new one at every start)

Try it — a job that calls the echo endpoint every minute:

  export SUNDIAL_URL=${api} SUNDIAL_API_KEY=${runtime.devApiKey}
  curl -s -X POST ${api}/v1/jobs -H "authorization: Bearer $SUNDIAL_API_KEY" -H 'content-type: application/json' -d '{
    "name": "hello",
    "schedule": { "expression": "rate(1 minute)" },
    "target": { "type": "http", "url": "${echoUrl ?? 'http://localhost:8080'}/hello", "method": "GET" }
  }'

A long run — a container command, tracked to its exit (run it now with POST …/runs):

  curl -s -X POST ${api}/v1/jobs -H "authorization: Bearer $SUNDIAL_API_KEY" -H 'content-type: application/json' -d '{
    "name": "container",
    "target": { "type": "ecs", "cluster": "${localArn('ecs', 'cluster/local')}",
      "taskDefinition": "${localArn('ecs', 'task-definition/local:1')}",
      "containerOverrides": [{ "name": "main", "command": ["sh", "-c", "echo working; sleep 5; echo done"] }] }
  }'

The CLI, with the two variables above:  npx sundial jobs list   (npx sundial --help)

Each run prints one line below as it ends. Press Ctrl-C to stop.
`);

let stopping = false;
const shutdown = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal} received, shutting down…`);
  echo.close();
  await runtime.stop();
  console.log('Stopped.');
  process.exit(0);
};
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));

/** Listens on 127.0.0.1 at the first free port from `first` up to 8999; undefined if none. */
async function listenInRange(
  server: ReturnType<typeof createServer>,
  first: number,
): Promise<number | undefined> {
  for (let p = first; p <= 8999; p++) {
    const ok = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(p, '127.0.0.1', () => resolve(true));
    });
    if (ok) return p;
  }
  return undefined;
}
