/** The CLI's output for people: aligned columns, colour only where it may be, zones, config precedence. */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { configPath, readConfig, resolveTarget, UsageError, writeConfig } from '../../cli/context.js';
import { paint, setColour, table, useColour } from '../../cli/format.js';

afterEach(() => setColour(false));

describe('table', () => {
  it('aligns each column to its widest cell, colour codes taking no room', () => {
    setColour(true);
    const text = table(
      ['ID', 'STATUS', 'NOTE'],
      [
        ['a', paint('green', 'succeeded'), 'x'],
        ['longer-id', 'failed', ''],
      ],
    );
    const plain = stripVTControlCharacters(text);
    expect(plain.split('\n')).toEqual([
      'ID         STATUS     NOTE',
      'a          succeeded  x',
      'longer-id  failed',
    ]);
  });
});

describe('colour', () => {
  it('is on for a terminal unless NO_COLOR is set; FORCE_COLOR forces it', () => {
    expect(useColour({ isTTY: true }, {})).toBe(true);
    expect(useColour({ isTTY: false }, {})).toBe(false);
    expect(useColour({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(useColour({ isTTY: false }, { FORCE_COLOR: '1' })).toBe(true);
    expect(useColour({ isTTY: true }, { FORCE_COLOR: '0' })).toBe(true);
    expect(useColour({ isTTY: false }, { FORCE_COLOR: '0' })).toBe(false);
  });

  it('leaves text alone when off', () => {
    setColour(false);
    expect(paint('red', 'failed')).toBe('failed');
  });
});

describe('configuration', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('keeps profiles 0600 under XDG_CONFIG_HOME, the environment winning over them', async () => {
    dir = await mkdtemp(join(tmpdir(), 'sundial-config-'));
    const env = { XDG_CONFIG_HOME: dir };
    expect(configPath(env)).toBe(join(dir, 'sundial', 'config.json'));
    expect(await readConfig(env)).toEqual({ profiles: {} });
    await writeConfig({ profiles: { default: { url: 'https://a.example', apiKey: 'sk_a' } } }, env);
    expect((await stat(configPath(env))).mode & 0o777).toBe(0o600);

    expect(await resolveTarget({}, env)).toEqual({
      url: 'https://a.example',
      apiKey: 'sk_a',
      profile: 'default',
    });
    expect(
      await resolveTarget({}, { ...env, SUNDIAL_API_KEY: 'sk_env', SUNDIAL_URL: 'https://b.example' }),
    ).toEqual({ url: 'https://b.example', apiKey: 'sk_env', profile: 'default' });
    // No profile and no environment: the default URL, no key (the command then says how to get one).
    expect(await resolveTarget({}, { XDG_CONFIG_HOME: join(dir, 'empty') })).toEqual({
      url: 'http://localhost:3000',
      apiKey: undefined,
      profile: 'default',
    });
    await expect(resolveTarget({ profile: 'prod' }, env)).rejects.toBeInstanceOf(UsageError);
  });
});
