/**
 * Sundial on AWS: API Gateway -> api Lambda -> DynamoDB jobs table; one EventBridge
 * Scheduler schedule per job -> SQS queue per priority (each with a DLQ) -> worker Lambda
 * -> DynamoDB runs table; a sweeper repairs schedule drift. Tables and queues come from
 * lib/definitions.ts, the same data the local runtime builds from.
 */
import {
  ArnFormat,
  type CfnElement,
  CfnOutput,
  Duration,
  RemovalPolicy,
  Stack,
  type StackProps,
  Token,
  Validations,
} from 'aws-cdk-lib';
import {
  AccessLogFormat,
  LambdaRestApi,
  LogGroupLogDestination,
  MethodLoggingLevel,
} from 'aws-cdk-lib/aws-apigateway';
import { ClientAttributes, Mfa, StringAttribute, UserPool, UserPoolGroup } from 'aws-cdk-lib/aws-cognito';
import {
  type AttributeType,
  BillingMode,
  ProjectionType,
  Table,
  TableEncryption,
} from 'aws-cdk-lib/aws-dynamodb';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import {
  AnyPrincipal,
  Effect,
  type IGrantable,
  PolicyStatement,
  Role,
  ServicePrincipal,
} from 'aws-cdk-lib/aws-iam';
import { Alias, Key } from 'aws-cdk-lib/aws-kms';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { CfnScheduleGroup } from 'aws-cdk-lib/aws-scheduler';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { functionNamePrefix, SundialFunction } from './constructs/function.js';
import { Monitoring } from './constructs/monitoring.js';
import {
  ALLOWED_TARGET_ARNS_ENV,
  DLQ_ARNS_ENV,
  JOBS_TABLE,
  PROTECTED_ARNS_ENV,
  type Priority,
  QUEUE_ARNS_ENV,
  QUEUES,
  RECONCILE_MINUTES,
  RUN_RETENTION_DAYS,
  RUNS_TABLE,
  SCHEDULE_GROUP_ENV,
  SCHEDULER_ROLE_ENV,
  SECRETS_KEY_ENV,
  SYNC_SWEEP_MINUTES,
  TABLES,
  type TableDefinition,
  WORKER_TIMEOUT_SECONDS,
} from './definitions.js';
import type { JwtContext, Stage } from './stage.js';

export interface SundialStackProps extends StackProps {
  stage: Stage;
  /** Days a run record is kept before DynamoDB's TTL removes it. Default 30. */
  runRetentionDays?: number;
  /**
   * Lambda function, SQS queue and EventBridge bus ARNs (`*` wildcards allowed) that jobs
   * may target. The worker is granted exactly these; none by default (HTTP targets only).
   */
  allowedTargetArns?: string[];
  /** Per-tenant limits as environment (TENANT_MAX_JOBS, …); the defaults apply to the rest. */
  tenantLimits?: Record<string, string>;
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
  /** X-Ray active tracing on the worker (every other function is always traced). Default true. */
  workerTracing?: boolean;
}

export class SundialStack extends Stack {
  readonly tables: Record<TableDefinition['id'], Table>;
  readonly queues: Record<Priority, { queue: Queue; dlq: Queue }>;
  readonly monitoring: Monitoring;

  constructor(scope: Construct, id: string, props: SundialStackProps) {
    super(scope, id, props);
    const { stage } = props;
    const allowedTargetArns = props.allowedTargetArns ?? [];
    const removalPolicy = stage === 'prod' ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;

    // --- data ---
    this.tables = {} as Record<TableDefinition['id'], Table>;
    for (const def of TABLES) {
      const table = new Table(this, `${def.id}Table`, {
        partitionKey: { name: def.partitionKey.name, type: def.partitionKey.type as AttributeType },
        sortKey: { name: def.sortKey.name, type: def.sortKey.type as AttributeType },
        billingMode: BillingMode.PAY_PER_REQUEST,
        // AWS-owned keys cost nothing and need no key policy; a customer key is a later option.
        encryption: TableEncryption.AWS_MANAGED,
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        ...(def.timeToLiveAttribute ? { timeToLiveAttribute: def.timeToLiveAttribute } : {}),
        deletionProtection: stage === 'prod',
        removalPolicy,
      });
      for (const index of def.globalSecondaryIndexes) {
        const nonKey = index.nonKeyAttributes ?? [];
        table.addGlobalSecondaryIndex({
          indexName: index.indexName,
          partitionKey: { name: index.partitionKey.name, type: index.partitionKey.type as AttributeType },
          ...(index.sortKey
            ? { sortKey: { name: index.sortKey.name, type: index.sortKey.type as AttributeType } }
            : {}),
          ...(nonKey.length > 0
            ? { projectionType: ProjectionType.INCLUDE, nonKeyAttributes: nonKey }
            : { projectionType: ProjectionType.KEYS_ONLY }),
        });
      }
      this.tables[def.id] = table;
    }
    const jobs = this.tables[JOBS_TABLE.id];
    const runs = this.tables[RUNS_TABLE.id];

    this.queues = {} as Record<Priority, { queue: Queue; dlq: Queue }>;
    for (const def of QUEUES) {
      const dlq = new Queue(this, `${pascal(def.dlqName)}Queue`, {
        retentionPeriod: Duration.seconds(def.dlqRetentionSeconds),
        encryption: QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        removalPolicy,
      });
      const queue = new Queue(this, `${pascal(def.name)}Queue`, {
        visibilityTimeout: Duration.seconds(def.visibilityTimeoutSeconds),
        encryption: QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        deadLetterQueue: { queue: dlq, maxReceiveCount: def.maxReceiveCount },
        removalPolicy,
      });
      this.queues[def.priority] = { queue, dlq };
    }

    // --- EventBridge Scheduler ---
    const group = new CfnScheduleGroup(this, 'ScheduleGroup', { name: `sundial-${stage}` });
    const schedulerRole = new Role(this, 'SchedulerRole', {
      description: 'Assumed by EventBridge Scheduler to deliver Sundial firings to its queues',
      assumedBy: new ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': this.account } },
      }),
    });
    schedulerRole.addToPolicy(
      new PolicyStatement({
        actions: ['sqs:SendMessage'],
        resources: QUEUES.map((q) => this.queues[q.priority].queue.queueArn),
      }),
    );
    const scheduleArns = this.formatArn({
      service: 'scheduler',
      resource: 'schedule',
      resourceName: `${group.name}/*`,
    });
    const manageSchedules = (grantee: IGrantable) => {
      grantee.grantPrincipal.addToPrincipalPolicy(
        new PolicyStatement({
          actions: [
            'scheduler:CreateSchedule',
            'scheduler:UpdateSchedule',
            'scheduler:DeleteSchedule',
            'scheduler:GetSchedule',
          ],
          resources: [scheduleArns],
        }),
      );
      grantee.grantPrincipal.addToPrincipalPolicy(
        new PolicyStatement({
          actions: ['iam:PassRole'],
          resources: [schedulerRole.roleArn],
          conditions: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
        }),
      );
    };

    // --- secrets at rest: tenants' signing secrets and secret target headers ---
    const secretsKey = new Key(this, 'SecretsKey', {
      description: `Sundial ${stage}: seals signing secrets and secret target headers`,
      enableKeyRotation: true,
      removalPolicy,
    });

    // --- identity ---
    const jwt = props.jwt ?? this.userPool(stage, removalPolicy);

    // --- notifications ---
    const failureTopic = new Topic(this, 'FailureTopic', {
      displayName: `Sundial ${stage}: runs that finally failed`,
      // The AWS-managed SNS key: encrypted at rest with no key policy to keep.
      masterKey: Alias.fromAliasName(this, 'AwsManagedSnsKey', 'alias/aws/sns'),
      enforceSSL: true,
    });

    // --- functions ---
    // Sundial's own resources, never a target whatever an allowlist says (invariant 9). The
    // functions by their name pattern (see functionNamePrefix): an exact ARN of each would
    // put a function's own ARN in its environment, a circular dependency.
    const protectedArns = [
      ...QUEUES.flatMap((q) => [
        this.queues[q.priority].queue.queueArn,
        this.queues[q.priority].dlq.queueArn,
      ]),
      ...TABLES.flatMap((def) => [this.tables[def.id].tableArn, `${this.tables[def.id].tableArn}/*`]),
      failureTopic.topicArn,
      this.formatArn({
        service: 'lambda',
        resource: 'function',
        resourceName: `${functionNamePrefix(stage)}*`,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      }),
    ];
    const environment: Record<string, string> = {
      [JOBS_TABLE.envVar]: jobs.tableName,
      [RUNS_TABLE.envVar]: runs.tableName,
      [SCHEDULE_GROUP_ENV]: group.name!,
      [SCHEDULER_ROLE_ENV]: schedulerRole.roleArn,
      [QUEUE_ARNS_ENV]: this.toJsonString(
        Object.fromEntries(QUEUES.map((q) => [q.priority, this.queues[q.priority].queue.queueArn])),
      ),
      RUN_RETENTION_DAYS: String(props.runRetentionDays ?? RUN_RETENTION_DAYS),
      [ALLOWED_TARGET_ARNS_ENV]: JSON.stringify(allowedTargetArns),
      [SECRETS_KEY_ENV]: secretsKey.keyArn,
      [PROTECTED_ARNS_ENV]: this.toJsonString(protectedArns),
      ALLOWED_HTTP_HOSTS: (props.allowedHttpHosts ?? []).join(','),
      ...props.tenantLimits,
      JWT_ISSUER: jwt.issuer,
      JWT_AUDIENCE: jwt.audience,
      ...(jwt.jwksUri ? { JWT_JWKS_URI: jwt.jwksUri } : {}),
      ...(jwt.tenantClaim ? { JWT_TENANT_CLAIM: jwt.tenantClaim } : {}),
      ...(jwt.roleClaim ? { JWT_ROLE_CLAIM: jwt.roleClaim } : {}),
      FAILURE_TOPIC_ARN: failureTopic.topicArn,
      ...Object.fromEntries(QUEUES.map((q) => [q.envVar, this.queues[q.priority].queue.queueUrl])),
    };

    const api = new SundialFunction(this, 'Api', {
      entry: 'functions/api.ts',
      description: 'Sundial job API',
      timeout: Duration.seconds(29),
      environment,
      stage,
    }).function;
    jobs.grantReadWriteData(api);
    runs.grant(api, 'dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:PutItem');
    // "Run now" queues a manual run on the job's priority queue.
    for (const def of QUEUES) this.queues[def.priority].queue.grantSendMessages(api);
    manageSchedules(api);
    // Seals secret headers and signing secrets; opens the signing secret for admins.
    secretsKey.grant(api, 'kms:Encrypt', 'kms:Decrypt');

    const worker = new SundialFunction(this, 'Worker', {
      entry: 'functions/worker.ts',
      description: 'Sundial worker: runs firings and records their runs',
      timeout: Duration.seconds(WORKER_TIMEOUT_SECONDS),
      environment,
      stage,
      tracing: props.workerTracing ?? true,
    }).function;
    // Query: the dependents of a job whose run succeeded.
    jobs.grant(worker, 'dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:UpdateItem');
    this.grantTargets(worker, allowedTargetArns);
    // Opens secret headers and signing secrets; makes a tenant's first signing secret.
    secretsKey.grant(worker, 'kms:Encrypt', 'kms:Decrypt');
    runs.grant(worker, 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem');
    failureTopic.grantPublish(worker);
    // Retries go back on the job's priority queue.
    for (const def of QUEUES) this.queues[def.priority].queue.grantSendMessages(worker);
    for (const def of QUEUES) {
      worker.addEventSource(
        new SqsEventSource(this.queues[def.priority].queue, {
          batchSize: def.batchSize,
          reportBatchItemFailures: true,
          maxConcurrency: def.maxConcurrency,
        }),
      );
    }

    const deadLetters = new SundialFunction(this, 'DeadLetters', {
      entry: 'functions/deadletters.ts',
      description: 'Sundial dead-letter archiver: records what the queues gave up on, per tenant',
      timeout: Duration.seconds(30),
      environment: {
        ...environment,
        [DLQ_ARNS_ENV]: this.toJsonString(
          Object.fromEntries(QUEUES.map((q) => [q.priority, this.queues[q.priority].dlq.queueArn])),
        ),
      },
      stage,
    }).function;
    runs.grant(deadLetters, 'dynamodb:GetItem', 'dynamodb:PutItem');
    // Verifies firing signatures: reads the deployment's signing key from the jobs table and
    // opens it; it never makes one (worker, sync and reconciler create it on first use).
    jobs.grant(deadLetters, 'dynamodb:GetItem');
    secretsKey.grant(deadLetters, 'kms:Decrypt');
    for (const def of QUEUES) {
      deadLetters.addEventSource(
        new SqsEventSource(this.queues[def.priority].dlq, { batchSize: 10, reportBatchItemFailures: true }),
      );
    }
    // Redrive (through the API) updates the dead-letter records.
    runs.grant(api, 'dynamodb:UpdateItem');

    const sync = new SundialFunction(this, 'Sync', {
      entry: 'functions/sync.ts',
      description: 'Sundial schedule-sync sweeper: repairs schedules a crash left behind',
      timeout: Duration.seconds(60),
      environment,
      stage,
    }).function;
    jobs.grant(sync, 'dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem');
    manageSchedules(sync);
    // Signs the firing messages of the schedules it writes: seals the deployment's signing
    // key on first use (a conditional UpdateItem on the jobs table) and opens it after.
    secretsKey.grant(sync, 'kms:Encrypt', 'kms:Decrypt');
    new Rule(this, 'SyncSweepRule', {
      description: 'Runs the Sundial schedule-sync sweeper',
      schedule: Schedule.rate(Duration.minutes(SYNC_SWEEP_MINUTES)),
      targets: [new LambdaFunction(sync, { retryAttempts: 2 })],
    });

    const reconciler = new SundialFunction(this, 'Reconciler', {
      entry: 'functions/reconciler.ts',
      description: 'Sundial reconciler: repairs drift between the jobs table and the schedules',
      timeout: Duration.minutes(15),
      environment,
      stage,
    }).function;
    // Scan to compare; GetItem and UpdateItem to re-read a job before repairing it and to
    // record when its schedule was last written or checked (scheduleSyncedAt).
    jobs.grant(reconciler, 'dynamodb:Scan', 'dynamodb:GetItem', 'dynamodb:UpdateItem');
    manageSchedules(reconciler);
    // Signs firing messages like the sync sweeper: seals or opens the deployment's signing key.
    secretsKey.grant(reconciler, 'kms:Encrypt', 'kms:Decrypt');
    reconciler.addToRolePolicy(
      new PolicyStatement({
        // ListSchedules has no resource-level permission: it is authorised on "*" only.
        actions: ['scheduler:ListSchedules'],
        resources: ['*'],
      }),
    );
    new Rule(this, 'ReconcileRule', {
      description: 'Runs the Sundial reconciler',
      schedule: Schedule.rate(Duration.minutes(RECONCILE_MINUTES)),
      targets: [new LambdaFunction(reconciler, { retryAttempts: 0 })],
    });

    // --- who may put a message on the queues (invariant 8) ---
    // A firing Sundial did not send never runs: each main queue takes SendMessage only from
    // the Scheduler role (schedules), the api (run now) and the worker (retries), whatever
    // another principal's IAM policy says. aws:PrincipalArn is the role ARN for the
    // assumed-role sessions all three send as. An operator's console "start DLQ redrive"
    // needs the operator's own sqs:SendMessage on the queue, so it is refused too: redrive
    // through the API.
    // A DLQ takes SendMessage only from the api and the worker. SQS moving a message into
    // a DLQ after maxReceiveCount (redrive) is the service's own move, not a SendMessage by
    // a principal, so this deny leaves it working.
    const denySendExcept = (queue: Queue, senders: string[]) =>
      queue.addToResourcePolicy(
        new PolicyStatement({
          effect: Effect.DENY,
          principals: [new AnyPrincipal()],
          actions: ['sqs:SendMessage'],
          resources: [queue.queueArn],
          conditions: { ArnNotEquals: { 'aws:PrincipalArn': senders } },
        }),
      );
    for (const def of QUEUES) {
      const { queue, dlq } = this.queues[def.priority];
      denySendExcept(queue, [schedulerRole.roleArn, api.role!.roleArn, worker.role!.roleArn]);
      denySendExcept(dlq, [api.role!.roleArn, worker.role!.roleArn]);
    }

    // --- API ---
    const accessLogs = new LogGroup(this, 'ApiAccessLogs', {
      retention: stage === 'prod' ? RetentionDays.ONE_YEAR : RetentionDays.ONE_MONTH,
      removalPolicy,
    });
    const restApi = new LambdaRestApi(this, 'RestApi', {
      restApiName: `sundial-${stage}`,
      description: 'Sundial job scheduler API',
      handler: api,
      proxy: true,
      cloudWatchRole: true,
      cloudWatchRoleRemovalPolicy: removalPolicy,
      deployOptions: {
        stageName: stage,
        tracingEnabled: true,
        loggingLevel: MethodLoggingLevel.ERROR,
        accessLogDestination: new LogGroupLogDestination(accessLogs),
        accessLogFormat: AccessLogFormat.jsonWithStandardFields(),
        throttlingRateLimit: 100,
        throttlingBurstLimit: 200,
      },
    });

    this.monitoring = new Monitoring(this, 'Monitoring', {
      stage,
      queues: this.queues,
      functions: { api, worker, sync, deadLetters, reconciler },
      restApi,
      ...(props.alarmEmail ? { alarmEmail: props.alarmEmail } : {}),
    });

    new CfnOutput(this, 'ApiUrl', { value: restApi.url, description: 'Base URL; the API lives under /v1' });
    new CfnOutput(this, 'ScheduleGroupName', { value: group.name! });
    new CfnOutput(this, 'JobsTableName', {
      value: jobs.tableName,
      description: 'For npm run create-key: the first admin key of a tenant',
    });
    new CfnOutput(this, 'FailureTopicArn', {
      value: failureTopic.topicArn,
      description: 'Every final run failure; subscribe e-mail, chat or a queue',
    });
    for (const def of QUEUES) {
      new CfnOutput(this, `${pascal(def.name)}QueueUrl`, { value: this.queues[def.priority].queue.queueUrl });
      new CfnOutput(this, `${pascal(def.dlqName)}QueueUrl`, {
        value: this.queues[def.priority].dlq.queueUrl,
      });
    }

    this.acknowledgeNagFindings(group.name!, allowedTargetArns);
  }

  /**
   * The default identity provider: a Cognito user pool with no self sign-up, MFA required,
   * a group per role, and a tenant attribute only an administrator can set (the app client
   * may not write it, so a user cannot move to another tenant).
   */
  private userPool(stage: Stage, removalPolicy: RemovalPolicy): JwtContext {
    const pool = new UserPool(this, 'Users', {
      userPoolName: `sundial-${stage}`,
      selfSignUpEnabled: false,
      signInAliases: { email: true },
      customAttributes: { tenant: new StringAttribute({ minLen: 1, maxLen: 63, mutable: true }) },
      passwordPolicy: {
        minLength: 12,
        requireDigits: true,
        requireLowercase: true,
        requireUppercase: true,
        requireSymbols: true,
      },
      mfa: Mfa.REQUIRED,
      mfaSecondFactor: { otp: true, sms: false },
      deletionProtection: stage === 'prod',
      removalPolicy,
    });
    for (const role of ['admin', 'operator', 'viewer']) {
      new UserPoolGroup(this, `Group-${role}`, {
        userPool: pool,
        groupName: role,
        description: `Sundial ${role}s`,
      });
    }
    const client = pool.addClient('ApiClient', {
      authFlows: { userSrp: true },
      generateSecret: false,
      readAttributes: new ClientAttributes()
        .withStandardAttributes({ email: true, emailVerified: true })
        .withCustomAttributes('tenant'),
      writeAttributes: new ClientAttributes().withStandardAttributes({ email: true }),
    });
    const issuer = `https://cognito-idp.${this.region}.amazonaws.com/${pool.userPoolId}`;
    new CfnOutput(this, 'UserPoolId', { value: pool.userPoolId });
    new CfnOutput(this, 'UserPoolClientId', {
      value: client.userPoolClientId,
      description: 'Sign in with this client; send the ID token as Authorization: Bearer',
    });
    return { issuer, audience: client.userPoolClientId };
  }

  /** The worker may call exactly the AWS targets the configuration allows, and nothing else. */
  private grantTargets(worker: IGrantable, arns: readonly string[]): void {
    const of = (service: string) => arns.filter((arn) => arn.split(':')[2] === service);
    const functions = of('lambda');
    const grants: [string, string[]][] = [
      // A qualified ARN (version or alias) is invoked as function:qualifier.
      ['lambda:InvokeFunction', functions.flatMap((arn) => [arn, `${arn}:*`])],
      ['sqs:SendMessage', of('sqs')],
      ['events:PutEvents', of('events')],
    ];
    for (const [action, resources] of grants) {
      if (resources.length === 0) continue;
      worker.grantPrincipal.addToPrincipalPolicy(new PolicyStatement({ actions: [action], resources }));
    }
  }

  /** Every cdk-nag finding left is a decision; each says why. */
  private acknowledgeNagFindings(groupName: string, targetArns: readonly string[]): void {
    const nag = (finding: string) => `AwsSolutions::AwsSolutions-${finding}`;
    const literal = (value: string, placeholder: string) => (Token.isUnresolved(value) ? placeholder : value);
    const scheduleArns = `arn:${literal(this.partition, '<AWS::Partition>')}:scheduler:${literal(this.region, '<AWS::Region>')}:${literal(this.account, '<AWS::AccountId>')}:schedule/${groupName}/*`;
    const jobsIndexes = `<${this.getLogicalId(this.tables.Jobs.node.defaultChild as CfnElement)}.Arn>/index/*`;
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
          'Only xray:PutTraceSegments, xray:PutTelemetryRecords and scheduler:ListSchedules, which have no resource-level permissions.',
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
    const targetResources = targetArns.flatMap((arn) =>
      arn.split(':')[2] === 'lambda' ? [arn, `${arn}:*`] : [arn],
    );
    for (const arn of targetResources.filter((r) => r.includes('*'))) {
      acknowledgements.push({
        id: nag(`IAM5[Resource::${arn}]`),
        reason:
          'A target pattern the operator allowed with -c allowedTargetArns (a function with any version or alias, or a wildcard the operator chose).',
      });
    }
    for (const a of acknowledgements) Validations.of(this).acknowledge(a);
  }
}

function pascal(name: string): string {
  return name
    .split(/[^a-zA-Z0-9]/)
    .filter(Boolean)
    .map((p) => p[0]!.toUpperCase() + p.slice(1))
    .join('');
}
