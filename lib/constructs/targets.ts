/**
 * The IAM statements that let Sundial's functions reach the AWS targets the operator allowed
 * (-c allowedTargetArns, -c ecsPassRoleArns), and nothing else (invariant 6). Derived from the
 * allowed ARN patterns alone, so the stack can also acknowledge each wildcard they contain.
 *
 * Actions, resource types and condition keys as the Service Authorization Reference lists them
 * (docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerservice.html,
 * list_awsstepfunctions.html, list_awsidentityandaccessmanagementiam.html):
 * - ecs:RunTask: task-definition* (…:task-definition/<family>:<revision>), condition ecs:cluster;
 *   it depends on iam:PassRole for the task's task and execution roles.
 * - ecs:DescribeTasks, ecs:StopTask: task* (…:task/<clusterName>/<taskId>), condition ecs:cluster.
 * - ecs:ListTasks: container-instance*, condition ecs:cluster. A call without a containerInstance
 *   (a cluster's tasks by startedBy, as the worker lists) is authorized on "*", not on a
 *   container-instance ARN (cdklabs/construct-hub#1207, widdix/complete-aws-iam-reference#74):
 *   granted on "*", scoped to the allowed clusters by ecs:cluster.
 * - ecs:DescribeTaskDefinition: no resource type, so "*" only.
 * - iam:PassRole: role*, condition iam:PassedToService.
 * - states:StartExecution: statemachine* (…:stateMachine:<name>).
 * - states:DescribeExecution, states:StopExecution: execution* (…:execution:<name>:<executionId>).
 */
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { type TargetArnKind, targetArnKind } from '../stage.js';

/** The allowed ARN patterns of one kind. */
export function targetsOf(arns: readonly string[], kind: TargetArnKind): string[] {
  return arns.filter((arn) => targetArnKind(arn) === kind);
}

/** The ECS and Step Functions targets allowed, and the resources each statement names. */
function longRunTargets(arns: readonly string[]) {
  const clusters = targetsOf(arns, 'ecsCluster');
  const taskDefinitions = targetsOf(arns, 'ecsTaskDefinition');
  const stateMachines = targetsOf(arns, 'stateMachine');
  return {
    clusters,
    taskDefinitions,
    stateMachines,
    // A family without a revision is run as family:revision (the latest ACTIVE one when none is given).
    taskDefinitionResources: taskDefinitions.flatMap((arn) =>
      /:task-definition\/[^:]+$/.test(arn) ? [arn, `${arn}:*`] : [arn],
    ),
    tasks: clusters.map((arn) => `${arn.replace(':cluster/', ':task/')}/*`),
    executions: stateMachines.map((arn) => `${arn.replace(':stateMachine:', ':execution:')}:*`),
  };
}

/** ecs:cluster is one of the allowed clusters (ArnLike when one is a pattern). */
const inClusters = (clusters: readonly string[]) => ({
  [clusters.some((c) => c.includes('*')) ? 'ArnLike' : 'ArnEquals']: { 'ecs:cluster': [...clusters] },
});

/**
 * Refuses an ECS configuration no job could use: a task definition needs a cluster to run in
 * (RunTask is granted per cluster), a cluster needs a task definition to run, and a role to pass
 * needs something to pass it to.
 */
export function checkLongRunTargets(arns: readonly string[], passRoles: readonly string[]): void {
  const { clusters, taskDefinitions } = longRunTargets(arns);
  if (clusters.length > 0 !== taskDefinitions.length > 0) {
    throw new Error(
      'allowedTargetArns must allow at least one ECS cluster and one ECS task definition together (a task definition runs in a cluster), got ' +
        (clusters.length > 0
          ? `clusters only (${clusters.join(', ')})`
          : `task definitions only (${taskDefinitions.join(', ')})`),
    );
  }
  if (passRoles.length > 0 && clusters.length === 0) {
    throw new Error(
      'ecsPassRoleArns is set, but allowedTargetArns allows no ECS cluster and task definition',
    );
  }
}

/** What the worker needs to start, find, watch and stop the allowed ECS tasks and executions. */
export function workerLongRunStatements(
  arns: readonly string[],
  passRoles: readonly string[],
): PolicyStatement[] {
  checkLongRunTargets(arns, passRoles);
  const t = longRunTargets(arns);
  const statements: PolicyStatement[] = [];
  if (t.clusters.length > 0) {
    const conditions = inClusters(t.clusters);
    statements.push(
      new PolicyStatement({ actions: ['ecs:RunTask'], resources: t.taskDefinitionResources, conditions }),
      // Finds the task a crashed worker started (by startedBy): authorized on "*" (see above).
      new PolicyStatement({ actions: ['ecs:ListTasks'], resources: ['*'], conditions }),
      new PolicyStatement({ actions: ['ecs:DescribeTasks', 'ecs:StopTask'], resources: t.tasks, conditions }),
      // Reads the awslogs configuration; DescribeTaskDefinition has no resource-level permission.
      new PolicyStatement({ actions: ['ecs:DescribeTaskDefinition'], resources: ['*'] }),
    );
    if (passRoles.length > 0) {
      statements.push(
        new PolicyStatement({
          actions: ['iam:PassRole'],
          resources: [...passRoles],
          conditions: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
        }),
      );
    }
  }
  if (t.stateMachines.length > 0) {
    statements.push(
      new PolicyStatement({ actions: ['states:StartExecution'], resources: t.stateMachines }),
      new PolicyStatement({
        actions: ['states:DescribeExecution', 'states:StopExecution'],
        resources: t.executions,
      }),
    );
  }
  return statements;
}

/** What the completion function needs to poll and stop them: never to start one or pass a role. */
export function completionLongRunStatements(arns: readonly string[]): PolicyStatement[] {
  const t = longRunTargets(arns);
  const statements: PolicyStatement[] = [];
  if (t.clusters.length > 0) {
    statements.push(
      new PolicyStatement({
        actions: ['ecs:DescribeTasks', 'ecs:StopTask'],
        resources: t.tasks,
        conditions: inClusters(t.clusters),
      }),
    );
  }
  if (t.stateMachines.length > 0) {
    statements.push(
      new PolicyStatement({
        actions: ['states:DescribeExecution', 'states:StopExecution'],
        resources: t.executions,
      }),
    );
  }
  return statements;
}

/** The worker's statements for the synchronous targets: Lambda invoke, SQS send, PutEvents. */
export function workerSyncTargetStatements(arns: readonly string[]): PolicyStatement[] {
  const grants: [string, string[]][] = [
    // A qualified ARN (version or alias) is invoked as function:qualifier.
    ['lambda:InvokeFunction', targetsOf(arns, 'lambda').flatMap((arn) => [arn, `${arn}:*`])],
    ['sqs:SendMessage', targetsOf(arns, 'sqs')],
    ['events:PutEvents', targetsOf(arns, 'events')],
  ];
  return grants
    .filter(([, resources]) => resources.length > 0)
    .map(([action, resources]) => new PolicyStatement({ actions: [action], resources }));
}

/**
 * Every literal resource with a wildcard that the target statements name: each is a pattern the
 * operator allowed, or one derived from it (a function's versions, a cluster's tasks, a state
 * machine's executions, a family's revisions). The stack acknowledges each for cdk-nag.
 */
export function wildcardTargetResources(arns: readonly string[], passRoles: readonly string[]): string[] {
  const statements = [
    ...workerSyncTargetStatements(arns),
    ...workerLongRunStatements(arns, passRoles),
    ...completionLongRunStatements(arns),
  ];
  const resources = statements.flatMap((s) => s.resources).filter((r) => r !== '*' && r.includes('*'));
  return [...new Set(resources)];
}
