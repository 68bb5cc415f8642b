/** `sundial breakers list|reset`: the tenant's circuit breakers per target (issue 17). */
import type { Command } from 'commander';
import { allPages, contextOf, must, printJson } from '../context.js';
import { at, cut, paint, status, table, viewerZone } from '../format.js';
import { listQuery, type PageOptions, pageOptions } from './shared.js';

/**
 * A breaker's id as the API names it, from the id itself or the target it guards: an ARN (or
 * an SQS queue URL) as it is, a host[:port] lowercased, as the worker keys HTTP targets.
 */
export function breakerIdOf(idOrTarget: string): string {
  if (idOrTarget.startsWith('brk_')) return idOrTarget;
  const exact = idOrTarget.startsWith('arn:') || idOrTarget.includes('://') || idOrTarget.includes('|');
  const target = exact ? idOrTarget : idOrTarget.toLowerCase();
  return `brk_${Buffer.from(target, 'utf8').toString('base64url')}`;
}

export function registerBreakers(program: Command): void {
  const breakers = program
    .command('breakers')
    .description('circuit breakers: per target, they stop calling one that keeps failing for a cool-down')
    .addHelpText(
      'after',
      '\nExamples:\n  $ sundial breakers list\n  $ sundial breakers reset api.example.com',
    );
  pageOptions(breakers.command('list').description('the targets that have failed, with their breaker state'))
    .addHelpText(
      'after',
      '\nExamples:\n  $ sundial breakers list\n  $ sundial breakers list --json | jq -r \'.items[] | select(.state == "open") | .target\'',
    )
    .action(async (options: PageOptions, command: Command) => {
      const ctx = await contextOf(command);
      const page = await allPages(
        (cursor) => must(ctx.api.GET('/v1/breakers', { params: { query: listQuery(options, cursor, {}) } })),
        Boolean(options.all),
        options.cursor,
      );
      if (ctx.json) return printJson(page);
      if (page.items.length === 0) return ctx.out('No breakers: no target has failed.');
      ctx.out(
        table(
          ['TARGET', 'STATE', 'FAILURES', `NEXT TRY (${viewerZone()})`, 'LAST ERROR', 'ID'],
          page.items.map((b) => [
            cut(b.target, 60),
            status(b.state),
            String(b.failures),
            b.state === 'closed' ? '-' : at(b.retryAt),
            cut(b.lastError ?? '-', 50),
            b.id,
          ]),
        ),
      );
      if (page.nextCursor) ctx.out(paint('dim', `More: --cursor ${page.nextCursor} (or --all)`));
    });

  breakers
    .command('reset')
    .description('close a breaker now (operator): its waiting runs are tried at their next look')
    .argument('<breaker>', "the breaker's id (brk_…) or the target it guards: a host[:port] or an ARN")
    .addHelpText(
      'after',
      '\nExamples:\n  $ sundial breakers reset api.example.com\n  $ sundial breakers reset arn:aws:lambda:eu-west-1:123456789012:function:report',
    )
    .action(async (breaker: string, _options: unknown, command: Command) => {
      const ctx = await contextOf(command);
      const id = breakerIdOf(breaker);
      const reset = await must(
        ctx.api.POST('/v1/breakers/{breakerId}/reset', { params: { path: { breakerId: id } } }),
      );
      if (ctx.json) return printJson(reset);
      ctx.out(`Breaker for ${reset.target} is ${status(reset.state)}.`);
    });
}
