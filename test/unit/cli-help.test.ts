/** Every command of the CLI, groups included, says how it is used with an example. */
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../cli/program.js';

function helpOf(command: Command): string {
  let text = '';
  command.configureOutput({ writeOut: (s) => (text += s), writeErr: (s) => (text += s) });
  command.outputHelp();
  return text;
}

function everyCommand(command: Command, path: string[] = []): [string, Command][] {
  return command.commands
    .filter((c) => c.name() !== 'help')
    .flatMap((c) => [
      [[...path, c.name()].join(' '), c] as [string, Command],
      ...everyCommand(c, [...path, c.name()]),
    ]);
}

describe('sundial --help', () => {
  it('shows examples for the program and for every command and group', () => {
    const program = buildProgram();
    expect(helpOf(program)).toContain('Examples:');
    const commands = everyCommand(program);
    expect(commands.map(([name]) => name)).toEqual(
      expect.arrayContaining([
        'jobs list',
        'runs watch',
        'dlq',
        'breakers list',
        'breakers reset',
        'apply',
        'dr status',
        'dr failover',
        'dr failback',
      ]),
    );
    for (const [name, command] of commands)
      expect(helpOf(command), name).toMatch(/Examples?:\n {2}\$ sundial /);
  });
});
