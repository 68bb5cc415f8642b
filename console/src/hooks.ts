import { createContext } from 'preact';
import { useCallback, useContext, useEffect, useRef, useState } from 'preact/hooks';
import type { SundialClient } from './api.js';
import type { Credential } from './session.js';

export interface AppContextValue {
  client: SundialClient;
  credential: Credential;
  isAdmin: boolean;
  /** Says something in the polite live region (and the toast line). */
  announce: (message: string) => void;
  /**
   * Back to the sign-in page. With `why`, the API refused the credential itself (said on the
   * sign-in page); without, the person signed out, and a Cognito sign-in also ends the hosted
   * UI's session (its /logout), while an API key's sign-out stays in this page.
   */
  signOut: (why?: string) => void;
}

export const AppContext = createContext<AppContextValue | null>(null);

export function useApp(): AppContextValue {
  const value = useContext(AppContext);
  if (!value) throw new Error('useApp outside the signed-in app');
  return value;
}

export interface Resource<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
}

/**
 * Loads `load()` when `deps` change; with `pollMs`, loads again that long after each answer
 * until `done(data)` holds (a run reaching a final status).
 */
export function useResource<T>(
  load: () => Promise<T>,
  deps: unknown[],
  options: { pollMs?: number; done?: (data: T) => boolean } = {},
): Resource<T> {
  const { signOut } = useApp();
  const [state, setState] = useState<{ data: T | undefined; error: unknown; loading: boolean }>({
    data: undefined,
    error: undefined,
    loading: true,
  });
  const [generation, setGeneration] = useState(0);
  const optionsRef = useRef(options);
  optionsRef.current = options;
  const loadRef = useRef(load);
  loadRef.current = load;

  useEffect(() => {
    let alive = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async () => {
      try {
        const data = await loadRef.current();
        if (!alive) return;
        setState({ data, error: undefined, loading: false });
        const { pollMs, done } = optionsRef.current;
        if (pollMs && !(done?.(data) ?? false)) timer = setTimeout(run, pollMs);
      } catch (error) {
        if (!alive) return;
        if ((error as { status?: number }).status === 401) {
          signOut((error as Error).message);
          return;
        }
        setState((s) => ({ data: s.data, error, loading: false }));
      }
    };
    setState((s) => ({ ...s, loading: true }));
    run();
    return () => {
      alive = false;
      if (timer) clearTimeout(timer);
    };
  }, [...deps, generation]);

  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  return { ...state, reload };
}

/** Runs an action (a POST), keeping its error and whether it is under way. */
export function useAction<A extends unknown[], R>(
  action: (...args: A) => Promise<R>,
): { run: (...args: A) => Promise<R | undefined>; busy: boolean; error: unknown; clear: () => void } {
  const { signOut } = useApp();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const run = async (...args: A) => {
    setBusy(true);
    setError(undefined);
    try {
      return await action(...args);
    } catch (e) {
      if ((e as { status?: number }).status === 401) signOut((e as Error).message);
      else setError(e);
      return undefined;
    } finally {
      setBusy(false);
    }
  };
  return { run, busy, error, clear: () => setError(undefined) };
}

/** A page of a list, as the API answers it. */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** A list read page by page: the first page when `deps` change, the next on `more.run()`. */
export interface Paged<T> extends Resource<T[]> {
  /** Every item read so far: the first page and the pages loaded after it. */
  items: T[] | undefined;
  hasMore: boolean;
  more: ReturnType<typeof useAction<[], void>>;
}

/** `fetchPage(undefined)` is the first page; `fetchPage(cursor)` the one after. */
export function usePaged<T>(fetchPage: (cursor?: string) => Promise<Page<T>>, deps: unknown[]): Paged<T> {
  const [extra, setExtra] = useState<{ items: T[]; cursor: string | null }>({ items: [], cursor: null });
  const first = useResource(async () => {
    const page = await fetchPage();
    setExtra({ items: [], cursor: page.nextCursor });
    return page.items;
  }, deps);
  const more = useAction(async () => {
    if (!extra.cursor) return;
    const page = await fetchPage(extra.cursor);
    setExtra((e) => ({ items: [...e.items, ...page.items], cursor: page.nextCursor }));
  });
  return {
    ...first,
    items: first.data ? [...first.data, ...extra.items] : undefined,
    hasMore: extra.cursor !== null,
    more,
  };
}
