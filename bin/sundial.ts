/** The CDK app: `npx cdk deploy -c stage=dev|prod`. */
import { App, Tags, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { RUN_RETENTION_DAYS } from '../lib/definitions.js';
import {
  parseAllowedHttpHosts,
  parseAllowedTargetArns,
  parseEcsPassRoleArns,
  parseJwtContext,
  parseRetentionDays,
  parseStage,
  parseTenantLimits,
  parseWorkerTracing,
} from '../lib/stage.js';
import { SundialStack } from '../lib/sundial-stack.js';

const app = new App();
const stage = parseStage(app.node.tryGetContext('stage'));
const stack = new SundialStack(app, `Sundial-${stage}`, {
  stage,
  runRetentionDays: parseRetentionDays(app.node.tryGetContext('runRetentionDays'), RUN_RETENTION_DAYS),
  allowedTargetArns: parseAllowedTargetArns(app.node.tryGetContext('allowedTargetArns')),
  ecsPassRoleArns: parseEcsPassRoleArns(app.node.tryGetContext('ecsPassRoleArns')),
  allowedHttpHosts: parseAllowedHttpHosts(app.node.tryGetContext('allowedHttpHosts')),
  tenantLimits: parseTenantLimits((key) => app.node.tryGetContext(key)),
  ...(app.node.tryGetContext('alarmEmail')
    ? { alarmEmail: String(app.node.tryGetContext('alarmEmail')) }
    : {}),
  ...((jwt) => (jwt ? { jwt } : {}))(parseJwtContext((key) => app.node.tryGetContext(key))),
  workerTracing: parseWorkerTracing(app.node.tryGetContext('workerTracing')),
  description: `Sundial serverless job scheduler (${stage})`,
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
Tags.of(stack).add('app', 'sundial');
Tags.of(stack).add('stage', stage);
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
