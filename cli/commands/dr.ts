/**
 * `sundial dr status|failover|failback`: which region of a two-region deployment is active,
 * and moving it (issue 16). Unlike every other command these do not go through the API:
 * which region fires is the deployment's business, not a tenant's, so they read and write
 * the active-region item (pk REGION, sk ACTIVE) and the regions' heartbeats straight in each
 * region's jobs table, with the operator's own AWS credentials (IAM on the tables is what
 * authorises them). functions/usecases/regions.ts does the work; this is its terminal.
 */
import { hostname, userInfo } from 'node:os';
import { type Command, InvalidArgumentError } from 'commander';
import { ConflictError, ValidationError } from '../../functions/domain/errors.js';
import {
  type FailoverRequest,
  type Heartbeat,
  REGION_NAME,
  type RegionState,
} from '../../functions/domain/region.js';
import {
  type DrDeps,
  type DrStatus,
  drStatus,
  type FailoverResult,
  failover,
  type RegionTable,
} from '../../functions/usecases/regions.js';
import { PEER_STALE_SECONDS } from '../../lib/definitions.js';
import { type GlobalOptions, printJson, ReportedError, UsageError } from '../context.js';
import { at, cut, fields, paint, table, viewerZone } from '../format.js';

interface ConnectionOptions {
  regions?: string;
  table?: string;
  staleSeconds: number;
}

interface Deployment {
  regions: string[];
  table: string;
  endpoints: Record<string, string>;
  staleSeconds: number;
}

/** The variables that make the AWS SDK's default chain find credentials of the operator's. */
const AWS_CREDENTIAL_VARIABLES = [
  'AWS_ACCESS_KEY_ID',
  'AWS_PROFILE',
  'AWS_WEB_IDENTITY_TOKEN_FILE',
  'AWS_CONTAINER_CREDENTIALS_FULL_URI',
  'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
];

const EXAMPLE_REGIONS = 'eu-west-1,us-west-2';

/** --regions / SUNDIAL_DR_REGIONS, --table / SUNDIAL_DR_TABLE, SUNDIAL_DR_ENDPOINTS. */
export function deploymentOf(options: ConnectionOptions, env = process.env): Deployment {
  const regionsText = options.regions ?? env.SUNDIAL_DR_REGIONS;
  if (!regionsText?.trim()) {
    throw new UsageError(
      `no regions: pass --regions <home>,<standby> or set SUNDIAL_DR_REGIONS, e.g. ${EXAMPLE_REGIONS}`,
    );
  }
  const regions = regionsText
    .split(',')
    .map((r) => r.trim())
    .filter(Boolean);
  const bad = regions.find((r) => !REGION_NAME.test(r));
  if (regions.length !== 2 || new Set(regions).size !== 2 || bad) {
    throw new UsageError(
      `--regions must be the deployment's two AWS regions, the home region first, e.g. ${EXAMPLE_REGIONS} (got "${regionsText}")`,
    );
  }
  const table = (options.table ?? env.SUNDIAL_DR_TABLE)?.trim();
  if (!table) {
    throw new UsageError(
      "no jobs table: pass --table <name> or set SUNDIAL_DR_TABLE (the jobs table's name, the stack's JobsTableName output, the same in both regions)",
    );
  }
  let endpoints: Record<string, string> = {};
  if (env.SUNDIAL_DR_ENDPOINTS?.trim()) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(env.SUNDIAL_DR_ENDPOINTS);
    } catch {
      parsed = undefined;
    }
    const valid =
      typeof parsed === 'object' &&
      parsed !== null &&
      !Array.isArray(parsed) &&
      Object.entries(parsed).every(([region, url]) => regions.includes(region) && typeof url === 'string');
    if (!valid) {
      throw new UsageError(
        `SUNDIAL_DR_ENDPOINTS must be a JSON object of the regions' endpoint URLs, e.g. {"${regions[0]}": "http://127.0.0.1:8000"} (got ${env.SUNDIAL_DR_ENDPOINTS})`,
      );
    }
    endpoints = parsed as Record<string, string>;
    for (const [region, url] of Object.entries(endpoints)) {
      if (!URL.canParse(url))
        throw new UsageError(`SUNDIAL_DR_ENDPOINTS: ${region}'s endpoint "${url}" is no URL`);
    }
  }
  return { regions, table, endpoints, staleSeconds: options.staleSeconds };
}

/**
 * Each region's jobs table through a DynamoDB client of its own (the default credential
 * chain; at an endpoint of SUNDIAL_DR_ENDPOINTS with no AWS credentials set, DynamoDB
 * Local's). The SDK is loaded here, not when the CLI starts: only these commands need it.
 */
async function connect(deployment: Deployment, env = process.env): Promise<DrDeps & { close(): void }> {
  const [{ DynamoDBClient }, { DynamoDBDocumentClient }, { RegionStore }] = await Promise.all([
    import('@aws-sdk/client-dynamodb'),
    import('@aws-sdk/lib-dynamodb'),
    import('../../functions/adapters/region-store.js'),
  ]);
  const ownCredentials = AWS_CREDENTIAL_VARIABLES.some((name) => env[name]);
  const local = Object.keys(deployment.endpoints).length > 0 && !ownCredentials;
  const credentials = local ? (await import('../../local/dynamodb-local.js')).LOCAL_CREDENTIALS : undefined;
  const clients = deployment.regions.map((region) => {
    const endpoint = deployment.endpoints[region];
    return DynamoDBDocumentClient.from(
      new DynamoDBClient({
        region,
        ...(endpoint ? { endpoint } : {}),
        ...(endpoint && credentials ? { credentials } : {}),
        // A region that is down must not hold the command for minutes.
        maxAttempts: 2,
        requestHandler: { connectionTimeout: 3_000, requestTimeout: 10_000 },
      }),
      { marshallOptions: { removeUndefinedValues: true, convertEmptyValues: false } },
    );
  });
  const tables: Record<string, RegionTable> = Object.fromEntries(
    deployment.regions.map((region, i) => [
      region,
      new RegionStore(clients[i]!, deployment.table, deployment.regions),
    ]),
  );
  return {
    regions: deployment.regions,
    tables,
    clock: { now: () => new Date() },
    staleSeconds: deployment.staleSeconds,
    close: () => {
      for (const client of clients) client.destroy();
    },
  };
}

/** Runs `work` on the deployment's tables, closing the clients after. */
async function withDeployment<T>(
  options: ConnectionOptions,
  work: (deps: DrDeps, deployment: Deployment) => Promise<T>,
): Promise<T> {
  const deployment = deploymentOf(options);
  const deps = await connect(deployment);
  try {
    return await work(deps, deployment);
  } finally {
    deps.close();
  }
}

/** Who made the change, as the active item records it: the OS user at this host. */
function operator(): string {
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    user = process.env.USER || process.env.USERNAME || 'unknown';
  }
  return `${user}@${hostname()}`;
}

const staleSecondsOption = (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 86_400) throw new InvalidArgumentError('must be 1-86400 seconds');
  return n;
};

/** The options every dr command takes: where the tables are. */
function connectionOptions(command: Command): Command {
  return command
    .option(
      '--regions <home,standby>',
      `the two regions, home first (SUNDIAL_DR_REGIONS), e.g. ${EXAMPLE_REGIONS}`,
    )
    .option(
      '--table <name>',
      "the jobs table's name in both regions (SUNDIAL_DR_TABLE; output JobsTableName)",
    )
    .option(
      '--stale-seconds <n>',
      "a heartbeat older than this means its region is not running (or can't be told)",
      staleSecondsOption,
      PEER_STALE_SECONDS,
    );
}

const CONFIGURATION = `
Configuration (each region's jobs table is read and written directly, with your AWS
credentials from the SDK's default chain — AWS_PROFILE, the environment, SSO, a role —
never through the API, whose tenants' keys cannot move the active region):
  --regions, SUNDIAL_DR_REGIONS   the two regions, home first, e.g. ${EXAMPLE_REGIONS}
  --table, SUNDIAL_DR_TABLE       the jobs table (stack output JobsTableName)
  SUNDIAL_DR_ENDPOINTS            optional JSON {"<region>": "<endpoint URL>"} (DynamoDB Local;
                                  its local credentials when no AWS credentials are set)`;

const TABLE_VARIABLE = '"$TABLE"';
const READ_BY_HAND = `
Without the CLI, read the active-region item and the heartbeats in each region (repeat
with --region us-west-2); no item means the home region is active, at epoch 0:
  $ aws dynamodb get-item --region eu-west-1 --table-name ${TABLE_VARIABLE} --consistent-read \\
      --key '{"pk":{"S":"REGION"},"sk":{"S":"ACTIVE"}}'
  $ aws dynamodb query --region eu-west-1 --table-name ${TABLE_VARIABLE} --consistent-read \\
      --key-condition-expression 'pk = :pk AND begins_with(sk, :hb)' \\
      --expression-attribute-values '{":pk":{"S":"REGION"},":hb":{"S":"HEARTBEAT#"}}'`;

/** The put-item that makes `to` active, as at epoch `from` → `from + 1`, conditional on the epoch read. */
function writeByHand(region: string, to: string, previous: string, epoch: number, reason: string): string {
  return `  $ aws dynamodb put-item --region ${region} --table-name ${TABLE_VARIABLE} \\
      --item '{"pk":{"S":"REGION"},"sk":{"S":"ACTIVE"},"type":{"S":"region"},
        "activeRegion":{"S":"${to}"},"epoch":{"N":"${epoch + 1}"},"previousRegion":{"S":"${previous}"},
        "changedAt":{"S":"2027-03-01T09:15:00.000Z"},"changedBy":{"S":"alice@ops-laptop"},
        "reason":{"S":"${reason}"}}' \\
      --condition-expression '${epoch === 0 ? 'attribute_not_exists(pk) OR ' : ''}epoch = :e' --expression-attribute-values '{":e":{"N":"${epoch}"}}'`;
}

export function registerDr(program: Command): void {
  const dr = program
    .command('dr')
    .description('two-region deployments: which region is active, failover and failback (AWS credentials)')
    .addHelpText(
      'after',
      `
One region fires and takes writes at a time; these commands read and move it straight on
each region's jobs table, with your AWS credentials (see \`sundial dr status --help\`).

Examples:
  $ sundial dr status --regions ${EXAMPLE_REGIONS} --table sundial-jobs
  $ sundial dr failover --to us-west-2 --reason 'eu-west-1 SQS outage'
  $ sundial dr failback`,
    );

  connectionOptions(dr.command('status').description("each region's role, heartbeat, change of role and lag"))
    .addHelpText(
      'after',
      `
Prints the active region and its epoch, then per region: the role its heartbeat reports,
the heartbeat's age (each region's sync function writes it every minute), how far its latest
change of role got (schedules enabled or disabled, occurrences caught up, missed and
driven again), how far behind the other region's table is (replication lag), and whether
its table answered. A region that does not answer is shown, not an error: exit 0 when one
region answered, 1 when none did.
${CONFIGURATION}
${READ_BY_HAND}

Examples:
  $ sundial dr status --regions ${EXAMPLE_REGIONS} --table sundial-jobs
  $ SUNDIAL_DR_REGIONS=${EXAMPLE_REGIONS} SUNDIAL_DR_TABLE=sundial-jobs sundial dr status --json | jq .activeRegion`,
    )
    .action(async (options: ConnectionOptions, command: Command) => {
      const { json } = command.optsWithGlobals<GlobalOptions>();
      const status = await withDeployment(options, (deps) => drStatus(deps));
      if (json) printJson({ ...status, staleSeconds: options.staleSeconds });
      else out(statusText(status, options.staleSeconds));
      if (!status.views.some((v) => v.reachable)) {
        process.stderr.write(
          `error: no region's table answered (${status.views.map((v) => `${v.region}: ${v.error}`).join('; ')}); check your AWS credentials (aws sts get-caller-identity), --regions and --table\n`,
        );
        throw new ReportedError(1);
      }
    });

  connectionOptions(
    dr
      .command('failover')
      .description('make another region the active one, fencing the old one')
      .requiredOption('--to <region>', 'the region that takes over')
      .option('--force', "fail over although the active region's heartbeat is stale (it may be down)")
      .option('--reason <text>', 'why, kept on the active-region item (default "failover")')
      .option('--by <who>', 'who fails over, kept on the item (default: your user@host)'),
  )
    .addHelpText(
      'after',
      `
Refused (exit 1, with what to do) when it would leave two regions active or could not take
effect: --to is already active; its heartbeat is older than --stale-seconds (its stack is
not running); it is still changing role; its table is behind the other's; or the active
region's heartbeat is stale — it may be down, or cut off and still firing: check, then
repeat with --force to fence it through the active-region item alone.

The new item is written in --to's table first, conditional on the epoch read (two
failovers cannot both win), then the same item in the old region's: "fenced directly"
when it answers (its workers stand down at once), else it "learns by replication" (they go
passive when the item reaches it). --to then enables its schedules and handles the
occurrences in between by each job's catchUp policy; \`sundial dr status\` shows how far.
${CONFIGURATION}

Without the CLI, from eu-west-1 at epoch E to us-west-2: read both regions (sundial dr
status --help shows how); check that us-west-2's heartbeat (sk HEARTBEAT#us-west-2, its
"at") is under ${PEER_STALE_SECONDS} s old and its change (if any) is not running for epoch E, and that
eu-west-1's is too (or that eu-west-1 is down); then write, in us-west-2 first, then the
same in eu-west-1 (which may not answer):
${writeByHand('us-west-2', 'us-west-2', 'eu-west-1', 0, 'failover')}
  (the same with --region eu-west-1), as here from epoch E = 0, when the item may not exist
  yet; from epoch 1 on, :e is E, the item's epoch E + 1 and the condition 'epoch = :e'.
  A ConditionalCheckFailedException means another change won: read again.

Examples:
  $ sundial dr failover --to us-west-2 --reason 'eu-west-1 SQS outage'
  $ sundial dr failover --to us-west-2 --force --reason 'eu-west-1 unreachable since 09:12'
  $ sundial dr failover --to us-west-2 --regions ${EXAMPLE_REGIONS} --table sundial-jobs --json`,
    )
    .action(
      async (
        options: ConnectionOptions & { to: string; force?: boolean; reason?: string; by?: string },
        command: Command,
      ) => {
        const { json } = command.optsWithGlobals<GlobalOptions>();
        const result = await move(
          options,
          {
            to: options.to,
            force: Boolean(options.force),
            by: options.by?.trim() || operator(),
            ...(options.reason ? { reason: options.reason } : {}),
          },
          Boolean(json),
        );
        if (json) printJson(result);
        else out(failoverText(result, deploymentOf(options).regions[0]));
      },
    );

  connectionOptions(
    dr
      .command('failback')
      .description('make the home region (the first of --regions) active again')
      .option('--reason <text>', 'why, kept on the active-region item (default "failback")')
      .option('--by <who>', 'who fails back, kept on the item (default: your user@host)'),
  )
    .addHelpText(
      'after',
      `
A failover back to the home region, refused (exit 1) unless both regions' heartbeats are
fresh and the active region has finished taking over for the current epoch (its change of
role is done in \`sundial dr status\`). To leave an active region that is lost, run
\`sundial dr failover --to <home> --force\` instead.
${CONFIGURATION}

Without the CLI, from us-west-2 at epoch E back home to eu-west-1: read both regions
(sundial dr status --help); check both heartbeats are under ${PEER_STALE_SECONDS} s old and
us-west-2's "change" has epoch E and state "done"; then write, in eu-west-1 first, then
the same in us-west-2:
${writeByHand('eu-west-1', 'eu-west-1', 'us-west-2', 1, 'failback')}
  (the same with --region us-west-2), as here from epoch E = 1.

Examples:
  $ sundial dr failback
  $ sundial dr failback --reason 'eu-west-1 recovered' --regions ${EXAMPLE_REGIONS} --table sundial-jobs`,
    )
    .action(async (options: ConnectionOptions & { reason?: string; by?: string }, command: Command) => {
      const { json } = command.optsWithGlobals<GlobalOptions>();
      const home = deploymentOf(options).regions[0]!;
      const result = await move(
        options,
        {
          to: home,
          failback: true,
          by: options.by?.trim() || operator(),
          ...(options.reason ? { reason: options.reason } : {}),
        },
        Boolean(json),
      );
      if (json) printJson(result);
      else out(failoverText(result, home));
    });
}

/** A failover or failback; a refusal is printed and exits 1, a bad --to exits 2. */
async function move(
  options: ConnectionOptions,
  request: FailoverRequest,
  json: boolean,
): Promise<FailoverResult> {
  try {
    return await withDeployment(options, (deps) => failover(deps, request));
  } catch (error) {
    if (error instanceof ValidationError) {
      throw new UsageError(error.errors.map((e) => `--${e.field} ${e.message}`).join('; '));
    }
    if (error instanceof ConflictError) {
      process.stderr.write(`error: refused: ${error.message}\n`);
      if (json) printJson({ error: { type: 'refused', message: error.message } });
      throw new ReportedError(1);
    }
    throw error;
  }
}

const out = (text: string) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);

/** `12 s ago`, `4 min ago`, `3 h ago`, `never`. */
export function ago(seconds: number | null): string {
  if (seconds === null) return 'never';
  const s = Math.max(0, seconds);
  if (s < 120) return `${s} s ago`;
  if (s < 7_200) return `${Math.round(s / 60)} min ago`;
  if (s < 172_800) return `${Math.round(s / 3_600)} h ago`;
  return `${Math.round(s / 86_400)} days ago`;
}

function changedText(state: RegionState): string {
  if (state.epoch === 0 || !state.changedAt) return 'never failed over: the home region';
  const reason = state.reason ? `: ${state.reason}` : '';
  return `${at(state.changedAt)} by ${state.changedBy ?? 'unknown'}, from ${state.previousRegion ?? '-'}${reason}`;
}

const count = (change: NonNullable<Heartbeat['change']>, n: number) =>
  change.role === 'active' ? String(n) : '-';

export function statusText(status: DrStatus, staleSeconds: number): string {
  const lines: string[] = [];
  const newest = status.views
    .filter((v) => v.state)
    .sort((a, b) => (b.state?.epoch ?? 0) - (a.state?.epoch ?? 0))[0]?.state;
  const home = status.regions[0];
  lines.push(
    newest
      ? fields([
          [
            'Active region',
            paint('bold', `${newest.activeRegion}${newest.activeRegion === home ? ' (home)' : ''}`),
          ],
          ['Epoch', String(newest.epoch)],
          ['Changed', changedText(newest)],
        ])
      : fields([['Active region', paint('red', "unknown: no region's table answered")]]),
  );
  lines.push('');
  lines.push(
    table(
      ['REGION', 'ROLE', 'HEARTBEAT', 'REPLICATION LAG', 'TABLE'],
      status.summary.map((s) => {
        const view = status.views.find((v) => v.region === s.region);
        const expected =
          status.activeRegion === null ? null : s.region === status.activeRegion ? 'active' : 'passive';
        const role =
          s.role === 'unknown'
            ? paint('yellow', 'unknown')
            : expected && s.role !== expected
              ? paint('yellow', `${s.role} → ${expected}`)
              : paint(s.role === 'active' ? 'green' : undefined, s.role);
        const stale = s.heartbeatAgeSeconds === null || s.heartbeatAgeSeconds > staleSeconds;
        const heartbeat = stale
          ? paint('red', `${ago(s.heartbeatAgeSeconds)} (stale)`)
          : ago(s.heartbeatAgeSeconds);
        const behind =
          view?.state && newest && view.state.epoch < newest.epoch
            ? paint('yellow', `, epoch ${view.state.epoch} (behind)`)
            : '';
        const reach = view?.reachable
          ? `reachable${behind}`
          : paint('red', `unreachable: ${cut(view?.error ?? 'no answer', 70)}`);
        return [
          `${s.region}${s.region === home ? ' (home)' : ''}`,
          role,
          heartbeat,
          s.replicationLagSeconds === null ? '-' : `${s.replicationLagSeconds} s`,
          reach,
        ];
      }),
    ),
  );
  const changes = status.summary.filter((s) => s.change);
  lines.push('');
  if (changes.length === 0) {
    lines.push('Change of role: none recorded yet.');
  } else {
    lines.push('Change of role:');
    lines.push(
      table(
        [
          'REGION',
          'EPOCH',
          'TO',
          'STATE',
          'SCHEDULES',
          'CAUGHT UP',
          'MISSED',
          'REDRIVEN',
          'STARTED',
          'FINISHED',
        ],
        changes.map(({ region, change }) => {
          const c = change!;
          const state = paint(c.state === 'done' ? 'green' : c.state === 'failed' ? 'red' : 'cyan', c.state);
          return [
            region,
            String(c.epoch),
            c.role,
            state,
            String(c.schedules),
            count(c, c.caughtUp),
            count(c, c.missed),
            count(c, c.redriven),
            at(c.startedAt),
            at(c.finishedAt),
          ];
        }),
      ),
    );
    for (const { region, change } of changes) {
      if (change?.error) lines.push(paint('red', `${region}: ${change.error}`));
    }
  }
  lines.push('');
  lines.push(
    paint(
      'dim',
      `Times in ${viewerZone()}; a heartbeat older than ${staleSeconds} s is stale (its region is not running, or cannot be told).`,
    ),
  );
  return lines.join('\n');
}

export function failoverText(result: FailoverResult, home?: string): string {
  const { state } = result;
  const lines = [
    `${state.activeRegion}${state.activeRegion === home ? ' (home)' : ''} is now the active region (epoch ${state.epoch}; by ${state.changedBy}: ${state.reason}).`,
    result.fencedDirectly
      ? `${result.oldRegion} was fenced directly: its table has the new item too, so it stands down now.`
      : `${result.oldRegion} learns by replication: ${result.note ?? 'it goes passive when the item reaches it'}.`,
    `${state.activeRegion} now enables its schedules and handles the occurrences in between by each job's catchUp policy; follow it with: sundial dr status`,
  ];
  return lines.join('\n');
}
