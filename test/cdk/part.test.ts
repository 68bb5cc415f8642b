/** Stack parts group resources in the code, not in the template: logical ids ignore them. */
import { App, type CfnElement, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { Code, Function as LambdaFn, Runtime } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { logicalIdWithoutParts, StackPart } from '../../lib/constructs/part.js';
import { SundialStack } from '../../lib/sundial-stack.js';

class PartedStack extends Stack {
  protected override allocateLogicalId(element: CfnElement): string {
    return logicalIdWithoutParts(this, element);
  }
}

/** A queue feeding a function that a rule also runs: ids that name other constructs' unique ids. */
function build(stack: Stack, data: Construct, work: Construct) {
  const queue = new Queue(data, 'Jobs');
  const fn = new LambdaFn(work, 'Worker', {
    runtime: Runtime.NODEJS_24_X,
    handler: 'index.handler',
    code: Code.fromInline('export const handler = async () => {};'),
  });
  fn.addEventSource(new SqsEventSource(queue));
  new Rule(work, 'Every', {
    schedule: Schedule.rate(Duration.minutes(1)),
    targets: [new LambdaFunction(fn)],
  });
  return stack;
}

const idsOf = (stack: Stack) => {
  const t = Template.fromStack(stack).toJSON() as { Resources: Record<string, { Type: string }> };
  return Object.fromEntries(Object.entries(t.Resources).map(([id, r]) => [id, r.Type]));
};

describe('StackPart', () => {
  it('gives everything in a part the logical id it has at the top of the stack', () => {
    const flat = new Stack(new App(), 'Parts');
    build(flat, flat, flat);
    const parted = new PartedStack(new App(), 'Parts');
    build(parted, new StackPart(parted, 'Data'), new StackPart(parted, 'Work'));
    const ids = idsOf(flat);
    // The event source mapping's id names the queue, the rule's permission the function.
    expect(Object.keys(ids).filter((id) => /SqsEventSource|AllowEventRule/.test(id))).toHaveLength(2);
    expect(idsOf(parted)).toEqual(ids);
  });

  it("refuses two parts' resources that would share a logical id", () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new SundialStack(app, 'Sundial-clash', { stage: 'dev' });
    // The data part already has a queue with this id.
    new Queue(stack.worker, 'JobsHighQueue');
    expect(() => app.synth()).toThrow(
      /Sundial-clash\/Worker\/JobsHighQueue\/Resource and Sundial-clash\/Data\/JobsHighQueue\/Resource would share the logical id JobsHighQueue/,
    );
  });
});
