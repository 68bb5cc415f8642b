import { must } from '../api.js';
import { useAction, useApp, usePaged } from '../hooks.js';
import { ErrorBox, Loading, LoadMore, PageTitle, StatusBadge, Time } from '../ui.js';

/** The tenant's circuit breakers: one per target that has failed, its state, and a reset. */
export function BreakersPage() {
  const { client, announce } = useApp();
  const breakers = usePaged(
    async (cursor) =>
      must(client.GET('/v1/breakers', { params: { query: { limit: 100, ...(cursor ? { cursor } : {}) } } })),
    [client],
  );
  const all = breakers.items ?? [];

  const reset = useAction(async (id: string) => {
    const breaker = await must(
      client.POST('/v1/breakers/{breakerId}/reset', { params: { path: { breakerId: id } } }),
    );
    announce(`Breaker for ${breaker.target} closed.`);
    breakers.reload();
  });

  return (
    <>
      <div class="page-head">
        <PageTitle>Circuit breakers</PageTitle>
      </div>
      <p class="lead">
        After repeated failures Sundial stops calling a target for a cool-down, then lets one attempt probe
        it. Runs meanwhile wait, queued, with the reason; a success closes the breaker. A target that never
        failed has no breaker here.
      </p>
      <ErrorBox error={reset.error} context="Reset refused" />
      <ErrorBox error={breakers.error} context="Could not list the breakers" />
      {breakers.loading && !breakers.data ? (
        <Loading what="breakers" />
      ) : all.length === 0 ? (
        <p class="empty">No breakers: no target has failed.</p>
      ) : (
        <div class="table-wrap">
          <table class="data">
            <caption class="visually-hidden">Circuit breakers, by target</caption>
            <thead>
              <tr>
                <th scope="col">Target</th>
                <th scope="col">State</th>
                <th scope="col">Failures</th>
                <th scope="col">Opened</th>
                <th scope="col">Next try</th>
                <th scope="col">Last error</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {all.map((b) => (
                <tr key={b.id}>
                  <td>
                    <code>{b.target}</code>
                  </td>
                  <td>
                    <StatusBadge status={b.state} />
                  </td>
                  <td>{b.failures}</td>
                  <td>
                    <Time at={b.openedAt} />
                  </td>
                  <td>{b.state === 'closed' ? <span class="muted">-</span> : <Time at={b.retryAt} />}</td>
                  <td>{b.lastError ?? <span class="muted">none</span>}</td>
                  <td>
                    {b.state !== 'closed' && (
                      <button
                        type="button"
                        class="button"
                        disabled={reset.busy}
                        onClick={() => reset.run(b.id)}
                        aria-label={`Reset the breaker for ${b.target}`}
                      >
                        Reset
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <LoadMore paged={breakers} />
    </>
  );
}
