/**
 * Sundial on AWS: API Gateway -> api Lambda -> DynamoDB jobs table; one EventBridge
 * Scheduler schedule per job -> SQS queue per priority (each with a DLQ) -> worker Lambda
 * -> DynamoDB runs table; long runs (ECS tasks, Step Functions executions, HTTP callbacks)
 * end in the completion function; a sweeper and a reconciler repair schedule drift. The
 * stack composes its parts, one construct each in lib/constructs/: data, scheduling, API,
 * worker, completion, maintenance and monitoring.
 *
 * Two regions (issue 16, `-c standbyRegion=`): the app makes this stack twice, the home
 * stack (global tables, the multi-Region key) and the standby stack in the standby region
 * (the same functions, queues, schedule group, API, alarms and dashboard on the replicas);
 * lib/constructs/dr.ts says what they share and how.
 */
import { type CfnElement, RemovalPolicy, Stack, type StackProps, Token, Validations } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { Api } from './constructs/api.js';
import { Completion } from './constructs/completion.js';
import { Data } from './constructs/data.js';
import {
  type DrSettings,
  drRegionsJson,
  drTableName,
  peerRegion,
  publishForStandby,
  readFromHome,
} from './constructs/dr.js';
import { Maintenance } from './constructs/maintenance.js';
import { Monitoring } from './constructs/monitoring.js';
import { logicalIdWithoutParts } from './constructs/part.js';
import { Scheduling } from './constructs/scheduling.js';
import { wildcardTargetResources } from './constructs/targets.js';
import { Worker } from './constructs/worker.js';
import { RUN_RETENTION_DAYS, RUNS_TABLE, TABLES } from './definitions.js';
import {
  type Capacity,
  DEFAULT_CAPACITY,
  type JwtContext,
  type Stage,
  type TenantLimits,
  type TraceSampling,
} from './stage.js';

export interface SundialStackProps extends StackProps {
  stage: Stage;
  /** Days a run record is kept before DynamoDB's TTL removes it. Default 30. */
  runRetentionDays?: number;
  /**
   * Lambda function, SQS queue, EventBridge bus, ECS cluster and task definition, and Step
   * Functions state machine ARNs (`*` wildcards allowed) that jobs may target. The worker is
   * granted exactly these, the completion function what watching and stopping the long ones
   * needs; none by default (HTTP targets only).
   */
  allowedTargetArns?: string[];
  /**
   * IAM roles (task and execution roles of the allowed task definitions) the worker may pass
   * to ECS when it runs a task; none by default.
   */
  ecsPassRoleArns?: string[];
  /** Per-tenant limits; each goes to the function that reads it, the defaults apply to the rest. */
  tenantLimits?: TenantLimits;
  /**
   * Graceful degradation's settings as JSON (DEGRADATION_SETTINGS: the fields to change, see
   * functions/domain/degradation.ts), from `-c degradation=`; the defaults when unset.
   */
  degradation?: string;
  /**
   * Hosts and ports (`host`, `host:port`, `host:low-high`; a bare host means 80 and 443)
   * HTTP targets and webhooks may reach even at internal addresses; none by default.
   */
  allowedHttpHosts?: string[];
  /**
   * An external OIDC issuer whose tokens the API accepts. Without one the stack makes a
   * Cognito user pool (groups admin, operator, viewer; attribute custom:tenant).
   */
  jwt?: JwtContext;
  /** Subscribed to the alarm topic. */
  alarmEmail?: string;
  /** X-Ray active tracing on the worker (every other function is always traced). Default false. */
  workerTracing?: boolean;
  /** Stage throttling, reserved concurrency and queue concurrency (`parseCapacity`); the defaults when not given. */
  capacity?: Capacity;
  /** Which API requests X-Ray traces (a sampling rule for the stage); 1 a second, then 5%, by default. */
  apiTraceSampling?: TraceSampling;
  /**
   * Two regions: which of the two stacks this is (its `env.region` must be that region) and
   * the regions. One region, as before, when not given.
   */
  dr?: DrSettings;
}

export class SundialStack extends Stack {
  readonly data: Data;
  readonly scheduling: Scheduling;
  readonly api: Api;
  readonly worker: Worker;
  readonly completion: Completion;
  readonly maintenance: Maintenance;
  readonly monitoring: Monitoring;
  /** Which element holds each logical id: two parts' resources must never share one. */
  private readonly logicalIds = new Map<string, CfnElement>();

  constructor(scope: Construct, id: string, props: SundialStackProps) {
    super(scope, id, props);
    const { stage } = props;
    const allowedTargetArns = props.allowedTargetArns ?? [];
    const ecsPassRoleArns = props.ecsPassRoleArns ?? [];
    const settings = {
      stage,
      runRetentionDays: props.runRetentionDays ?? RUN_RETENTION_DAYS,
      allowedTargetArns,
      allowedHttpHosts: props.allowedHttpHosts ?? [],
      tenantLimits: props.tenantLimits ?? {},
    };
    const removalPolicy = stage === 'prod' ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const { dr } = props;
    if (dr) {
      const expected = dr.role === 'home' ? dr.homeRegion : dr.standbyRegion;
      if (this.region !== expected) {
        throw new Error(
          `the ${dr.role} stack ${id} must be deployed to ${expected}, its env.region is ${this.region}`,
        );
      }
    }

    const data = new Data(this, 'Data', { stage, removalPolicy, ...(dr ? { dr } : {}) });
    const scheduling = new Scheduling(this, 'Scheduling', { stage, data });
    // Cognito user pools are regional: the standby has none of its own and accepts the home
    // pool's tokens (same issuer, same app client), read from the home stack's parameters.
    // Verifying them needs the home pool's JWKS, fetched from the home region: while that
    // region is down, sign in to the standby with an API key (keys live in the replicated
    // jobs table).
    const jwt =
      props.jwt ??
      (dr?.role === 'standby'
        ? {
            issuer: readFromHome(this, dr, stage, 'jwtIssuer'),
            audience: readFromHome(this, dr, stage, 'jwtAudience'),
          }
        : undefined);
    const capacity = props.capacity ?? DEFAULT_CAPACITY;
    const api = new Api(this, 'Api', {
      ...settings,
      capacity,
      removalPolicy,
      data,
      scheduling,
      ...(jwt ? { jwt } : {}),
      ...(props.apiTraceSampling ? { traceSampling: props.apiTraceSampling } : {}),
    });
    if (dr?.role === 'home' && !props.jwt) {
      publishForStandby(this, stage, 'jwtIssuer', api.jwt.issuer, "the user pool's token issuer");
      publishForStandby(this, stage, 'jwtAudience', api.jwt.audience, "the user pool's app client id");
    }
    // The API's URL (`https://<id>.execute-api.<region>.<suffix>/<stage>/`; the functions' config
    // strips the slash). The worker and the completion function depend on the API, never the reverse.
    const callbackBaseUrl = api.restApi.url;
    const worker = new Worker(this, 'Worker', {
      ...settings,
      data,
      ecsPassRoleArns,
      callbackBaseUrl,
      capacity,
      ...(props.workerTracing === undefined ? {} : { tracing: props.workerTracing }),
    });
    const completion = new Completion(this, 'Completion', { ...settings, data, callbackBaseUrl });
    const maintenance = new Maintenance(this, 'Maintenance', { ...settings, data, scheduling });
    // Schedules, run now, retries and dependents put firings on the queues; run now and retries
    // on the DLQs too.
    // A takeover's catch-up firings too (the sync function).
    const [apiRole, workerRole, completionRole, syncRole] = [
      api.function.role!,
      worker.function.role!,
      completion.function.role!,
      maintenance.sync.role!,
    ];
    data.allowSendersOnly(
      [scheduling.role, apiRole, workerRole, completionRole, syncRole],
      [apiRole, workerRole],
    );
    const handlers = [api.handler, worker.handler, completion.handler, ...maintenance.handlers];
    if (dr) for (const fn of handlers) fn.setEnvWhereRead({ drRegions: drRegionsJson(dr) });
    // A strongly consistent runs table has no TTL: every function writing runs gives them an
    // expiry shard, and the completion sweep deletes them (granted in lib/constructs/completion.ts).
    if (data.runExpiry === 'sweep') for (const fn of handlers) fn.setEnvWhereRead({ runExpiry: 'sweep' });
    if (props.degradation)
      for (const fn of handlers) fn.setEnvWhereRead({ degradationSettings: props.degradation });
    const monitoring = new Monitoring(this, 'Monitoring', {
      stage,
      queues: data.queues,
      functions: {
        api: api.function,
        worker: worker.function,
        completion: completion.function,
        sync: maintenance.sync,
        deadLetters: maintenance.deadLetters,
        reconciler: maintenance.reconciler,
      },
      restApi: api.restApi,
      completionDlq: data.completionDlq,
      syncDlq: data.syncDlq,
      ...(props.alarmEmail ? { alarmEmail: props.alarmEmail } : {}),
      ...(dr
        ? {
            dr: {
              role: dr.role,
              region: this.region,
              peerRegion: peerRegion(dr),
              // ReplicationLatency is documented for MREC replication, not MRSC's: strong, the jobs table's only.
              tables: TABLES.filter((def) => dr.consistency !== 'strong' || def.id !== RUNS_TABLE.id).map(
                (def) => ({ id: def.id.toLowerCase(), name: drTableName(stage, def.id) }),
              ),
            },
          }
        : {}),
    });
    this.data = data;
    this.scheduling = scheduling;
    this.api = api;
    this.worker = worker;
    this.completion = completion;
    this.maintenance = maintenance;
    this.monitoring = monitoring;

    this.acknowledgeNagFindings(scheduling.groupName, allowedTargetArns, ecsPassRoleArns);
  }

  /** Logical ids as they were before the parts (lib/constructs/part.ts), and never two alike. */
  protected override allocateLogicalId(element: CfnElement): string {
    const id = logicalIdWithoutParts(this, element);
    const holder = this.logicalIds.get(id);
    if (holder && holder !== element) {
      throw new Error(`${element.node.path} and ${holder.node.path} would share the logical id ${id}`);
    }
    this.logicalIds.set(id, element);
    return id;
  }

  /**
   * A resource as cdk-nag names it in a finding: the template value with `<LogicalId>` for a
   * Ref, `<LogicalId.Attribute>` for a GetAtt, joins joined.
   */
  private asNagResource(value: string): string {
    const render = (v: unknown): string => {
      if (typeof v === 'string') return v;
      const o = v as Record<string, unknown>;
      if ('Ref' in o) return `<${String(o.Ref)}>`;
      if ('Fn::GetAtt' in o) return `<${(o['Fn::GetAtt'] as string[]).join('.')}>`;
      if ('Fn::Join' in o) {
        const [separator, parts] = o['Fn::Join'] as [string, unknown[]];
        return parts.map(render).join(separator);
      }
      throw new Error(`no cdk-nag name for ${JSON.stringify(v)}`);
    };
    return render(this.resolve(value));
  }

  /** Every cdk-nag finding left is a decision; each says why. */
  private acknowledgeNagFindings(
    groupName: string,
    targetArns: readonly string[],
    passRoles: readonly string[],
  ): void {
    const nag = (finding: string) => `AwsSolutions::AwsSolutions-${finding}`;
    const literal = (value: string, placeholder: string) => (Token.isUnresolved(value) ? placeholder : value);
    const scheduleArns = `arn:${literal(this.partition, '<AWS::Partition>')}:scheduler:${literal(this.region, '<AWS::Region>')}:${literal(this.account, '<AWS::AccountId>')}:schedule/${groupName}/*`;
    const jobsIndexes = this.asNagResource(`${this.data.jobs.tableArn}/index/*`);
    const auth =
      'Every request but health is authenticated in the api Lambda: JWTs verified against the issuer (Cognito by default) or hashed API keys; an API Gateway Cognito authorizer could not accept the API keys.';
    const acknowledgements = [
      {
        id: nag(
          'IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        ),
        reason: 'The AWS-managed minimum for a Lambda function to write its own logs.',
      },
      {
        id: nag(
          'IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
        ),
        reason: 'The AWS-managed role API Gateway needs to write execution logs to CloudWatch.',
      },
      {
        id: nag('IAM5[Resource::*]'),
        reason:
          'Only xray:PutTraceSegments, xray:PutTelemetryRecords, scheduler:ListSchedules and ecs:DescribeTaskDefinition, which have no resource-level permissions, and ecs:ListTasks, which listing a cluster\'s tasks authorizes on "*" (scoped to the allowed clusters by its ecs:cluster condition).',
      },
      {
        id: nag(`IAM5[Resource::${jobsIndexes}]`),
        reason: "The jobs table's own indexes (the sync-marker index), granted with the table.",
      },
      {
        id: nag(`IAM5[Resource::${scheduleArns}]`),
        reason:
          "Sundial's schedules only: one per job, named by job id, all in Sundial's own schedule group.",
      },
      {
        id: nag('APIG2'),
        reason: 'Requests are validated in the api Lambda (zod), answering problem+json per field.',
      },
      { id: nag('APIG3'), reason: 'WAF comes with the production-hardening work; stage throttling is on.' },
      { id: nag('APIG4'), reason: auth },
      { id: nag('COG4'), reason: auth },
      {
        id: nag('COG8'),
        reason:
          'Cognito threat protection (Plus plan) is priced per user; MFA is required and self sign-up is off. Enable it for internet-facing sign-in.',
      },
    ];
    for (const arn of wildcardTargetResources(targetArns, passRoles)) {
      acknowledgements.push({
        id: nag(`IAM5[Resource::${arn}]`),
        reason:
          "A target pattern the operator allowed with -c allowedTargetArns or -c ecsPassRoleArns, or one derived from it: a function's versions and aliases, a cluster's tasks, a task definition's revisions, a state machine's executions.",
      });
    }
    for (const a of acknowledgements) Validations.of(this).acknowledge(a);
    // On this queue only: any other queue without a DLQ stays a finding.
    Validations.of(this.data.completionDlq).acknowledge({
      id: nag('SQS3'),
      reason:
        "The completion DLQ is itself a dead-letter queue: of the completion function's EventBridge rule targets and of its asynchronous invocations, not of another queue.",
    });
    Validations.of(this.data.syncDlq).acknowledge({
      id: nag('SQS3'),
      reason:
        "The sync DLQ is itself a dead-letter queue: the on-failure destination of the sync function's jobs-stream event source, not of another queue.",
    });
  }
}
