import { useEffect, useRef, useState } from 'preact/hooks';
import type { CognitoConfig } from '../pkce.js';
import type { Credential } from '../session.js';
import { startCognitoSignIn } from '../session.js';
import { ErrorBox, Field } from '../ui.js';

export function SignIn({
  cognito,
  onSignIn,
  notice,
}: {
  cognito: CognitoConfig | null;
  onSignIn: (credential: Credential) => Promise<void>;
  notice: string | undefined;
}) {
  const [key, setKey] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), []);

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await onSignIn({ kind: 'key', token: key.trim() });
    } catch (e) {
      setError(e);
      setBusy(false);
    }
  };

  return (
    <main id="main" class="sign-in">
      <div class="card sign-in-card">
        <h1>
          <img src="./favicon.svg" alt="" width={28} height={28} /> Sign in to Sundial
        </h1>
        {notice && (
          <p class="notice" role="status">
            {notice}
          </p>
        )}
        {cognito && (
          <>
            <button type="button" class="button primary wide" onClick={() => startCognitoSignIn(cognito)}>
              Sign in with your organisation account
            </button>
            <p class="divider">
              <span>or with an API key</span>
            </p>
          </>
        )}
        <form onSubmit={submit}>
          <Field
            id="api-key"
            label="API key"
            hint="Kept for this browser session only (sessionStorage); signing out forgets it."
          >
            <input
              ref={input}
              id="api-key"
              name="api-key"
              type="password"
              autoComplete="off"
              spellcheck={false}
              required
              aria-describedby="api-key-hint"
              value={key}
              onInput={(e) => setKey(e.currentTarget.value)}
            />
          </Field>
          <ErrorBox error={error} context="Sign-in refused" />
          <button type="submit" class="button primary" disabled={busy || key.trim() === ''}>
            {busy ? 'Signing in…' : 'Sign in'}
          </button>
        </form>
        <p class="muted small">
          Locally, <code>npm start</code> prints a development key. Deployed, make one with{' '}
          <code>npm run create-key</code>.
        </p>
      </div>
    </main>
  );
}
