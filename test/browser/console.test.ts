/**
 * The web console in a real browser against the local runtime (real clock): sign in with
 * the dev key (by keyboard), find a job made through the API, run it and watch the run
 * end, pause it with a reason, show an API error with its field, redrive a dead letter,
 * manage keys, read the audit log and reset an open circuit breaker. Every page is checked with axe-core, every request
 * the page makes must go to the runtime's origin, and the page must break no rule of its
 * Content-Security-Policy. Screenshots land in test-results/console/.
 */
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSundialClient, type Job, must, type SundialClient } from '../../client/index.js';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime.js';
import { eventually, listenForTargets, sendRaw } from '../e2e/support.js';
import { type Browser, checkA11y, chromiumPath, openBrowser, poll, UI_TIMEOUT } from './browser.js';

const SHOTS = join(process.cwd(), 'test-results', 'console');
/** The viewer's zone, unlike the jobs' (America/New_York), so both columns differ. */
const VIEWER_ZONE = 'Europe/Paris';

/**
 * A team's endpoint: /ok answers at once, /slow after 4 s (long enough to watch a run live),
 * /mixed takes 0.2-1.5 s and fails one call in five (a history worth charting).
 */
async function startTarget(): Promise<{ url: string; server: Server; calls: string[] }> {
  const calls: string[] = [];
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      calls.push(req.url ?? '/');
      const answer = () =>
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true }));
      if (req.url?.startsWith('/slow')) setTimeout(answer, 4000);
      else if (req.url?.startsWith('/down'))
        res.writeHead(503, { 'content-type': 'text/plain' }).end('maintenance');
      else if (req.url?.startsWith('/mixed')) {
        const n = calls.filter((c) => c.startsWith('/mixed')).length;
        const fail = () => res.writeHead(503, { 'content-type': 'text/plain' }).end('ledger locked');
        setTimeout(n % 5 === 0 ? fail : answer, 200 + ((n * 389) % 1300));
      } else answer();
    });
  });
  const port = await listenForTargets(server);
  return { url: `http://127.0.0.1:${port}`, server, calls };
}

let runtime: LocalRuntime;
let target: Awaited<ReturnType<typeof startTarget>>;
let api: SundialClient;
let browser: Browser;
let page: Page;
let consoleUrl: string;
let slowJob: Job;
let okJob: Job;

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

function focusedId(): Promise<unknown> {
  return page.evaluate('document.activeElement?.id');
}

/** Presses Tab until the focused element's text is `text` (keyboard only, as a person would). */
async function tabTo(text: string | RegExp, limit = 60): Promise<void> {
  for (let i = 0; i < limit; i++) {
    await page.keyboard.press('Tab');
    const focused = String(await page.evaluate("document.activeElement?.textContent?.trim() ?? ''"));
    if (typeof text === 'string' ? focused === text : text.test(focused)) return;
  }
  throw new Error(`Tab never reached ${text}`);
}

beforeAll(async () => {
  chromiumPath(); // fails at once, naming the fix, when Chromium is missing
  mkdirSync(SHOTS, { recursive: true });
  target = await startTarget();
  runtime = await startLocalRuntime({ port: 0, logLevel: 'SILENT' });
  api = createSundialClient({ baseUrl: runtime.apiUrl, apiKey: runtime.devApiKey });
  consoleUrl = `${runtime.apiUrl}/console/`;

  const job = (name: string, path: string, tags: Record<string, string>) =>
    must(
      api.POST('/v1/jobs', {
        body: {
          name,
          description: `Calls ${path} on the first of each month at 09:00 New York time.`,
          // Monthly in a zone with daylight saving: ten fire times always cross a change.
          schedule: { expression: 'cron(0 9 1 * ? *)', timezone: 'America/New_York' },
          target: { type: 'http', url: `${target.url}${path}`, method: 'POST', body: '{"report":"monthly"}' },
          retryPolicy: { maxAttempts: 3 },
          tags,
        },
      }),
    );
  slowJob = await job('nightly-invoices', '/slow', { team: 'billing', env: 'prod' });
  okJob = await job('warehouse-export', '/ok', { team: 'data' });

  browser = await openBrowser({ profilePrefix: 'sundial-console-', timezoneId: VIEWER_ZONE });
  page = browser.page;
});

afterAll(async () => {
  await browser?.close();
  await runtime?.stop();
  target?.server.closeAllConnections();
  await new Promise<void>((resolve) => target?.server.close(() => resolve()) ?? resolve());
});

describe('the console', () => {
  it('signs in with the API key and reaches a job using only the keyboard', async () => {
    await page.goto(consoleUrl);
    await poll(() => page.getByRole('heading', { level: 1, name: 'Sign in to Sundial' }).isVisible()).toBe(
      true,
    );
    await checkA11y(page, 'sign-in');
    await shot('sign-in');

    // The key field has focus on arrival: type, Enter.
    await poll(() => focusedId()).toBe('api-key');
    await page.keyboard.type(runtime.devApiKey);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Jobs' }).waitFor();
    const row = page.getByRole('row', { name: /nightly-invoices/ });
    await row.waitFor();
    await poll(() => row.textContent()).toContain('team:billing');
    // Next run in the job's zone (-05:00 in winter) and in the viewer's (+01:00).
    await poll(() => row.textContent()).toContain('(-05:00)');
    await poll(() => row.textContent()).toContain('(+01:00)');
    await checkA11y(page, 'jobs');
    await shot('jobs');

    await tabTo('nightly-invoices');
    // The focused link shows a visible focus ring.
    const outline = await page.evaluate('getComputedStyle(document.activeElement).outlineStyle');
    expect(outline).not.toBe('none');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'nightly-invoices' }).waitFor();
    // Focus moved to the new page's heading.
    await poll(() => focusedId()).toBe('page-title');
    expect(page.url()).toContain(`#/jobs/${slowJob.id}`);
  });

  it('filters the jobs by name and by tag', async () => {
    await page.goto(`${consoleUrl}#/jobs`);
    await page.getByRole('row', { name: /warehouse-export/ }).waitFor();
    await page.getByLabel('Name contains').fill('invoices');
    await poll(() => page.getByRole('row', { name: /warehouse-export/ }).count()).toBe(0);
    await poll(() => page.getByRole('row', { name: /nightly-invoices/ }).count()).toBe(1);
    await page.getByLabel('Name contains').fill('');
    await page.getByLabel('Tag (key:value)').fill('team:data');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await poll(() => page.getByRole('row', { name: /nightly-invoices/ }).count()).toBe(0);
    await poll(() => page.getByRole('row', { name: /warehouse-export/ }).count()).toBe(1);
    expect(page.url()).toContain('tag=team%3Adata');
  });

  it('shows the next ten fire times with the daylight-saving change marked', async () => {
    await page.goto(`${consoleUrl}#/jobs/${slowJob.id}`);
    const fireTimes = page.getByRole('table', { name: /next 10 fire times/ });
    await fireTimes.waitFor();
    await poll(() => fireTimes.getByRole('row').count()).toBe(11);
    // New York leaves -05:00 for -04:00 in March, and comes back in November.
    await poll(() => fireTimes.textContent()).toContain('changes: offset -05:00 → -04:00');
    expect(await fireTimes.textContent()).toContain('09:00');
    await poll(() => page.getByRole('region', { name: 'Definition' }).textContent()).toContain(
      'cron(0 9 1 * ? *)',
    );
  });

  it('runs the job now and follows the run live until it succeeds', async () => {
    await page.getByRole('button', { name: 'Run now' }).click();
    await poll(() => page.getByRole('status').last().textContent()).toMatch(/Run run_\S+ queued/);
    const history = page.getByRole('table', { name: 'Runs, newest first' });
    const runLink = history.getByRole('link', { name: /^run_/ }).first();
    await runLink.waitFor();
    await runLink.click();
    await page.getByRole('heading', { level: 1, name: /^Run run_/ }).waitFor();
    // The target takes 4 s: the page shows it live, then final.
    await poll(() => page.getByText('live, refreshed every 2 s').count()).toBe(1);
    const summary = page.getByRole('region', { name: 'Summary' });
    await poll(() => summary.textContent(), UI_TIMEOUT).toContain('succeeded');
    await poll(() => page.getByText('live, refreshed every 2 s').count()).toBe(0);
    const attempts = page.getByRole('table', { name: 'Attempts, oldest first' });
    await poll(() => attempts.textContent()).toContain('200');
    await poll(() => page.getByRole('region', { name: 'Outcome' }).textContent()).toContain('"ok":true');
    await checkA11y(page, 'run');
    await shot('run');
    expect(target.calls.filter((c) => c === '/slow')).toHaveLength(1);

    // Back on the job: the history has the run, charted.
    await page
      .getByRole('navigation', { name: 'Breadcrumb' })
      .getByRole('link', { name: 'nightly-invoices' })
      .click();
    await page.getByRole('heading', { level: 1, name: 'nightly-invoices' }).waitFor();
    await poll(() => page.getByRole('table', { name: 'Runs, newest first' }).textContent()).toContain(
      'succeeded',
    );
    await poll(() => page.getByRole('img', { name: /Run durations over time/ }).count()).toBe(1);
  });

  it('shows an API refusal with the field it names (a backfill ending before it starts)', async () => {
    await page.getByRole('button', { name: 'Backfill…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Backfill' });
    await dialog.waitFor();
    await dialog.getByLabel('From (UTC)').fill('2026-11-02T00:00');
    await dialog.getByLabel('To (UTC, not included)').fill('2026-11-01T00:00');
    await dialog.getByRole('button', { name: 'Backfill', exact: true }).click();
    const alert = dialog.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toContain('Backfill refused');
    expect(await alert.locator('li').textContent()).toBe('to: must be after from');
    await checkA11y(page, 'backfill dialog');
    // Escape closes the dialog and gives focus back to the button that opened it.
    await page.keyboard.press('Escape');
    await poll(() => dialog.isVisible()).toBe(false);
    await poll(() => page.evaluate('document.activeElement?.textContent')).toBe('Backfill…');
  });

  it('pauses the job with a reason, shown on the job page and the jobs list', async () => {
    await page.getByRole('button', { name: 'Pause…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Pause the job' });
    await dialog.getByLabel('Reason (optional)').fill('the invoicing API is down until Monday');
    await dialog.getByRole('button', { name: 'Pause job' }).click();
    await poll(() => dialog.isVisible()).toBe(false);
    await poll(() => page.locator('.paused-banner').textContent()).toContain(
      'the invoicing API is down until Monday',
    );
    await poll(() => page.getByRole('button', { name: 'Resume' }).count()).toBe(1);
    const job = await must(api.GET('/v1/jobs/{jobId}', { params: { path: { jobId: slowJob.id } } }));
    expect(job).toMatchObject({ state: 'paused', pausedReason: 'the invoicing API is down until Monday' });
    await checkA11y(page, 'job');
    await shot('job');

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Jobs' }).click();
    const row = page.getByRole('row', { name: /nightly-invoices/ });
    await poll(() => row.textContent()).toContain('the invoicing API is down until Monday');
    await poll(() => row.textContent()).toContain('paused');
  });

  it('redrives a dead letter', async () => {
    // A firing Sundial signed, put straight on the dead-letter queue: the archiver records it.
    const runId = `run_console_${Date.now()}`;
    const firing = await runtime.services.firingSigner.sign({
      v: 1,
      tenantId: 'dev',
      jobId: okJob.id,
      trigger: 'manual',
      scheduledTime: new Date().toISOString(),
      runId,
    });
    await sendRaw(runtime, runtime.queues.default.dlqUrl, firing);
    const letter = await eventually(
      async () => {
        const page = await must(api.GET('/v1/dead-letters', { params: { query: { status: 'dead' } } }));
        return page.items.find((l) => l.runId === runId);
      },
      { timeoutMs: 30_000, what: 'the dead letter to be archived' },
    );

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Dead letters' }).click();
    await page.getByRole('heading', { level: 1, name: 'Dead letters' }).waitFor();
    const checkbox = page.getByRole('checkbox', { name: `Select dead letter ${letter.id}` });
    await checkbox.check();
    await checkA11y(page, 'dead-letters');
    await shot('dead-letters');
    await page.getByRole('button', { name: /^Redrive 1 selected$/ }).click();
    await poll(() => page.getByRole('status').last().textContent()).toContain('1 redriven');
    await poll(() => checkbox.count()).toBe(0);
    await page.getByLabel('Show').selectOption('redriven');
    await poll(() => page.getByRole('row', { name: new RegExp(okJob.id) }).textContent()).toContain(
      'redriven',
    );

    const run = await eventually(
      async () => {
        const { data } = await api.GET('/v1/jobs/{jobId}/runs/{runId}', {
          params: { path: { jobId: okJob.id, runId } },
        });
        return data?.status === 'succeeded' ? data : undefined;
      },
      { timeoutMs: 30_000, what: 'the redriven run to succeed' },
    );
    expect(run.trigger).toBe('manual');
  });

  it('creates a key, shows its secret once, lists it and revokes it (admin)', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'API keys' }).click();
    await page.getByRole('heading', { level: 1, name: 'API keys' }).waitFor();
    await page.getByLabel('Name').fill('console reporting');
    await page.getByLabel('Role').selectOption('viewer');
    await page.getByRole('button', { name: 'Create key' }).click();
    const secret = page.getByLabel('The new key');
    await secret.waitFor();
    const key = await secret.inputValue();
    expect(key.length).toBeGreaterThan(20);
    const keys = page.getByRole('table', { name: /API keys/ });
    await poll(() => keys.getByRole('row', { name: /console reporting/ }).count()).toBe(1);
    expect(await keys.textContent()).not.toContain(key);
    await checkA11y(page, 'keys');
    await shot('keys');

    await page.getByRole('button', { name: 'I have stored it' }).click();
    await poll(() => secret.count()).toBe(0);
    await page.getByRole('button', { name: 'Revoke key console reporting' }).click();
    const dialog = page.getByRole('dialog', { name: 'Revoke the key' });
    await dialog.getByRole('button', { name: 'Revoke key' }).click();
    await poll(() => keys.getByRole('row', { name: /console reporting/ }).textContent()).toContain('revoked');
    // The revoked key is refused by the API from now on.
    const refused = await createSundialClient({ baseUrl: runtime.apiUrl, apiKey: key }).GET('/v1/jobs');
    expect(refused.response.status).toBe(401);
  });

  it('reads the audit log (admin)', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audit log' }).click();
    const table = page.getByRole('table', { name: 'Audit entries, newest first' });
    await table.waitFor();
    await poll(() => table.textContent()).toContain('key.revoke');
    const text = await table.textContent();
    expect(text).toContain('key.create');
    expect(text).toContain('dead-letters.redrive');
    await checkA11y(page, 'audit');
    await shot('audit');
  });

  it('shows an open circuit breaker and resets it', async () => {
    const job = await must(
      api.POST('/v1/jobs', {
        body: { name: 'down-target', target: { type: 'http', url: `${target.url}/down`, method: 'GET' } },
      }),
    );
    // Five failures in a row at the host (the default threshold) open its breaker.
    for (let i = 0; i < 5; i++) {
      await must(api.POST('/v1/jobs/{jobId}/runs', { params: { path: { jobId: job.id } } }));
      await eventually(
        async () => {
          const runs = await must(api.GET('/v1/jobs/{jobId}/runs', { params: { path: { jobId: job.id } } }));
          return runs.items.filter((r) => r.status === 'failed').length === i + 1 ? true : undefined;
        },
        { what: `failed run ${i + 1}` },
      );
    }
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Breakers' }).click();
    await page.getByRole('heading', { level: 1, name: 'Circuit breakers' }).waitFor();
    const host = new URL(target.url).host;
    const row = page.getByRole('row', { name: new RegExp(host.replace('.', '\\.')) });
    await poll(() => row.textContent()).toMatch(/open.*5.*HTTP 503/);
    await checkA11y(page, 'breakers');
    await shot('breakers');
    await row.getByRole('button', { name: `Reset the breaker for ${host}` }).click();
    await poll(() => page.getByRole('status').last().textContent()).toContain(`Breaker for ${host} closed.`);
    await poll(() => row.textContent()).toMatch(/closed/);
    await must(api.DELETE('/v1/jobs/{jobId}', { params: { path: { jobId: job.id } } }));
  });

  it('charts a backfilled history of successes and failures', async () => {
    const job = await must(
      api.POST('/v1/jobs', {
        body: {
          name: 'monthly-statements',
          description: 'Builds the customer statements on the 1st at 09:00 New York time.',
          schedule: { expression: 'cron(0 9 1 * ? *)', timezone: 'America/New_York' },
          target: { type: 'http', url: `${target.url}/mixed`, method: 'POST' },
          tags: { team: 'billing' },
        },
      }),
    );
    await page.goto(`${consoleUrl}#/jobs/${job.id}`);
    await page.getByRole('button', { name: 'Backfill…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Backfill' });
    await dialog.getByLabel('From (UTC)').fill('2025-01-01T00:00');
    await dialog.getByLabel('To (UTC, not included)').fill('2026-12-01T00:00');
    await dialog.getByRole('button', { name: 'Backfill', exact: true }).click();
    await poll(() => page.getByRole('status').last().textContent()).toContain('Backfill queued 23 runs');
    // The history refreshes by itself until every run has ended.
    const history = page.getByRole('table', { name: 'Runs, newest first' });
    await poll(
      async () => (await history.textContent())?.match(/succeeded|failed/g)?.length ?? 0,
      UI_TIMEOUT,
    ).toBe(23);
    const chart = page.getByRole('img', { name: /Run durations over time/ });
    await poll(() => chart.locator('.point').count()).toBe(23);
    expect(await chart.locator('.point.status-failed').count()).toBeGreaterThan(0);
    expect(await page.locator('#chart-desc').textContent()).toMatch(/^23 runs: \d+ succeeded, \d+ failed/);
    // Wait out the announcement, so the picture shows the page alone.
    await poll(() => page.locator('.toast').textContent(), 15_000).toBe('');
    await checkA11y(page, 'job (charted)');
    await shot('job-history');
    // What a person sees on arrival, for the README (docs/console.png is a copy of it).
    await page.setViewportSize({ width: 1280, height: 1560 });
    await page.evaluate('window.scrollTo(0, 0)');
    await page.screenshot({ path: join(SHOTS, 'job-viewport.png') });
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it('hides the admin pages from a viewer and signs out', async () => {
    const { key } = await must(api.POST('/v1/keys', { body: { name: 'console viewer', role: 'viewer' } }));
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { level: 1, name: 'Sign in to Sundial' }).waitFor();
    // Signing in keeps the page asked for (the audit log, a viewer may not read): go to the jobs.
    await page.goto(`${consoleUrl}#/jobs`);
    await page.getByLabel('API key').fill(key);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Jobs' }).waitFor();
    const nav = page.getByRole('navigation', { name: 'Main' });
    expect(await nav.getByRole('link', { name: 'API keys' }).count()).toBe(0);
    expect(await nav.getByRole('link', { name: 'Audit log' }).count()).toBe(0);
    // A viewer may not run a job: the API says so, in its words.
    await page.getByRole('link', { name: 'warehouse-export' }).click();
    await page.getByRole('button', { name: 'Run now' }).click();
    await poll(() => page.getByRole('alert').textContent()).toMatch(/Run now refused: .*\(403\)/);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { level: 1, name: 'Sign in to Sundial' }).waitFor();
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
    // A wrong key is refused on the form, with the API's message.
    await page.getByLabel('API key').fill('sk_not_a_key');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await poll(() => page.getByRole('alert').textContent()).toContain('Sign-in refused');
  });

  it('asked nothing of any other origin and broke no rule of its CSP', () => {
    const origin = new URL(runtime.apiUrl).origin;
    expect(browser.requests.length).toBeGreaterThan(10);
    expect(browser.requests.filter((url) => new URL(url).origin !== origin)).toEqual([]);
    expect(browser.cspViolations).toEqual([]);
    expect(browser.pageErrors).toEqual([]);
  });
});
