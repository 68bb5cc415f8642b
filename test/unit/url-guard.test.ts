/** SSRF protection: which addresses are internal, and that the check holds at connect time too. */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callHttpTarget } from '../../functions/adapters/http-target.js';
import { isInternalAddress, UrlGuard } from '../../functions/adapters/url-guard.js';

describe('isInternalAddress', () => {
  it.each([
    '127.0.0.1',
    '127.255.0.9',
    '10.1.2.3',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '224.0.0.1',
    '255.255.255.255',
    '::',
    '::1',
    'fe80::1',
    'fd00:ec2::254',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:a9fe:a9fe',
    '64:ff9b::a00:1',
    '2002:a00:1::',
    'not-an-address',
  ])('refuses %s', (address) => {
    expect(isInternalAddress(address)).toBe(true);
  });

  it.each(['8.8.8.8', '172.32.0.1', '93.184.216.34', '2606:4700:4700::1111', '::ffff:8.8.8.8'])(
    'allows %s',
    (address) => {
      expect(isInternalAddress(address)).toBe(false);
    },
  );
});

describe('UrlGuard', () => {
  const dns: Record<string, string[]> = {
    'metadata.example': ['169.254.169.254'],
    'public.example': ['93.184.216.34'],
    'mixed.example': ['93.184.216.34', '10.0.0.7'],
  };
  const guard = new UrlGuard({
    allowedHosts: ['internal.corp.example', '*.svc.example'],
    resolve: async (host) => {
      const addresses = dns[host];
      if (!addresses) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
      return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
    },
  });

  it('refuses literal internal addresses and names that resolve to any internal address', async () => {
    expect(await guard.refusal('http://169.254.169.254/latest/meta-data/')).toMatch(
      /^169\.254\.169\.254 is an internal/,
    );
    expect(await guard.refusal('http://[::1]:8080/')).toMatch(/^::1 is an internal/);
    expect(await guard.refusal('https://metadata.example/')).toMatch(/resolves to 169\.254\.169\.254/);
    expect(await guard.refusal('https://mixed.example/')).toMatch(/resolves to 10\.0\.0\.7/);
    expect(await guard.refusal('https://nowhere.example/')).toMatch(/does not resolve \(ENOTFOUND\)/);
  });

  it('allows public names and the hosts an operator allowed', async () => {
    expect(await guard.refusal('https://public.example/run')).toBeNull();
    expect(await guard.refusal('http://internal.corp.example/')).toBeNull();
    expect(await guard.refusal('http://jobs.svc.example/')).toBeNull();
    expect(await guard.refusal('http://svc.example.evil/')).toMatch(/does not resolve/);
  });
});

describe('the HTTP target at call time', () => {
  let server: Server;
  let port = 0;
  let hits = 0;
  beforeAll(async () => {
    server = createServer((_req, res) => {
      hits++;
      res.writeHead(200).end('inside');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    port = typeof address === 'object' && address ? address.port : 0;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const target = (url: string) =>
    ({ type: 'http', url, method: 'GET', headers: {}, body: null, timeoutSeconds: 5 }) as const;
  const context = { jobId: 'job_1', runId: 'run_1', scheduledAt: '2026-11-23T01:00:00.000Z' };

  it('refuses an internal address in the URL without connecting', async () => {
    const outcome = await callHttpTarget(
      target(`http://127.0.0.1:${port}/`),
      context,
      new UrlGuard({ allowedHosts: [] }),
    );
    expect(outcome).toMatchObject({ kind: 'rejected', type: 'target_not_allowed' });
    expect(hits).toBe(0);
  });

  it('checks the address it connects to: a name that rebinds to loopback after the save-time check is refused', async () => {
    let answers = 0;
    // The first answer (when the job was saved) was public; the next one points inside.
    const rebinding = new UrlGuard({
      allowedHosts: [],
      resolve: async () => [{ address: answers++ === 0 ? '93.184.216.34' : '127.0.0.1', family: 4 }],
    });
    const url = `http://rebind.example:${port}/`;
    expect(await rebinding.refusal(url)).toBeNull();
    const outcome = await callHttpTarget(target(url), context, rebinding);
    expect(outcome).toMatchObject({ kind: 'rejected', type: 'target_not_allowed' });
    expect(outcome.kind === 'rejected' && outcome.message).toMatch(/resolves to 127\.0\.0\.1/);
    expect(hits).toBe(0);
  });

  it('calls an allowed host, and does not follow redirects', async () => {
    const allowed = new UrlGuard({ allowedHosts: ['127.0.0.1'] });
    expect(await callHttpTarget(target(`http://127.0.0.1:${port}/`), context, allowed)).toMatchObject({
      kind: 'response',
      statusCode: 200,
      bodyExcerpt: 'inside',
    });
    expect(hits).toBe(1);
  });
});
