/**
 * What the console's browser tests share: Debian's Chromium found and launched headless
 * (never downloaded), a fresh profile, the page's requests, CSP refusals and errors
 * recorded, and axe-core's verdict on a page.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import axe from 'axe-core';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { expect } from 'vitest';

export const UI_TIMEOUT = 30_000;

export function chromiumPath(): string {
  const fromEnv = process.env.CHROMIUM_PATH;
  if (fromEnv) return fromEnv;
  try {
    return execFileSync('sh', ['-c', 'command -v chromium || command -v chromium-browser'], {
      encoding: 'utf8',
    }).trim();
  } catch {
    throw new Error(
      'chromium is not installed: the console tests need it. Install it with `apt-get install -y chromium` (or set CHROMIUM_PATH).',
    );
  }
}

export interface Browser {
  context: BrowserContext;
  page: Page;
  /** Every URL the page asked for. */
  requests: string[];
  /** What the page's Content-Security-Policy refused. */
  cspViolations: string[];
  /** Uncaught errors of the page. */
  pageErrors: string[];
  close(): Promise<void>;
}

/** Chromium headless with a new, empty profile, as this machine's closed network needs it. */
export async function openBrowser(options: { profilePrefix: string; timezoneId?: string }): Promise<Browser> {
  const executablePath = chromiumPath();
  const userDataDir = mkdtempSync(join(tmpdir(), options.profilePrefix));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
    ...(options.timezoneId ? { timezoneId: options.timezoneId } : {}),
    locale: 'en-GB',
    viewport: { width: 1280, height: 900 },
  });
  context.setDefaultTimeout(UI_TIMEOUT);
  const requests: string[] = [];
  const cspViolations: string[] = [];
  const pageErrors: string[] = [];
  context.on('request', (request) => {
    requests.push(request.url());
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) cspViolations.push(message.text());
  });
  page.on('pageerror', (error) => {
    pageErrors.push(String(error));
  });
  return {
    context,
    page,
    requests,
    cspViolations,
    pageErrors,
    close: async () => {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/** No serious or critical axe-core violation on the page as it is now (printed when there are). */
export async function checkA11y(page: Page, name: string): Promise<void> {
  // Evaluated through the DevTools protocol: an inline <script> would be refused by the page's own CSP.
  // Strings, not functions: this file is type-checked without the DOM's types.
  if (!(await page.evaluate("'axe' in window"))) await page.evaluate(axe.source);
  const result = (await page.evaluate(`(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => n.target.join(' ') + ': ' + n.failureSummary).slice(0, 5),
    }));
  })()`)) as { id: string; impact: string | null; help: string; nodes: string[] }[];
  const serious = result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  if (serious.length) console.error(`axe violations on ${name}:\n${JSON.stringify(serious, null, 2)}`);
  expect(serious, `axe: serious or critical violations on the ${name} page`).toEqual([]);
}

/** expect.poll with room for a real runtime (its default is 1 s). */
export function poll<T>(check: () => Promise<T> | T, timeout = 15_000) {
  return expect.poll(check, { timeout, interval: 100 });
}
