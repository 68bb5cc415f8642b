/** Hash routes, so the server needs no fallback page: `#/jobs`, `#/jobs/<id>`, `#/jobs/<id>/runs/<runId>`, … */

export type Route =
  | { name: 'jobs'; query: URLSearchParams }
  | { name: 'job'; jobId: string }
  | { name: 'run'; jobId: string; runId: string }
  | { name: 'dead-letters' }
  | { name: 'breakers' }
  | { name: 'keys' }
  | { name: 'audit' }
  | { name: 'not-found'; path: string };

export function parseRoute(hash: string): Route {
  const raw = hash.replace(/^#/, '');
  const [pathPart = '', queryPart = ''] = raw.split('?', 2);
  const parts = pathPart
    .split('/')
    .filter(Boolean)
    .map((p) => {
      try {
        return decodeURIComponent(p);
      } catch {
        return p;
      }
    });
  const [first, second, third, fourth, ...rest] = parts;
  if (rest.length === 0) {
    if (first === undefined || (first === 'jobs' && second === undefined))
      return { name: 'jobs', query: new URLSearchParams(queryPart) };
    if (first === 'jobs' && second && third === undefined) return { name: 'job', jobId: second };
    if (first === 'jobs' && second && third === 'runs' && fourth)
      return { name: 'run', jobId: second, runId: fourth };
    if (first === 'dead-letters' && second === undefined) return { name: 'dead-letters' };
    if (first === 'breakers' && second === undefined) return { name: 'breakers' };
    if (first === 'keys' && second === undefined) return { name: 'keys' };
    if (first === 'audit' && second === undefined) return { name: 'audit' };
  }
  return { name: 'not-found', path: `/${pathPart.replace(/^\//, '')}` };
}

const seg = encodeURIComponent;

export const href = {
  jobs: (query?: Record<string, string>) => {
    const q = new URLSearchParams(Object.entries(query ?? {}).filter(([, v]) => v !== '')).toString();
    return q ? `#/jobs?${q}` : '#/jobs';
  },
  job: (jobId: string) => `#/jobs/${seg(jobId)}`,
  run: (jobId: string, runId: string) => `#/jobs/${seg(jobId)}/runs/${seg(runId)}`,
  deadLetters: () => '#/dead-letters',
  breakers: () => '#/breakers',
  keys: () => '#/keys',
  audit: () => '#/audit',
};

/** Where the API is: the page's URL up to `/console/` (a stage prefix such as `/prod` is kept). */
export function apiBaseFrom(pageUrl: string): string {
  const url = new URL(pageUrl);
  const at = url.pathname.indexOf('/console');
  const prefix = at >= 0 ? url.pathname.slice(0, at) : '';
  return `${url.origin}${prefix}`;
}

/** The console's own address without query or hash: the OAuth2 redirect_uri. */
export function consoleUrlFrom(pageUrl: string): string {
  const url = new URL(pageUrl);
  return `${url.origin}${url.pathname}`;
}
