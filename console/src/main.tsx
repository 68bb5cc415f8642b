import { render } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { clientFor, must } from './api.js';
import { AppContext, type AppContextValue, useApp } from './hooks.js';
import { AuditPage } from './pages/audit.js';
import { BreakersPage } from './pages/breakers.js';
import { DeadLettersPage } from './pages/dead-letters.js';
import { JobPage } from './pages/job.js';
import { JobsPage } from './pages/jobs.js';
import { KeysPage } from './pages/keys.js';
import { RunPage } from './pages/run.js';
import { SignIn } from './pages/sign-in.js';
import type { CognitoConfig } from './pkce.js';
import { href, parseRoute, type Route } from './routes.js';
import {
  type Credential,
  clearCredential,
  endHostedSession,
  finishCognitoSignIn,
  loadConfig,
  loadCredential,
  saveCredential,
} from './session.js';
import { PageTitle } from './ui.js';

function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', onChange);
    return () => removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

function routeKey(route: Route): string {
  return route.name === 'jobs' ? 'jobs' : JSON.stringify(route);
}

/** Whether the credential may use the admin pages: the keys list answers admins only. */
async function probeAdmin(token: string): Promise<boolean> {
  const { response } = await clientFor(token).GET('/v1/keys', { params: { query: { limit: 1 } } });
  return response.ok;
}

function App() {
  const [boot, setBoot] = useState<{ cognito: CognitoConfig | null; error?: string } | null>(null);
  const [credential, setCredential] = useState<Credential | null>(null);
  const [isAdmin, setIsAdmin] = useState(false);
  const [signOutReason, setSignOutReason] = useState<string | undefined>();
  const [message, setMessage] = useState('');
  const toastTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);

  useEffect(() => {
    (async () => {
      const config = await loadConfig();
      let error: string | undefined;
      if (config.cognito) {
        try {
          const fromRedirect = await finishCognitoSignIn(config.cognito);
          if (fromRedirect) saveCredential(fromRedirect);
        } catch (e) {
          error = (e as Error).message;
        }
      }
      const saved = loadCredential();
      if (saved) {
        setIsAdmin(await probeAdmin(saved.token).catch(() => false));
        setCredential(saved);
      }
      setBoot({ cognito: config.cognito, ...(error ? { error } : {}) });
    })();
  }, []);

  const signIn = async (next: Credential) => {
    // A key the API refuses is said so on the sign-in form, not after.
    await must(clientFor(next.token).GET('/v1/jobs', { params: { query: { limit: 1 } } }));
    setIsAdmin(await probeAdmin(next.token).catch(() => false));
    saveCredential(next);
    setSignOutReason(undefined);
    setCredential(next);
    if (!location.hash) location.hash = href.jobs();
  };

  const context = useMemo<AppContextValue | null>(
    () =>
      credential
        ? {
            client: clientFor(credential.token),
            credential,
            isAdmin,
            announce: (text: string) => {
              // Cleared first so the same words twice are announced twice; gone after a while.
              clearTimeout(toastTimer.current);
              setMessage('');
              toastTimer.current = setTimeout(() => {
                setMessage(text);
                toastTimer.current = setTimeout(() => setMessage(''), 8000);
              }, 50);
            },
            signOut: (why?: string) => {
              clearCredential();
              setCredential(null);
              setIsAdmin(false);
              setSignOutReason(why);
              // Only a person's sign-out leaves the page: an expired token's keeps its reason in view,
              // and the hosted UI's session, still open, makes the next sign-in a click.
              if (!why && credential.kind === 'cognito' && boot?.cognito) endHostedSession(boot.cognito);
            },
          }
        : null,
    [credential, isAdmin, boot],
  );

  if (!boot) return <p class="boot muted">Loading the console…</p>;
  if (!context) {
    return <SignIn cognito={boot.cognito} onSignIn={signIn} notice={signOutReason ?? boot.error} />;
  }
  return (
    <AppContext.Provider value={context}>
      <Shell message={message} />
    </AppContext.Provider>
  );
}

function Shell({ message }: { message: string }) {
  const route = useRoute();
  const key = routeKey(route);
  const first = useRef(true);
  useEffect(() => {
    // Move focus to the new page's heading, as a page load would, but not on the first paint.
    if (first.current) {
      first.current = false;
      return;
    }
    document.getElementById('page-title')?.focus();
  }, [key]);
  const app = useApp();
  return (
    <>
      <button type="button" class="skip" onClick={skipToMain}>
        Skip to content
      </button>
      <header class="topbar">
        <a class="brand" href={href.jobs()}>
          <img src="./favicon.svg" alt="" width={22} height={22} /> Sundial
        </a>
        <nav aria-label="Main">
          <ul>
            <NavLink
              to={href.jobs()}
              current={route.name === 'jobs' || route.name === 'job' || route.name === 'run'}
            >
              Jobs
            </NavLink>
            <NavLink to={href.deadLetters()} current={route.name === 'dead-letters'}>
              Dead letters
            </NavLink>
            <NavLink to={href.breakers()} current={route.name === 'breakers'}>
              Breakers
            </NavLink>
            {app.isAdmin && (
              <>
                <NavLink to={href.keys()} current={route.name === 'keys'}>
                  API keys
                </NavLink>
                <NavLink to={href.audit()} current={route.name === 'audit'}>
                  Audit log
                </NavLink>
              </>
            )}
          </ul>
        </nav>
        <div class="who">
          <span class="muted small">
            {app.credential.kind === 'cognito'
              ? (app.credential.email ?? 'Signed in')
              : `API key ${app.credential.token.slice(0, 7)}…`}
            {app.isAdmin ? ' · admin' : ''}
          </span>
          <button type="button" class="button subtle" onClick={() => app.signOut()}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <Page route={route} />
      </main>
      <div class="toast" role="status" aria-live="polite">
        {message}
      </div>
    </>
  );
}

/** A button, not a `#main` link: the hash belongs to the router. */
function skipToMain() {
  document.getElementById('main')?.focus();
}

function NavLink({ to, current, children }: { to: string; current: boolean; children: string }) {
  return (
    <li>
      <a href={to} aria-current={current ? 'page' : undefined}>
        {children}
      </a>
    </li>
  );
}

function Page({ route }: { route: Route }) {
  switch (route.name) {
    case 'jobs':
      return <JobsPage query={route.query} />;
    case 'job':
      return <JobPage key={route.jobId} jobId={route.jobId} />;
    case 'run':
      return <RunPage key={`${route.jobId}/${route.runId}`} jobId={route.jobId} runId={route.runId} />;
    case 'dead-letters':
      return <DeadLettersPage />;
    case 'breakers':
      return <BreakersPage />;
    case 'keys':
      return <KeysPage />;
    case 'audit':
      return <AuditPage />;
    default:
      return (
        <>
          <PageTitle>Not found</PageTitle>
          <p>
            The console has no page at <code>{route.path}</code>. <a href={href.jobs()}>Back to the jobs</a>.
          </p>
        </>
      );
  }
}

const root = document.getElementById('app');
if (root) {
  root.textContent = '';
  render(<App />, root);
}
