/** SSRF protection: which addresses are internal, and that the check holds at connect time too. */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callHttpTarget, type HttpCall } from '../../functions/adapters/http-target.js';
import { isInternalAddress, parseAllowedHosts, UrlGuard } from '../../functions/adapters/url-guard.js';

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
    // IPv4-compatible IPv6 and local-use NAT64 reach IPv4 space too.
    '::127.0.0.1',
    '::7f00:1',
    '::a9fe:a9fe',
    '64:ff9b:1::a9fe:a9fe',
    '64:ff9b:1:ffff::1',
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
    allowedHosts: ['internal.corp.example', '*.svc.example:8080', '10.0.0.5:9000-9001'],
    ownPorts: [9001],
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

  it('refuses addresses in the URL that embed IPv4 space, as Node parses them', async () => {
    for (const url of [
      'http://[::127.0.0.1]/',
      'http://[::7f00:1]:8080/',
      'http://[64:ff9b:1::a9fe:a9fe]/',
      'http://[::ffff:169.254.169.254]/',
    ]) {
      expect(await guard.refusal(url), url).toMatch(/internal/);
    }
  });

  it('allows public names and the hosts an operator allowed, on the ports allowed', async () => {
    expect(await guard.refusal('https://public.example/run')).toBeNull();
    // A bare host: its default ports only.
    expect(await guard.refusal('http://internal.corp.example/')).toBeNull();
    expect(await guard.refusal('https://internal.corp.example/')).toBeNull();
    expect(await guard.refusal('http://internal.corp.example:8000/')).toMatch(/does not resolve/);
    expect(await guard.refusal('http://jobs.svc.example:8080/')).toBeNull();
    expect(await guard.refusal('http://jobs.svc.example/')).toMatch(/does not resolve/);
    expect(await guard.refusal('http://svc.example.evil:8080/')).toMatch(/does not resolve/);
    expect(await guard.refusal('http://10.0.0.5:9000/')).toBeNull();
    expect(await guard.refusal('http://10.0.0.5:9002/')).toMatch(/10\.0\.0\.5 is an internal/);
  });

  it("refuses Sundial's own ports even on an allowed host", async () => {
    // The same answer as any internal address: refusals do not tell which ports are Sundial's.
    expect(await guard.refusal('http://10.0.0.5:9001/')).toBe(await guard.refusal('http://10.0.0.5:9002/'));
  });

  it('parses allowlist entries and refuses malformed ones, naming them', () => {
    expect(parseAllowedHosts(['[::1]:8000-8999', 'a.example:443'])).toEqual([
      { host: '::1', low: 8000, high: 8999 },
      { host: 'a.example', low: 443, high: 443 },
    ]);
    for (const bad of ['a.example:0', 'a.example:70000', 'a.example:9-8', 'http://a.example/', 'a b']) {
      expect(() => parseAllowedHosts([bad]), bad).toThrow(
        new RegExp(`"${bad.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}"`),
      );
    }
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

  const target = (url: string): HttpCall => ({
    url,
    method: 'GET',
    headers: {},
    body: null,
    timeoutSeconds: 5,
  });
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
    const allowed = new UrlGuard({ allowedHosts: [`127.0.0.1:${port}`] });
    expect(await callHttpTarget(target(`http://127.0.0.1:${port}/`), context, allowed)).toMatchObject({
      kind: 'response',
      statusCode: 200,
      bodyExcerpt: 'inside',
    });
    expect(hits).toBe(1);
  });

  it("refuses an allowed host on a port the entry does not name, or on one of Sundial's own", async () => {
    const otherPort = new UrlGuard({ allowedHosts: [`127.0.0.1:${port + 1}`] });
    expect(await callHttpTarget(target(`http://127.0.0.1:${port}/`), context, otherPort)).toMatchObject({
      kind: 'rejected',
      type: 'target_not_allowed',
    });
    const own = new UrlGuard({ allowedHosts: [`localhost:${port}`], ownPorts: [port] });
    const outcome = await callHttpTarget(target(`http://localhost:${port}/`), context, own);
    expect(outcome).toMatchObject({ kind: 'rejected', type: 'target_not_allowed' });
    expect(outcome.kind === 'rejected' && outcome.message).toMatch(/resolves to .* internal/);
    expect(hits).toBe(1);
  });
});
