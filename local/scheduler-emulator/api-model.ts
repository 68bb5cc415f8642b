/**
 * The EventBridge Scheduler API model (2021-06-30), as data: every input member the emulator
 * accepts, with its constraints, and a checker that refuses a request as AWS does, with a
 * ValidationException naming each member that breaks one.
 *
 * Sources. Member names, nesting, required members and HTTP bindings are those of
 * @aws-sdk/client-scheduler (dist-es/schemas/schemas_0.js; dist-types/models/models_0.d.ts).
 * The SDK's generated code carries no length, range or pattern constraints, so those are
 * taken from the same service model as AWS publishes it for the other SDKs (botocore's
 * data/scheduler/2021-06-30/service-2.json, identical to the API reference's "Length
 * Constraints" and "Pattern" lines). Two members are newer than that model and come with no
 * published constraints (EventBridgePutEventsV2Parameters, EventBridgePutRawEventsParameters):
 * they are checked for what the SDK's documentation states (required members; DetailType at
 * most 128 characters; metadata keys 1-128 characters without "/"), nothing more.
 *
 * Messages follow AWS's form for a constraint violation, e.g.
 *   1 validation error detected: Value 'x' at 'target.roleArn' failed to satisfy constraint:
 *   Member must satisfy regular expression pattern: ^arn:aws(-[a-z]+)?:iam::\d{12}:role\/[\w+=,.@\/-]+$
 * where the path is the member names in lower camel case, a list element being `<list>.<n>.member`.
 */

export type Shape =
  | {
      type: 'string';
      min?: number;
      max?: number;
      pattern?: RegExp;
      enum?: readonly string[];
      /** Never echoed in an error message (the target's input may carry secrets). */
      sensitive?: boolean;
      /** Refused if it contains this text (no published pattern, a documented rule). */
      forbids?: string;
    }
  | { type: 'integer'; min?: number; max?: number }
  | { type: 'boolean' }
  | { type: 'timestamp' }
  | { type: 'structure'; members: Readonly<Record<string, Shape>>; required?: readonly string[] }
  | { type: 'list'; member: Shape; min?: number; max?: number }
  | { type: 'map'; key: Shape; value: Shape };

const str = (min?: number, max?: number, pattern?: RegExp): Shape => ({
  type: 'string',
  ...(min !== undefined ? { min } : {}),
  ...(max !== undefined ? { max } : {}),
  ...(pattern ? { pattern } : {}),
});
const int = (min: number, max: number): Shape => ({ type: 'integer', min, max });
const oneOf = (...values: string[]): Shape => ({ type: 'string', enum: values });
const struct = (members: Record<string, Shape>, required: string[] = []): Shape => ({
  type: 'structure',
  members,
  required,
});
const list = (member: Shape, min?: number, max?: number): Shape => ({
  type: 'list',
  member,
  ...(min !== undefined ? { min } : {}),
  ...(max !== undefined ? { max } : {}),
});

// --- the model's named shapes ---

export const NAME_PATTERN = /^[0-9a-zA-Z-_.]+$/;
const ARN_PARTITION = 'arn:aws(-[a-z]+)?';

export const Name = str(1, 64, NAME_PATTERN);
export const NamePrefix = str(1, 64, NAME_PATTERN);
export const ScheduleGroupName = str(1, 64, NAME_PATTERN);
export const ScheduleGroupNamePrefix = str(1, 64, NAME_PATTERN);
export const ClientToken = str(1, 64, /^[a-zA-Z0-9-_]+$/);
export const NextToken = str(1, 2048);
export const MaxResults = int(1, 100);
export const ScheduleState = oneOf('ENABLED', 'DISABLED');
export const TagKey = str(1, 128);
export const TagValue = str(1, 256);
export const TagResourceArn = str(
  1,
  1011,
  new RegExp(`^${ARN_PARTITION}:scheduler:[a-z0-9\\-]+:\\d{12}:schedule-group\\/[0-9a-zA-Z-_.]+$`),
);
export const TagList = list(struct({ Key: TagKey, Value: TagValue }, ['Key', 'Value']), 0, 200);
export const TagKeyList = list(TagKey, 0, 200);

export const RoleArn = str(1, 1600, new RegExp(`^${ARN_PARTITION}:iam::\\d{12}:role\\/[\\w+=,.@\\/-]+$`));
export const DeadLetterConfigArn = str(
  1,
  1600,
  new RegExp(`^${ARN_PARTITION}:sqs:[a-z0-9\\-]+:\\d{12}:[a-zA-Z0-9\\-_]+$`),
);
export const KmsKeyArn = str(
  1,
  2048,
  new RegExp(`^${ARN_PARTITION}:kms:[a-z0-9\\-]+:\\d{12}:(key|alias)\\/[0-9a-zA-Z-_]*$`),
);

const Source = str(1, 256, /^(?=[/.\-_A-Za-z0-9]+)((?!aws\.).*)|(\$(\.[\w_-]+(\[(\d+|\*)\])*)*)$/);
const DetailType = str(1, 128);

const EcsParameters = struct(
  {
    CapacityProviderStrategy: list(
      struct({ capacityProvider: str(1, 255), weight: int(0, 1000), base: int(0, 100_000) }, [
        'capacityProvider',
      ]),
      0,
      6,
    ),
    EnableECSManagedTags: { type: 'boolean' },
    EnableExecuteCommand: { type: 'boolean' },
    Group: str(1, 255),
    LaunchType: oneOf('EC2', 'FARGATE', 'EXTERNAL'),
    NetworkConfiguration: struct({
      awsvpcConfiguration: struct(
        {
          Subnets: list(str(1, 1000), 1, 16),
          SecurityGroups: list(str(1, 1000), 1, 5),
          AssignPublicIp: oneOf('ENABLED', 'DISABLED'),
        },
        ['Subnets'],
      ),
    }),
    PlacementConstraints: list(
      struct({ type: oneOf('distinctInstance', 'memberOf'), expression: str(0, 2000) }),
      0,
      10,
    ),
    PlacementStrategy: list(struct({ type: oneOf('random', 'spread', 'binpack'), field: str(0, 255) }), 0, 5),
    PlatformVersion: str(1, 64),
    PropagateTags: oneOf('TASK_DEFINITION'),
    ReferenceId: str(0, 1024),
    Tags: list({ type: 'map', key: TagKey, value: TagValue }, 0, 50),
    TaskCount: int(1, 10),
    TaskDefinitionArn: str(1, 1600),
  },
  ['TaskDefinitionArn'],
);

export const Target = struct(
  {
    Arn: str(1, 1600),
    RoleArn,
    DeadLetterConfig: struct({ Arn: DeadLetterConfigArn }),
    RetryPolicy: struct({ MaximumEventAgeInSeconds: int(60, 86_400), MaximumRetryAttempts: int(0, 185) }),
    // The model gives a minimum of 1 and no maximum; the member's documentation: "The maximum
    // size of the Input field is 256 KB" (checked in bytes of UTF-8, below).
    Input: { type: 'string', min: 1, sensitive: true },
    EcsParameters,
    EventBridgeParameters: struct({ DetailType, Source }, ['DetailType', 'Source']),
    EventBridgePutEventsV2Parameters: struct({ DetailType, Source: str(1) }, ['DetailType', 'Source']),
    EventBridgePutRawEventsParameters: struct({
      Metadata: { type: 'map', key: { type: 'string', min: 1, max: 128, forbids: '/' }, value: str() },
    }),
    KinesisParameters: struct({ PartitionKey: str(1, 256) }, ['PartitionKey']),
    SageMakerPipelineParameters: struct({
      PipelineParameterList: list(
        struct({ Name: str(1, 256, /^[A-Za-z0-9\-_]*$/), Value: str(1, 1024) }, ['Name', 'Value']),
        0,
        200,
      ),
    }),
    SqsParameters: struct({ MessageGroupId: str(1, 128) }),
  },
  ['Arn', 'RoleArn'],
);
export const TARGET_INPUT_MAX_BYTES = 256 * 1024;

/** CreateScheduleInput and UpdateScheduleInput: the same members (Name is the URI label). */
export const ScheduleInput = struct(
  {
    Name,
    ScheduleExpression: str(1, 256),
    Target,
    FlexibleTimeWindow: struct({ Mode: oneOf('OFF', 'FLEXIBLE'), MaximumWindowInMinutes: int(1, 1440) }, [
      'Mode',
    ]),
    GroupName: ScheduleGroupName,
    StartDate: { type: 'timestamp' },
    EndDate: { type: 'timestamp' },
    Description: str(0, 512),
    ScheduleExpressionTimezone: str(1, 50),
    State: ScheduleState,
    KmsKeyArn,
    ClientToken,
    ActionAfterCompletion: oneOf('NONE', 'DELETE'),
  },
  ['Name', 'ScheduleExpression', 'Target', 'FlexibleTimeWindow'],
);

export const CreateScheduleGroupInput = struct({ Name: ScheduleGroupName, Tags: TagList, ClientToken }, [
  'Name',
]);
export const TagResourceInput = struct({ ResourceArn: TagResourceArn, Tags: TagList }, [
  'ResourceArn',
  'Tags',
]);
export const UntagResourceInput = struct({ ResourceArn: TagResourceArn, TagKeys: TagKeyList }, [
  'ResourceArn',
  'TagKeys',
]);
export const ListTagsForResourceInput = struct({ ResourceArn: TagResourceArn }, ['ResourceArn']);
export const ListSchedulesInput = struct({
  GroupName: ScheduleGroupName,
  NamePrefix,
  State: ScheduleState,
  NextToken,
  MaxResults,
});
export const ListScheduleGroupsInput = struct({ NamePrefix: ScheduleGroupNamePrefix, NextToken, MaxResults });
export const NamedScheduleInput = struct({ Name, GroupName: ScheduleGroupName, ClientToken }, ['Name']);
export const NamedScheduleGroupInput = struct({ Name: ScheduleGroupName, ClientToken }, ['Name']);

// --- checking ---

export interface Violation {
  path: string;
  /** The offending value as AWS quotes it: `null` for a missing member, redacted for a sensitive one. */
  value: string | null;
  constraint: string;
}

/** What AWS shows in place of a sensitive member's value. */
const REDACTED = '*** Sensitive Data Redacted ***';

const lowerFirst = (name: string) => name.charAt(0).toLowerCase() + name.slice(1);

function quote(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > 256 ? `${text.slice(0, 256)}...` : text;
}

function codePoints(value: string): number {
  let n = 0;
  for (const _ of value) n++;
  return n;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Every constraint `value` breaks, walking the shape; members the model lacks are ignored, as by AWS. */
export function violations(shape: Shape, value: unknown, path = '', out: Violation[] = []): Violation[] {
  const at = (constraint: string): Violation[] => {
    const sensitive = shape.type === 'string' && shape.sensitive;
    out.push({ path, constraint, value: sensitive ? REDACTED : quote(value) });
    return out;
  };
  switch (shape.type) {
    case 'string': {
      if (typeof value !== 'string') return at('Member must be a string');
      // Lengths count characters (code points), as Smithy's length trait does; a string of n
      // UTF-16 units has n/2 to n of them, so most strings need no counting.
      const tooShort =
        shape.min !== undefined && value.length < 2 * shape.min && codePoints(value) < shape.min;
      const tooLong = shape.max !== undefined && value.length > shape.max && codePoints(value) > shape.max;
      if (tooShort) at(`Member must have length greater than or equal to ${shape.min}`);
      if (tooLong) at(`Member must have length less than or equal to ${shape.max}`);
      if (shape.pattern && !shape.pattern.test(value))
        at(`Member must satisfy regular expression pattern: ${shape.pattern.source}`);
      if (shape.enum && !shape.enum.includes(value))
        at(`Member must satisfy enum value set: [${shape.enum.join(', ')}]`);
      if (shape.forbids !== undefined && value.includes(shape.forbids))
        at(`Member must not contain "${shape.forbids}"`);
      return out;
    }
    case 'integer': {
      if (typeof value !== 'number' || !Number.isInteger(value)) return at('Member must be an integer');
      if (shape.min !== undefined && value < shape.min)
        at(`Member must have value greater than or equal to ${shape.min}`);
      if (shape.max !== undefined && value > shape.max)
        at(`Member must have value less than or equal to ${shape.max}`);
      return out;
    }
    case 'boolean':
      if (typeof value !== 'boolean') at('Member must be a boolean');
      return out;
    case 'timestamp':
      if (typeof value !== 'number' || !Number.isFinite(value)) at('Member must be a timestamp');
      return out;
    case 'list': {
      if (!Array.isArray(value)) return at('Member must be a list');
      if (shape.min !== undefined && value.length < shape.min)
        at(`Member must have length greater than or equal to ${shape.min}`);
      if (shape.max !== undefined && value.length > shape.max)
        at(`Member must have length less than or equal to ${shape.max}`);
      value.forEach((item, i) => {
        violations(shape.member, item, `${path}.${i + 1}.member`, out);
      });
      return out;
    }
    case 'map': {
      if (!isRecord(value)) return at('Member must be a map');
      for (const [k, v] of Object.entries(value)) {
        violations(shape.key, k, `${path}.${k}.key`, out);
        violations(shape.value, v, `${path}.${k}.value`, out);
      }
      return out;
    }
    case 'structure': {
      if (!isRecord(value)) return at('Member must be a structure');
      for (const [name, member] of Object.entries(shape.members)) {
        const memberPath = path ? `${path}.${lowerFirst(name)}` : lowerFirst(name);
        const memberValue = value[name];
        if (memberValue === undefined || memberValue === null) {
          if (shape.required?.includes(name))
            out.push({ path: memberPath, value: null, constraint: 'Member must not be null' });
          continue;
        }
        violations(member, memberValue, memberPath, out);
      }
      return out;
    }
  }
}

/** AWS's message for a list of violations: "N validation error(s) detected: Value ... at '...' ...; ...". */
export function violationMessage(found: readonly Violation[]): string {
  const each = found.map(
    (v) =>
      `Value ${v.value === null ? 'null' : `'${v.value}'`} at '${v.path}' failed to satisfy constraint: ${v.constraint}`,
  );
  return `${found.length} validation error${found.length === 1 ? '' : 's'} detected: ${each.join('; ')}`;
}
