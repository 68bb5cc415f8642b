/**
 * Which AWS resource a target may name. Every field that names a host or an ARN is
 * attacker-controlled (invariant 9): a queue URL must be an SQS endpoint of this
 * deployment's region and partition (or the configured local endpoint), an ARN must be of
 * this region and partition, match the operator's allowlist, and name none of Sundial's
 * own resources, whatever the allowlist says. The same check runs at save and at call.
 */
import type { Target } from './target.js';

export interface TargetAccess {
  /** The deployment's region; every AWS target must be in it. */
  region: string;
  /** ARN patterns (`*` wildcards) the operator allows. */
  allowedArns: readonly string[];
  /** ARN patterns of Sundial's own resources: refused whatever `allowedArns` says. */
  protectedArns: readonly string[];
  /** An SQS endpoint queue URLs may name besides AWS's (the local emulator). */
  sqsEndpoint?: string;
}

/** The ARN partition of a region: `aws-cn` for China, `aws-us-gov` for GovCloud, else `aws`. */
export function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  if (region.startsWith('us-iso-')) return 'aws-iso';
  if (region.startsWith('us-isob-')) return 'aws-iso-b';
  return 'aws';
}

const QUEUE_PATH = /^\/(\d{12})\/([A-Za-z0-9_-]{1,80}(\.fifo)?)$/;

/** AWS's SQS hosts for a region: the current name, the legacy one, and the dual-stack one. */
function sqsHosts(region: string): string[] {
  const suffix = partitionOf(region) === 'aws-cn' ? 'amazonaws.com.cn' : 'amazonaws.com';
  return [`sqs.${region}.${suffix}`, `${region}.queue.${suffix}`, `sqs.${region}.api.aws`];
}

/**
 * The ARN of a queue URL, or why it is not a queue of this deployment's SQS: the host
 * must be SQS's own for the region (https), or exactly the configured local endpoint.
 */
export function queueArnFor(
  queueUrl: string,
  access: Pick<TargetAccess, 'region' | 'sqsEndpoint'>,
): { arn: string } | { refusal: string } {
  let url: URL;
  try {
    url = new URL(queueUrl);
  } catch {
    return { refusal: 'is not a URL' };
  }
  const path = QUEUE_PATH.exec(url.pathname);
  if (!path || url.search || url.hash || url.username || url.password) {
    return { refusal: 'must be https://sqs.<region>.amazonaws.com/<account>/<queue name>' };
  }
  const local = access.sqsEndpoint ? new URL(access.sqsEndpoint) : undefined;
  const isLocal = local !== undefined && url.origin === local.origin;
  const isAws = url.protocol === 'https:' && !url.port && sqsHosts(access.region).includes(url.hostname);
  if (!isLocal && !isAws) {
    return {
      refusal: `must be a queue of this deployment's SQS endpoint (https://${sqsHosts(access.region)[0]}/...)${
        local ? ` or of ${local.origin}` : ''
      }`,
    };
  }
  return { arn: `arn:${partitionOf(access.region)}:sqs:${access.region}:${path[1]}:${path[2]}` };
}

/** The ARNs an AWS target names, each with its field, or why one cannot name any; [] for HTTP. */
export function awsTargetArns(
  target: Target,
  access: Pick<TargetAccess, 'region' | 'sqsEndpoint'>,
): ({ field: string; arn: string } | { field: string; refusal: string })[] {
  switch (target.type) {
    case 'http':
      return [];
    case 'sqs':
      return [{ field: 'queueUrl', ...queueArnFor(target.queueUrl, access) }];
    case 'lambda':
      return [{ field: 'functionArn', arn: target.functionArn }];
    case 'eventbridge':
      return [{ field: 'eventBusArn', arn: target.eventBusArn }];
    case 'ecs':
      // Both must be allowed: the cluster it runs in and what it runs.
      return [
        { field: 'cluster', arn: target.cluster },
        { field: 'taskDefinition', arn: target.taskDefinition },
      ];
    case 'stepfunctions':
      return [{ field: 'stateMachineArn', arn: target.stateMachineArn }];
  }
}

/**
 * Why an AWS target may not be called (and which field), or null when it may. The message
 * names what is wrong without echoing the allowlist.
 */
export function awsTargetRefusal(
  target: Target,
  access: TargetAccess,
): { field: string; message: string } | null {
  for (const named of awsTargetArns(target, access)) {
    const message = 'refusal' in named ? named.refusal : arnRefusal(named.arn, access);
    if (message) return { field: named.field, message };
  }
  return null;
}

function arnRefusal(arn: string, access: TargetAccess): string | null {
  const [, partition, , region] = arn.split(':');
  if (partition !== partitionOf(access.region) || region !== access.region) {
    return `${arn} is not in this deployment's region (${access.region}); Sundial calls only resources of its own region`;
  }
  if (isArnAllowed(arn, access.protectedArns)) {
    return `${arn} is part of Sundial itself; Sundial's own queues, functions, tables and topics are never targets`;
  }
  if (!isArnAllowed(arn, access.allowedArns)) {
    return `${arn} is not among the target ARNs this deployment allows (an operator adds it with -c allowedTargetArns=...)`;
  }
  return null;
}

/**
 * Whether an ARN is matched by the patterns: exact ARNs or ones with `*` wildcards,
 * matched as IAM matches resources. A Lambda ARN with a qualifier (version or alias) is
 * matched by a pattern that matches the unqualified function, a task definition's revision
 * by its family.
 */
export function isArnAllowed(arn: string, patterns: readonly string[]): boolean {
  const candidates = [arn];
  const qualified = /^(arn:[^:]+:lambda:[^:]+:\d{12}:function:[^:]+):[^:]+$/.exec(arn);
  if (qualified?.[1]) candidates.push(qualified[1]);
  // A task definition's revision, as a function's qualifier: the family allows every revision.
  const revision = /^(arn:[^:]+:ecs:[^:]+:\d{12}:task-definition\/[^:]+):\d+$/.exec(arn);
  if (revision?.[1]) candidates.push(revision[1]);
  return patterns.some((pattern) => {
    const regex = new RegExp(`^${pattern.split('*').map(escapeRegex).join('.*')}$`);
    return candidates.some((c) => regex.test(c));
  });
}

function escapeRegex(s: string): string {
  return s.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
}
