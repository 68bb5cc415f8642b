/**
 * The CDK app: `npx cdk deploy -c stage=dev|prod`, one stack `Sundial-<stage>` in the CLI's
 * region. With `-c standbyRegion=<region>` (issue 16) a second, `Sundial-<stage>-standby`, in
 * that region: `npx cdk deploy --all -c standbyRegion=us-west-2` deploys the home stack, then
 * the standby (it depends on the home stack's tables, key and parameters).
 */
import { App, Tags, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { RUN_RETENTION_DAYS } from '../lib/definitions.js';
import {
  parseAllowedHttpHosts,
  parseAllowedTargetArns,
  parseCapacity,
  parseDegradationContext,
  parseDrContext,
  parseEcsPassRoleArns,
  parseJwtContext,
  parseRetentionDays,
  parseStage,
  parseTenantLimits,
  parseTraceSampling,
  parseWorkerTracing,
} from '../lib/stage.js';
import { SundialStack } from '../lib/sundial-stack.js';

const app = new App();
const context = (key: string) => app.node.tryGetContext(key);
const stage = parseStage(context('stage'));
const dr = parseDrContext(context, process.env.CDK_DEFAULT_REGION);
const props = {
  stage,
  runRetentionDays: parseRetentionDays(context('runRetentionDays'), RUN_RETENTION_DAYS),
  allowedTargetArns: parseAllowedTargetArns(context('allowedTargetArns')),
  ecsPassRoleArns: parseEcsPassRoleArns(context('ecsPassRoleArns')),
  allowedHttpHosts: parseAllowedHttpHosts(context('allowedHttpHosts')),
  tenantLimits: parseTenantLimits(context),
  ...((degradation) => (degradation ? { degradation } : {}))(parseDegradationContext(context('degradation'))),
  ...(context('alarmEmail') ? { alarmEmail: String(context('alarmEmail')) } : {}),
  ...((jwt) => (jwt ? { jwt } : {}))(parseJwtContext(context)),
  workerTracing: parseWorkerTracing(context('workerTracing')),
  capacity: parseCapacity(context),

  apiTraceSampling: parseTraceSampling(context),
};
const account = process.env.CDK_DEFAULT_ACCOUNT;
const home = new SundialStack(app, `Sundial-${stage}`, {
  ...props,
  ...(dr ? { dr: { ...dr, role: 'home' as const } } : {}),
  description: `Sundial serverless job scheduler (${stage})`,
  env: { account, region: process.env.CDK_DEFAULT_REGION },
});
const stacks = [home];
if (dr) {
  const standby = new SundialStack(app, `Sundial-${stage}-standby`, {
    ...props,
    dr: { ...dr, role: 'standby' },
    description: `Sundial serverless job scheduler (${stage}), standby region of ${dr.homeRegion}`,
    env: { account, region: dr.standbyRegion },
  });
  // No reference crosses regions (lib/constructs/dr.ts); the order is what matters.
  standby.addStackDependency(home, 'the replica tables, the key to replicate and the parameters it reads');
  stacks.push(standby);
}
for (const stack of stacks) {
  Tags.of(stack).add('app', 'sundial');
  Tags.of(stack).add('stage', stage);
}
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
