/**
 * `npm run drill`: the region drill on two local regions (drill/drill.ts). Prints a short
 * report and, on its last line, `RPO <seconds> RTO <seconds> lost <n> duplicated <n>`; exits 1
 * when a check fails (the report says which), 2 on bad options.
 *
 *   DRILL_JOBS=50 DRILL_MINUTES=10 DRILL_DETECTION=3 DRILL_AFTER=3 npm run drill
 *   npm run drill -- --failback      # first a planned failover and a failback, both regions alive
 *   npm run drill -- --strong        # the runs table strongly consistent (the MRSC stand-in)
 *   DRILL_DETECTION=alarm npm run drill   # fail over when PeerHeartbeatStale would alarm
 *   DRILL_LOG=WARN npm run drill     # the regions' warnings and errors on stderr
 *   DRILL_STEPS=none npm run drill   # the clock still between ticks: a firing put back waits a minute
 */
import { DEFAULTS, type DrillOptions, formatReport, runDrill } from './drill.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

function count(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) {
    console.error(`${name}=${raw}: must be a whole number of at least ${min}`);
    process.exit(2);
  }
  return n;
}

const args = process.argv.slice(2);
for (const arg of args) {
  if (arg !== '--failback' && arg !== '--strong' && arg !== '--help') {
    console.error(`unknown option ${arg} (options: --failback, --strong, --help)`);
    process.exit(2);
  }
}
if (args.includes('--help')) {
  console.log(
    'npm run drill [-- --failback] [-- --strong]\n  --strong: the runs table strongly consistent across the regions (one shared table standing in for DynamoDB MRSC)\n  env: DRILL_JOBS (50), DRILL_MINUTES (10), DRILL_DETECTION (3, or "alarm"), DRILL_AFTER (3),\n       DRILL_FAILBACK=1 (same as --failback),\n       DRILL_STEPS (1,3,7,15,31: seconds after each tick the queues are worked; "none"), DRILL_LOG (SILENT; WARN, INFO, DEBUG)',
  );
  process.exit(0);
}
const started = performance.now();

/** DRILL_STEPS: the seconds after each tick at which the queues are worked again, or "none". */
function steps(): readonly number[] | undefined {
  const raw = process.env.DRILL_STEPS;
  if (raw === undefined || raw === '') return undefined;
  if (raw === 'none') return [];
  const list = raw.split(',').map(Number);
  if (list.some((n) => !Number.isFinite(n) || n <= 0 || n >= 45)) {
    console.error(`DRILL_STEPS=${raw}: seconds after the tick, each above 0 and below 45, or "none"`);
    process.exit(2);
  }
  return list;
}

const stepList = steps();
const detection =
  process.env.DRILL_DETECTION === 'alarm'
    ? ('alarm' as const)
    : count('DRILL_DETECTION', DEFAULTS.detection, 0);
const jobs = count('DRILL_JOBS', DEFAULTS.jobs, 1);
const failback = args.includes('--failback') || process.env.DRILL_FAILBACK === '1';
const options: DrillOptions = {
  jobs,
  minutes: count('DRILL_MINUTES', DEFAULTS.minutes, 1),
  detection,
  afterMinutes: count('DRILL_AFTER', DEFAULTS.afterMinutes, 1),
  failback: failback ? { jobs: Math.max(3, Math.ceil(jobs / 5)), minutes: 2 } : false,
  logLevel: (process.env.DRILL_LOG as DrillOptions['logLevel']) ?? 'SILENT',
  consistency: args.includes('--strong') ? 'strong' : 'eventual',
  ...(stepList ? { steps: stepList } : {}),
  progress: (line) =>
    process.stderr.write(
      `drill ${((performance.now() - started) / 1000).toFixed(1).padStart(5)} s: ${line}\n`,
    ),
};

try {
  const report = await runDrill(options);
  const lines = formatReport(report);
  const last = lines.pop()!;
  for (const line of lines) console.log(line);
  console.log(`(${((performance.now() - started) / 1000).toFixed(1)} s real in all)`);
  console.log(last);
  process.exit(report.failures.length === 0 ? 0 : 1);
} catch (error) {
  console.error('the drill could not run:', error);
  process.exit(1);
}
