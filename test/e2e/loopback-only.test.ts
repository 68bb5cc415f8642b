/**
 * The local runtime is reachable from this machine only: every emulator and stand-in (DynamoDB
 * Local, fauxqs, the Scheduler emulator, Lambda, EventBridge, KMS) and the API listen on
 * 127.0.0.1, never on 0.0.0.0 or ::. Reads the kernel's socket tables (Linux); connects nowhere.
 */

import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../local/manual-clock.js';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime.js';

interface Listener {
  address: string;
  port: number;
  inode: string;
}

const LISTEN = '0A';

/** `0100007F` → 127.0.0.1; IPv6 is four host-order 32-bit words. */
function decodeAddress(hex: string): string {
  const words = hex.match(/.{8}/g) ?? [];
  const bytes = words.flatMap((word) =>
    (word.match(/../g) ?? []).reverse().map((byte) => Number.parseInt(byte, 16)),
  );
  if (bytes.length === 4) return bytes.join('.');
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) {
    return `::ffff:${bytes.slice(12).join('.')}`;
  }
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)).toString(16));
  return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}

function listeners(): Listener[] {
  const result: Listener[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!existsSync(table)) continue;
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      const [local, state, inode] = [fields[1], fields[3], fields[9]];
      if (!local || state !== LISTEN || !inode) continue;
      const [address = '', port = ''] = local.split(':');
      result.push({ address: decodeAddress(address), port: Number.parseInt(port, 16), inode });
    }
  }
  return result;
}

/** Inodes of the sockets a process holds open. */
function socketInodes(pid: number | 'self'): Set<string> {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match?.[1]) inodes.add(match[1]);
    } catch {
      // The descriptor closed while we looked.
    }
  }
  return inodes;
}

/** 127.0.0.1, whether on an IPv4 socket or a dual-stack one bound to its IPv4-mapped form. */
const isLoopbackOnly = (address: string) => address === '127.0.0.1' || address === '::ffff:127.0.0.1';

describe.skipIf(!existsSync('/proc/net/tcp'))('the local runtime listens on loopback only', () => {
  let runtime: LocalRuntime;

  beforeAll(async () => {
    runtime = await startLocalRuntime({
      port: 0,
      clock: new ManualClock('2030-01-01T00:00:00Z'),
      logLevel: 'SILENT',
    });
  });

  afterAll(async () => {
    await runtime?.stop();
  });

  /** Listening sockets of this process and of its DynamoDB Local child. */
  function ownListeners(): Listener[] {
    expect(runtime.dynamoDbPid).toBeTypeOf('number');
    const owned = new Set([...socketInodes('self'), ...socketInodes(runtime.dynamoDbPid as number)]);
    return listeners().filter((listener) => owned.has(listener.inode));
  }

  it('binds every emulator, stand-in and the API to 127.0.0.1', () => {
    const known = {
      api: runtime.apiUrl,
      dynamodb: runtime.endpoints.dynamodb,
      sqs: runtime.endpoints.sqs,
      scheduler: runtime.endpoints.scheduler,
      lambda: runtime.endpoints.lambda,
      eventBridge: runtime.endpoints.eventBridge,
      kms: runtime.endpoints.kms,
      ecs: runtime.endpoints.ecs,
      stepFunctions: runtime.endpoints.stepFunctions,
    };
    const own = ownListeners();
    const bound = Object.fromEntries(
      Object.entries(known).map(([name, url]) => {
        const port = Number(new URL(url).port);
        return [name, own.filter((listener) => listener.port === port).map((listener) => listener.address)];
      }),
    );
    expect(bound).toEqual(Object.fromEntries(Object.keys(known).map((name) => [name, [expect.any(String)]])));
    for (const [name, addresses] of Object.entries(bound)) {
      for (const address of addresses)
        expect(isLoopbackOnly(address), `${name} listens on ${address}`).toBe(true);
    }
  });

  it('opens no listening socket on another interface', () => {
    const exposed = ownListeners().filter((listener) => !isLoopbackOnly(listener.address));
    expect(
      exposed.map(({ address, port }) =>
        address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`,
      ),
    ).toEqual([]);
  });

  it('serves the API at the loopback address it reports', async () => {
    expect(new URL(runtime.apiUrl).hostname).toBe('127.0.0.1');
    const res = await fetch(`${runtime.apiUrl}/v1/health`);
    expect(res.status).toBe(200);
  });
});
