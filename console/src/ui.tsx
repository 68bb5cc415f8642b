import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import { relative, wallTime } from '../../client/fire-times.js';
import { ApiError, viewerZone } from './api.js';
import type { Paged } from './hooks.js';

/** A glyph beside the word, so a status never rests on colour alone. */
const GLYPHS: Record<string, string> = {
  succeeded: '✓',
  failed: '✕',
  timed_out: '⧖',
  running: '▶',
  queued: '…',
  skipped: '↷',
  missed: '!',
  cancelled: '⊘',
  enabled: '●',
  paused: 'Ⅱ',
  dead: '✕',
  redriven: '↻',
  revoked: '⊘',
  active: '●',
  // Circuit breakers.
  closed: '●',
  open: '✕',
  half_open: '◐',
};

export function StatusBadge({ status }: { status: string }) {
  return (
    <span class={`badge status-${status}`}>
      <span aria-hidden="true">{GLYPHS[status] ?? '•'}</span> {status.replace('_', ' ')}
    </span>
  );
}

/** The API's own words: its detail and each refused field. */
export function ErrorBox({ error, context }: { error: unknown; context?: string }) {
  if (!error) return null;
  const problem = error instanceof ApiError ? error.problem : undefined;
  const fields = problem?.errors ?? [];
  return (
    <div class="error" role="alert">
      <p class="error-title">
        {context ? `${context}: ` : ''}
        {problem ? `${problem.title} (${problem.status})` : 'Something went wrong'}
      </p>
      <p>{problem?.detail ?? (error as Error)?.message ?? String(error)}</p>
      {fields.length > 0 && (
        <ul class="error-fields">
          {fields.map((f) => (
            <li key={f.field + f.message}>
              <code>{f.field}</code>: {f.message}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** A page's heading: focused on route change so screen readers hear where they are. */
export function PageTitle({ children }: { children: ComponentChildren }) {
  return (
    <h1 id="page-title" tabIndex={-1}>
      {children}
    </h1>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="muted" role="status">
      Loading {what}…
    </p>
  );
}

/** An instant as the wall time in a zone, with its offset; the UTC instant on hover and for machines. */
export function Time({
  at,
  zone,
  showZone,
}: {
  at: string | null | undefined;
  zone?: string;
  showZone?: boolean;
}) {
  if (!at) return <span class="muted">—</span>;
  const tz = zone ?? viewerZone();
  const { local, offset } = wallTime(at, tz);
  return (
    <time dateTime={at} title={`${at} (UTC)`}>
      {local}
      <span class="muted small">
        {' '}
        {showZone ? `${tz} ` : ''}({offset})
      </span>
    </time>
  );
}

export function Relative({ at }: { at: string | null | undefined }) {
  if (!at) return null;
  return <span class="muted small"> {relative(at)}</span>;
}

/**
 * A modal built on <dialog>: the browser traps focus, Escape closes it (the `cancel`
 * event), and focus returns to the button that opened it.
 */
export function Dialog({
  open,
  title,
  onClose,
  children,
}: {
  open: boolean;
  title: string;
  onClose: () => void;
  children: ComponentChildren;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const opener = useRef<Element | null>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) {
      opener.current = document.activeElement;
      dialog.showModal();
    } else if (!open && dialog.open) {
      dialog.close();
      if (opener.current instanceof HTMLElement && opener.current.isConnected) opener.current.focus();
    }
  }, [open]);
  const titleId = `dialog-${title.replace(/\W+/g, '-').toLowerCase()}`;
  return (
    <dialog
      ref={ref}
      aria-labelledby={titleId}
      onCancel={(e) => {
        e.preventDefault();
        onClose();
      }}
    >
      {open && (
        <div class="dialog-body">
          <h2 id={titleId}>{title}</h2>
          {children}
        </div>
      )}
    </dialog>
  );
}

export function Field({
  id,
  label,
  hint,
  children,
}: {
  id: string;
  label: string;
  hint?: string;
  children: ComponentChildren;
}) {
  return (
    <div class="field">
      <label for={id}>{label}</label>
      {children}
      {hint && (
        <p class="hint" id={`${id}-hint`}>
          {hint}
        </p>
      )}
    </div>
  );
}

export function Json({ value }: { value: unknown }) {
  return <pre class="code">{JSON.stringify(value, null, 2)}</pre>;
}

export function errorText(error: unknown): string {
  if (error instanceof ApiError) {
    const fields = (error.problem.errors ?? []).map((f) => `${f.field}: ${f.message}`);
    return [error.problem.detail, ...fields].join('; ');
  }
  return (error as Error)?.message ?? String(error);
}

/** "Load more" under a paged list while the API has more, and the error of the last try. */
export function LoadMore({ paged, label = 'Load more' }: { paged: Paged<unknown>; label?: string }) {
  return (
    <>
      {paged.hasMore && (
        <button type="button" class="button" onClick={() => paged.more.run()} disabled={paged.more.busy}>
          {label}
        </button>
      )}
      <ErrorBox error={paged.more.error} />
    </>
  );
}

/** Terms and their values, as a description list (a job's definition, a run's summary). */
export function Definitions({ rows }: { rows: readonly (readonly [string, ComponentChildren])[] }) {
  return (
    <dl class="definition">
      {rows.map(([term, value]) => (
        <div key={term}>
          <dt>{term}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  );
}
