import { must } from '../api.js';
import { useApp, usePaged } from '../hooks.js';
import { ErrorBox, Loading, LoadMore, PageTitle, Time } from '../ui.js';

export function AuditPage() {
  const { client } = useApp();
  const entries = usePaged(
    (cursor) =>
      must(client.GET('/v1/audit', { params: { query: { limit: 100, ...(cursor ? { cursor } : {}) } } })),
    [client],
  );
  const all = entries.items ?? [];
  return (
    <>
      <div class="page-head">
        <PageTitle>Audit log</PageTitle>
        <button type="button" class="button subtle" onClick={entries.reload}>
          Refresh
        </button>
      </div>
      <p class="lead">Key, redrive and signing-secret actions: who, what and when, newest first.</p>
      <ErrorBox error={entries.error} context="Could not read the audit log" />
      {!entries.data ? (
        entries.error ? null : (
          <Loading what="the audit log" />
        )
      ) : all.length === 0 ? (
        <p class="empty">Nothing recorded yet.</p>
      ) : (
        <div class="table-wrap">
          <table class="data">
            <caption class="visually-hidden">Audit entries, newest first</caption>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Who</th>
                <th scope="col">Action</th>
                <th scope="col">On</th>
                <th scope="col">Details</th>
              </tr>
            </thead>
            <tbody>
              {all.map((e) => (
                <tr key={e.id}>
                  <td>
                    <Time at={e.at} />
                  </td>
                  <td>
                    <code>{e.actor}</code>
                  </td>
                  <th scope="row">
                    <code>{e.action}</code>
                  </th>
                  <td>
                    <code class="wrap">{e.target}</code>
                  </td>
                  <td>
                    {Object.keys(e.details).length ? (
                      <code class="wrap small">{JSON.stringify(e.details)}</code>
                    ) : (
                      <span class="muted">—</span>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <LoadMore paged={entries} />
    </>
  );
}
