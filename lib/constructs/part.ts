/**
 * The stack's parts (data, scheduling, API, worker, maintenance) group its resources in the
 * code and in the construct tree, but not in the template: a part's id is left out of the
 * logical id of everything in it, so each resource keeps the logical id it had when the
 * stack was one constructor. CloudFormation replaces a resource whose logical id changes:
 * a replaced table, queue or key loses its data, and a replaced function, schedule group or
 * alarm (fixed names) or event source mapping (one per queue and function) collides with
 * the one it replaces, failing the deployment.
 */
import { createHash } from 'node:crypto';
import { type CfnElement, Names, type Stack } from 'aws-cdk-lib';
import { Construct, type IConstruct } from 'constructs';

/** A construct whose id stays out of logical ids (see above). */
export class StackPart extends Construct {}

const isPart = (c: IConstruct): boolean => c instanceof StackPart;

/**
 * The logical id CDK would give `element` if no part were in its path. Stacks call this
 * from `allocateLogicalId`, the documented hook for their own logical id scheme.
 */
export function logicalIdWithoutParts(stack: Stack, element: CfnElement): string {
  const scopes = element.node.scopes;
  const path = scopes
    .slice(scopes.indexOf(stack) + 1)
    .filter((c) => !isPart(c))
    .map((c) => withoutPartsInNamedIds(stack, c.node.id));
  return uniqueId(path);
}

/**
 * Some construct ids embed another construct's unique id (`Names.nodeUniqueId`, which
 * names the parts too): an event source mapping names its queue, a rule's permission its
 * function, an API method's permission its REST API. Each such id of a construct inside
 * a part becomes the one it had without the parts.
 */
function withoutPartsInNamedIds(stack: Stack, id: string): string {
  // Unique ids start with the stack's id (or its stage's); nothing else needs the search.
  if (!id.includes(alphanumeric(stack.node.id))) return id;
  for (const part of stack.node.children.filter(isPart)) {
    for (const c of part.node.findAll()) {
      const current = Names.nodeUniqueId(c.node);
      if (id.includes(current)) {
        const legacy = uniqueId(
          c.node.scopes
            .slice(1)
            .filter((s) => !isPart(s))
            .map((s) => s.node.id),
        );
        return id.replace(current, legacy);
      }
    }
  }
  return id;
}

/**
 * CDK's own unique id of a construct path (aws-cdk-lib core/lib/private/uniqueid.ts,
 * not exported): the path's ids without `Default`, alphanumeric, joined, with duplicates
 * and `Resource` left out, then an 8-character hash of the path; a lone id as it is.
 */
function uniqueId(components: string[]): string {
  const path = components.filter((c) => c !== 'Default');
  if (path.length === 1 && alphanumeric(path[0]!).length <= 255) return alphanumeric(path[0]!);
  const hash = createHash('md5').update(path.join('/')).digest('hex').slice(0, 8).toUpperCase();
  const human: string[] = [];
  for (const c of path) if (human.length === 0 || !human[human.length - 1]!.endsWith(c)) human.push(c);
  return (
    human
      .filter((c) => c !== 'Resource')
      .map(alphanumeric)
      .join('')
      .slice(0, 240) + hash
  );
}

const alphanumeric = (s: string) => s.replace(/[^A-Za-z0-9]/g, '');
