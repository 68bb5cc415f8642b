/**
 * The REST API: API Gateway in front of the api function, and who may call it (a Cognito
 * user pool, unless the operator brings an OIDC issuer; API keys are checked by the api).
 */
import { Aws, CfnOutput, Duration, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import {
  AccessLogFormat,
  LambdaRestApi,
  LogGroupLogDestination,
  MethodLoggingLevel,
  ResponseType,
} from 'aws-cdk-lib/aws-apigateway';
import {
  ClientAttributes,
  Mfa,
  OAuthScope,
  StringAttribute,
  UserPool,
  UserPoolClientIdentityProvider,
  type UserPoolDomain,
  UserPoolGroup,
} from 'aws-cdk-lib/aws-cognito';
import type { Function as LambdaFn } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { CfnSamplingRule } from 'aws-cdk-lib/aws-xray';
import type { Construct } from 'constructs';
import { QUEUES } from '../definitions.js';

/** Seconds a client throttled by the stage is told to wait: its token bucket refills each second. */
export const STAGE_THROTTLE_RETRY_AFTER_SECONDS = 1;

import {
  API_TRACE_SAMPLING,
  type Capacity,
  type JwtContext,
  type Stage,
  type TenantLimits,
  type TraceSampling,
} from '../stage.js';
import { type Data, QUEUE_URL_KEYS } from './data.js';
import { SundialFunction } from './function.js';
import { StackPart } from './part.js';
import type { Scheduling } from './scheduling.js';

export interface ApiProps {
  stage: Stage;
  removalPolicy: RemovalPolicy;
  data: Data;
  scheduling: Scheduling;
  runRetentionDays: number;
  /** Checked when a job is saved; the worker alone may call them. */
  allowedTargetArns: readonly string[];
  allowedHttpHosts: readonly string[];
  tenantLimits: TenantLimits;
  /** An external OIDC issuer; a Cognito user pool when not given. */
  jwt?: JwtContext;
  /** Stage throttling and reserved concurrency. */
  capacity: Pick<Capacity, 'apiRateLimit' | 'apiBurstLimit' | 'apiReservedConcurrency'>;
  /** Which requests X-Ray traces; X-Ray's default (1 a second, then 5%) when not given. */
  traceSampling?: TraceSampling;
}

export class Api extends StackPart {
  readonly handler: SundialFunction;
  readonly function: LambdaFn;
  readonly restApi: LambdaRestApi;
  /** Whose tokens the API accepts: the given issuer, or the stack's own user pool. */
  readonly jwt: JwtContext;

  constructor(scope: Construct, id: string, props: ApiProps) {
    super(scope, id);
    const { stage, removalPolicy, data } = props;
    const pool = props.jwt ? undefined : this.userPool(stage, removalPolicy);

    this.handler = new SundialFunction(this, 'Api', {
      entry: 'functions/api.ts',
      description: 'Sundial job API and web console',
      timeout: Duration.seconds(29),
      stage,
      ...(props.capacity.apiReservedConcurrency === undefined
        ? {}
        : { reservedConcurrency: props.capacity.apiReservedConcurrency }),
      // The console's files go beside the handler, which serves them under /console/.
      afterBundling: (inputDir, outputDir) => [
        `cd "${inputDir}" && node_modules/.bin/tsx console/build.ts --out "${outputDir}/console"`,
      ],
    });
    this.function = this.handler.function;
    this.handler
      .bind('jobsTable', data.jobs.tableName, (fn) => data.jobs.grantReadWriteData(fn))
      .bind(
        'runsTable',
        data.runs.tableName,
        data.grantRuns('dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:PutItem'),
      );
    // "Run now" queues a manual run on the job's priority queue.
    for (const def of QUEUES)
      this.handler.bindQueue(QUEUE_URL_KEYS[def.priority], data.queues[def.priority].queue);
    props.scheduling.bindSchedules(this.handler);
    // Seals secret headers and signing secrets; opens the signing secret for admins.
    this.handler
      .bindKey('secretsKey', data.secretsKey, 'kms:Encrypt', 'kms:Decrypt')
      .setEnv('allowedTargetArns', JSON.stringify(props.allowedTargetArns))
      .setEnv('protectedArns', data.protectedArnsJson())
      .setEnv('allowedHttpHosts', props.allowedHttpHosts.join(','))
      .setEnv('runRetentionDays', String(props.runRetentionDays))
      .setEnvWhereRead(props.tenantLimits);
    // Redrive updates the dead-letter records.
    data.grantRuns('dynamodb:UpdateItem')(this.function);

    const accessLogs = new LogGroup(this, 'ApiAccessLogs', {
      retention: stage === 'prod' ? RetentionDays.ONE_YEAR : RetentionDays.ONE_MONTH,
      removalPolicy,
    });
    this.restApi = new LambdaRestApi(this, 'RestApi', {
      restApiName: `sundial-${stage}`,
      description: 'Sundial job scheduler API',
      handler: this.function,
      proxy: true,
      cloudWatchRole: true,
      cloudWatchRoleRemovalPolicy: removalPolicy,
      deployOptions: {
        stageName: stage,
        tracingEnabled: true,
        loggingLevel: MethodLoggingLevel.ERROR,
        accessLogDestination: new LogGroupLogDestination(accessLogs),
        accessLogFormat: AccessLogFormat.jsonWithStandardFields(),
        throttlingRateLimit: props.capacity.apiRateLimit,
        throttlingBurstLimit: props.capacity.apiBurstLimit,
      },
    });
    // The stage's own refusals (its throttle, past apiRateLimit/apiBurstLimit) answer as the
    // api's do: problem+json with Retry-After, so clients back off the same way for both.
    for (const [id, type] of [
      ['Throttled', ResponseType.THROTTLED],
      ['QuotaExceeded', ResponseType.QUOTA_EXCEEDED],
    ] as const) {
      this.restApi.addGatewayResponse(id, {
        type,
        statusCode: '429',
        responseHeaders: {
          'Content-Type': "'application/problem+json'",
          'Retry-After': `'${STAGE_THROTTLE_RETRY_AFTER_SECONDS}'`,
        },
        templates: {
          'application/json': JSON.stringify({
            type: 'https://sundial.dev/problems/quota-exceeded',
            title: 'Too many requests',
            status: 429,
            detail: 'the API stage is throttling requests: retry after the Retry-After header',
          }),
        },
      });
    }
    // API Gateway decides which requests are traced by this rule (the API function follows its
    // decision), so the share is set here, per deployment, not left to the account's default.
    const sampling = props.traceSampling ?? API_TRACE_SAMPLING;
    new CfnSamplingRule(this, 'TraceSampling', {
      samplingRule: {
        ruleName: `sundial-${stage}-api`,
        // Before the account's Default rule (10000), after rules an operator adds at 1-999.
        priority: 1000,
        fixedRate: sampling.rate,
        reservoirSize: sampling.reservoirPerSecond,
        // API Gateway names a stage's segments `<api name>/<stage>`.
        serviceName: `sundial-${stage}/${stage}`,
        serviceType: 'AWS::ApiGateway::Stage',
        host: '*',
        httpMethod: '*',
        urlPath: '*',
        resourceArn: '*',
        version: 1,
      },
    });
    new CfnOutput(this, 'ApiUrl', {
      value: this.restApi.url,
      description: 'Base URL; the API lives under /v1',
    });

    // Made of the API's id, not of `restApi.url`: the stage depends on the function, whose
    // environment names the user pool client, whose callback is this URL.
    const consoleUrl = `https://${this.restApi.restApiId}.execute-api.${Stack.of(this).region}.${Stack.of(this).urlSuffix}/${stage}/console/`;
    new CfnOutput(this, 'ConsoleUrl', {
      value: consoleUrl,
      description: 'The web console (sign in with an API key or a user of the pool)',
    });
    const jwt = props.jwt ?? this.userPoolClient(pool!, consoleUrl);
    this.jwt = jwt;
    this.handler.setEnv('jwtIssuer', jwt.issuer).setEnv('jwtAudience', jwt.audience);
    if (jwt.jwksUri) this.handler.setEnv('jwtJwksUri', jwt.jwksUri);
    if (jwt.tenantClaim) this.handler.setEnv('jwtTenantClaim', jwt.tenantClaim);
    if (jwt.roleClaim) this.handler.setEnv('jwtRoleClaim', jwt.roleClaim);
    if (pool) this.handler.setEnv('consoleSignInDomain', pool.domain.baseUrl());
  }

  /**
   * The default identity provider: a Cognito user pool with no self sign-up, MFA required,
   * a group per role, and a tenant attribute only an administrator can set (the app client
   * may not write it, so a user cannot move to another tenant).
   */
  private userPool(stage: Stage, removalPolicy: RemovalPolicy): { pool: UserPool; domain: UserPoolDomain } {
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
    // The hosted sign-in the console sends users to (MFA included); the prefix is unique
    // per account and stage, as Cognito's domain prefixes must be per region.
    const domain = pool.addDomain('SignIn', {
      cognitoDomain: { domainPrefix: `sundial-${stage}-${Aws.ACCOUNT_ID}` },
    });
    return { pool, domain };
  }

  /**
   * The app client for the CLI and SDKs (SRP) and the console: authorization code with PKCE
   * (no client secret: it runs in a browser), back to the console's URL only.
   */
  private userPoolClient({ pool }: { pool: UserPool }, consoleUrl: string): JwtContext {
    const client = pool.addClient('ApiClient', {
      authFlows: { userSrp: true },
      generateSecret: false,
      oAuth: {
        flows: { authorizationCodeGrant: true },
        scopes: [OAuthScope.OPENID, OAuthScope.EMAIL],
        callbackUrls: [consoleUrl],
        logoutUrls: [consoleUrl],
      },
      supportedIdentityProviders: [UserPoolClientIdentityProvider.COGNITO],
      readAttributes: new ClientAttributes()
        .withStandardAttributes({ email: true, emailVerified: true })
        .withCustomAttributes('tenant'),
      writeAttributes: new ClientAttributes().withStandardAttributes({ email: true }),
    });
    const issuer = `https://cognito-idp.${Stack.of(this).region}.amazonaws.com/${pool.userPoolId}`;
    new CfnOutput(this, 'UserPoolId', { value: pool.userPoolId });
    new CfnOutput(this, 'UserPoolClientId', {
      value: client.userPoolClientId,
      description: 'Sign in with this client; send the ID token as Authorization: Bearer',
    });
    return { issuer, audience: client.userPoolClientId };
  }
}
