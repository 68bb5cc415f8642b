/**
 * How the api function serves the console's files on Lambda: read from the package's
 * `console/` folder when first asked for (not at cold start), answered with the console's
 * policy, the sign-in domain the stack names allowed and no other.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiHandler } from '../../functions/handlers/api.js';
import type { ApiDeps } from '../../functions/http/app.js';
import { readConsoleFiles } from '../../functions/http/console.js';
import { apiGatewayEvent } from '../support/events.js';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sundial-console-'));
  await writeFile(join(dir, 'index.html'), '<!doctype html><html><script src="./app.js"></script></html>');
  await writeFile(join(dir, 'app.js'), 'console.log("console")');
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const get = (path: string, method = 'GET') => apiGatewayEvent({ path, method });

/** Only the console is asked for: the API's services are never touched. */
const noServices = {} as ApiDeps;

describe('the console on Lambda', () => {
  it('reads its files once, when first asked for, and serves them with their types', async () => {
    let reads = 0;
    const handler = createApiHandler(noServices, {
      files: async () => {
        reads++;
        return readConsoleFiles(dir);
      },
      cognito: null,
    });
    expect(reads).toBe(0);
    const page = await handler(get('/console/'));
    expect(page.statusCode).toBe(200);
    expect(page.headers?.['content-type']).toBe('text/html; charset=utf-8');
    expect(page.body).toContain('./app.js');
    const script = await handler(get('/console/app.js'));
    expect(script.headers?.['content-type']).toBe('text/javascript; charset=utf-8');
    expect(script.body).toBe('console.log("console")');
    expect(reads).toBe(1);

    // Revalidated by its ETag: unchanged, a 304 without the body.
    const etag = String(script.headers?.etag);
    expect(etag).toMatch(/^"[\w-]{27}"$/);
    const again = await handler(
      apiGatewayEvent({ path: '/console/app.js', method: 'GET', headers: { 'If-None-Match': etag } }),
    );
    expect(again.statusCode).toBe(304);
    expect(again.body).toBe('');
    const other = await handler(
      apiGatewayEvent({ path: '/console/app.js', method: 'GET', headers: { 'if-none-match': '"old"' } }),
    );
    expect(other.statusCode).toBe(200);
    expect((await handler(get('/console/'))).headers?.etag).not.toBe(etag);
  });

  it('lets the page reach the pool sign-in domain it names, and tells the page about it', async () => {
    const cognito = {
      domain: 'https://sundial-prod-123456789012.auth.eu-west-1.amazoncognito.com',
      clientId: 'abc123',
      region: 'eu-west-1',
    };
    const handler = createApiHandler(noServices, { files: readConsoleFiles(dir), cognito });
    const page = await handler(get('/console/index.html'));
    expect(page.headers?.['content-security-policy']).toContain(`connect-src 'self' ${cognito.domain};`);
    const config = await handler(get('/console/config.json'));
    expect(JSON.parse(config.body)).toEqual({ cognito });
  });

  it('answers 404 without a packaged console, and for a path outside its files', async () => {
    const bare = createApiHandler(noServices, {
      files: readConsoleFiles(join(dir, 'absent')),
      cognito: null,
    });
    expect((await bare(get('/console/'))).statusCode).toBe(404);
    const handler = createApiHandler(noServices, { files: readConsoleFiles(dir), cognito: null });
    for (const path of ['/console/../index.html', '/console/constructor', '/console/__proto__']) {
      expect((await handler(get(path))).statusCode, path).toBe(404);
    }
    expect((await handler(get('/console/', 'DELETE'))).statusCode).toBe(405);
  });
});
