/** `npm start`: the whole of Sundial on this machine. PORT (default 3000) picks the API port. */
import { startLocalRuntime } from './runtime.js';

// The SDK warns on every start under Node 20; the README says once that 22+ is recommended.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const port = Number(process.env.PORT ?? 3000);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`PORT must be a TCP port number, got "${process.env.PORT}"`);
  process.exit(2);
}

console.log('Starting Sundial locally: DynamoDB Local, fauxqs (SQS), Scheduler emulator, API, worker…');
const runtime = await startLocalRuntime({
  port,
  logLevel: (process.env.LOG_LEVEL as 'INFO' | undefined) ?? 'INFO',
  ...(process.env.SUNDIAL_DATA_DIR ? { dbPath: process.env.SUNDIAL_DATA_DIR } : {}),
});

const api = runtime.apiUrl;
console.log(`
Sundial is running.

  API        ${api}/v1   (OpenAPI: ${api}/v1/openapi.json)
  DynamoDB   ${runtime.endpoints.dynamodb}
  SQS        ${runtime.endpoints.sqs}
  Scheduler  ${runtime.endpoints.scheduler}
  Lambda     ${runtime.endpoints.lambda}   (functions: none registered by npm start)
  Events     ${runtime.endpoints.eventBridge}   (bus: default)

  Dev key    ${runtime.devApiKey}
             (tenant "dev", role admin; a new one at every start)

Try it — a job that calls the API's own health endpoint every minute:

  export SUNDIAL_KEY=${runtime.devApiKey}
  curl -s -X POST ${api}/v1/jobs -H "authorization: Bearer $SUNDIAL_KEY" -H 'content-type: application/json' -d '{
    "name": "hello",
    "schedule": { "expression": "rate(1 minute)" },
    "target": { "type": "http", "url": "${api}/v1/health", "method": "GET" }
  }'

Press Ctrl-C to stop.
`);

let stopping = false;
const shutdown = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal} received, shutting down…`);
  await runtime.stop();
  console.log('Stopped.');
  process.exit(0);
};
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
