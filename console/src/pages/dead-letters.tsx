import { useState } from 'preact/hooks';
import { must } from '../api.js';
import { useAction, useApp, usePaged } from '../hooks.js';
import { href } from '../routes.js';
import { ErrorBox, Field, Loading, LoadMore, PageTitle, StatusBadge, Time } from '../ui.js';

/** The API redrives at most this many at once. */
const MAX_REDRIVE = 50;

export function DeadLettersPage() {
  const { client, announce } = useApp();
  const [status, setStatus] = useState<'dead' | 'redriven' | ''>('dead');
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const letters = usePaged(
    async (cursor) => {
      const page = await must(
        client.GET('/v1/dead-letters', {
          params: { query: { limit: 100, ...(cursor ? { cursor } : {}), ...(status ? { status } : {}) } },
        }),
      );
      if (!cursor) setSelected(new Set());
      return page;
    },
    [client, status],
  );
  const all = letters.items ?? [];
  const selectable = all.filter((l) => l.status === 'dead');

  const redrive = useAction(async () => {
    const ids = [...selected].slice(0, MAX_REDRIVE);
    const result = await must(client.POST('/v1/dead-letters/redrive', { body: { ids } }));
    const parts = [`${result.redriven.length} redriven`];
    if (result.alreadyRedriven.length) parts.push(`${result.alreadyRedriven.length} already redriven`);
    announce(`Dead letters: ${parts.join(', ')}.`);
    letters.reload();
  });

  const toggle = (id: string, on: boolean) =>
    setSelected((s) => {
      const next = new Set(s);
      if (on) next.add(id);
      else next.delete(id);
      return next;
    });
  const allSelected = selectable.length > 0 && selectable.every((l) => selected.has(l.id));

  return (
    <>
      <div class="page-head">
        <PageTitle>Dead letters</PageTitle>
      </div>
      <p class="lead">
        Firings the queues gave up on after 5 receives. Redriving puts them back on their queue; a redriven
        firing still makes at most one run.
      </p>
      <div class="filters">
        <Field id="dl-status" label="Show">
          <select
            id="dl-status"
            value={status}
            onChange={(e) => setStatus(e.currentTarget.value as 'dead' | 'redriven' | '')}
          >
            <option value="dead">Dead (not redriven)</option>
            <option value="redriven">Redriven</option>
            <option value="">All</option>
          </select>
        </Field>
        <button
          type="button"
          class="button primary"
          disabled={selected.size === 0 || redrive.busy}
          onClick={() => redrive.run()}
        >
          Redrive {selected.size || ''} selected
        </button>
      </div>
      {selected.size > MAX_REDRIVE && (
        <p class="notice">
          The first {MAX_REDRIVE} selected are redriven at once; redrive again for the rest.
        </p>
      )}
      <ErrorBox error={redrive.error} context="Redrive refused" />
      <ErrorBox error={letters.error} context="Could not list the dead letters" />
      {letters.loading && !letters.data ? (
        <Loading what="dead letters" />
      ) : all.length === 0 ? (
        <p class="empty">No dead letter{status ? ` ${status === 'dead' ? 'waiting' : 'redriven'}` : ''}.</p>
      ) : (
        <div class="table-wrap">
          <table class="data">
            <caption class="visually-hidden">Dead letters, newest first</caption>
            <thead>
              <tr>
                <th scope="col">
                  <input
                    type="checkbox"
                    aria-label="Select every dead letter shown"
                    checked={allSelected}
                    disabled={selectable.length === 0}
                    onChange={(e) =>
                      setSelected(e.currentTarget.checked ? new Set(selectable.map((l) => l.id)) : new Set())
                    }
                  />
                </th>
                <th scope="col">Dead-lettered</th>
                <th scope="col">Job / run</th>
                <th scope="col">Reason</th>
                <th scope="col">Priority</th>
                <th scope="col">Status</th>
                <th scope="col">Message</th>
              </tr>
            </thead>
            <tbody>
              {all.map((l) => (
                <tr key={l.id}>
                  <td>
                    <input
                      type="checkbox"
                      id={`dl-${l.id}`}
                      aria-label={`Select dead letter ${l.id}`}
                      checked={selected.has(l.id)}
                      disabled={l.status !== 'dead'}
                      onChange={(e) => toggle(l.id, e.currentTarget.checked)}
                    />
                  </td>
                  <td>
                    <Time at={l.deadLetteredAt} />
                  </td>
                  <td>
                    {l.jobId ? <a href={href.job(l.jobId)}>{l.jobId}</a> : <span class="muted">no job</span>}
                    {l.jobId && l.runId && (
                      <div class="small">
                        <a href={href.run(l.jobId, l.runId)}>
                          <code>{l.runId}</code>
                        </a>
                      </div>
                    )}
                  </td>
                  <td>{l.reason}</td>
                  <td>{l.priority}</td>
                  <td>
                    <StatusBadge status={l.status} />
                    {l.redrivenAt && (
                      <div class="muted small">
                        <Time at={l.redrivenAt} /> by {l.redrivenBy}
                      </div>
                    )}
                  </td>
                  <td>
                    <details>
                      <summary>
                        Body <span class="visually-hidden">of {l.id}</span>
                      </summary>
                      <pre class="code">{l.body}</pre>
                    </details>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <LoadMore paged={letters} />
    </>
  );
}
