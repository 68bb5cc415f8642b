import { useState } from 'preact/hooks';
import type { Job } from '../../../client/index.js';
import { must, viewerZone } from '../api.js';
import { useApp, useResource } from '../hooks.js';
import { href } from '../routes.js';
import { ErrorBox, Field, Loading, PageTitle, Relative, StatusBadge, Time } from '../ui.js';

const PAGE = 100;
/** Pages read at once; the rest on "Load more". Name search filters what is loaded. */
const FIRST_PAGES = 5;

export function JobsPage({ query }: { query: URLSearchParams }) {
  const { client } = useApp();
  const state = query.get('state') ?? '';
  const tag = query.get('tag') ?? '';
  const [name, setName] = useState(query.get('q') ?? '');
  const [tagInput, setTagInput] = useState(tag);
  const [stateInput, setStateInput] = useState(state);
  const [extra, setExtra] = useState<{ items: Job[]; cursor: string | null }>({ items: [], cursor: null });

  const jobs = useResource(async () => {
    const items: Job[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < FIRST_PAGES; page++) {
      const body: { items: Job[]; nextCursor: string | null } = await must(
        client.GET('/v1/jobs', {
          params: {
            query: {
              limit: PAGE,
              ...(cursor ? { cursor } : {}),
              ...(state === 'enabled' || state === 'paused' ? { state } : {}),
              ...(tag ? { tag } : {}),
            },
          },
        }),
      );
      items.push(...body.items);
      cursor = body.nextCursor;
      if (!cursor) break;
    }
    setExtra({ items: [], cursor });
    return items;
  }, [client, state, tag]);

  const loadMore = async () => {
    if (!extra.cursor) return;
    const body = await must(
      client.GET('/v1/jobs', {
        params: {
          query: {
            limit: PAGE,
            cursor: extra.cursor,
            ...(state === 'enabled' || state === 'paused' ? { state } : {}),
            ...(tag ? { tag } : {}),
          },
        },
      }),
    );
    setExtra((e) => ({ items: [...e.items, ...body.items], cursor: body.nextCursor }));
  };

  const all = [...(jobs.data ?? []), ...extra.items];
  const needle = name.trim().toLowerCase();
  const shown = needle ? all.filter((j) => j.name.toLowerCase().includes(needle)) : all;

  const apply = (event: Event) => {
    event.preventDefault();
    location.hash = href.jobs({ q: name.trim(), tag: tagInput.trim(), state: stateInput });
  };

  return (
    <>
      <div class="page-head">
        <PageTitle>Jobs</PageTitle>
      </div>
      <search>
        <form class="filters" onSubmit={apply} aria-label="Find jobs">
          <Field id="filter-name" label="Name contains">
            <input
              id="filter-name"
              type="search"
              value={name}
              onInput={(e) => setName(e.currentTarget.value)}
            />
          </Field>
          <Field id="filter-tag" label="Tag (key:value)">
            <input
              id="filter-tag"
              type="text"
              placeholder="team:billing"
              value={tagInput}
              onInput={(e) => setTagInput(e.currentTarget.value)}
            />
          </Field>
          <Field id="filter-state" label="State">
            <select
              id="filter-state"
              value={stateInput}
              onChange={(e) => setStateInput(e.currentTarget.value)}
            >
              <option value="">Any</option>
              <option value="enabled">Enabled</option>
              <option value="paused">Paused</option>
            </select>
          </Field>
          <button type="submit" class="button">
            Apply filters
          </button>
        </form>
      </search>
      <ErrorBox error={jobs.error} context="Could not list the jobs" />
      {jobs.loading && !jobs.data ? (
        <Loading what="jobs" />
      ) : (
        <>
          <p class="muted small" aria-live="polite">
            {shown.length} job{shown.length === 1 ? '' : 's'}
            {needle ? ` named like “${name.trim()}”` : ''}
            {tag ? ` tagged ${tag}` : ''}
            {state ? `, ${state}` : ''}
          </p>
          {shown.length === 0 ? (
            <p class="empty">
              No job matches. Create one with <code>POST /v1/jobs</code> or <code>sundial apply</code>.
            </p>
          ) : (
            <div class="table-wrap">
              <table class="data">
                <caption class="visually-hidden">Jobs</caption>
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col">State</th>
                    <th scope="col">Schedule</th>
                    <th scope="col">Last run</th>
                    <th scope="col">Next run (job’s zone)</th>
                    <th scope="col">Next run (yours: {viewerZone()})</th>
                  </tr>
                </thead>
                <tbody>
                  {shown.map((job) => (
                    <JobRow key={job.id} job={job} />
                  ))}
                </tbody>
              </table>
            </div>
          )}
          {extra.cursor && (
            <button type="button" class="button" onClick={loadMore}>
              Load more jobs
            </button>
          )}
        </>
      )}
    </>
  );
}

function JobRow({ job }: { job: Job }) {
  const zone = job.schedule?.timezone ?? 'UTC';
  const tags = Object.entries(job.tags);
  return (
    <tr>
      <th scope="row">
        <a href={href.job(job.id)}>{job.name}</a>
        {tags.length > 0 && (
          <ul class="tags" aria-label="Tags">
            {tags.map(([k, v]) => (
              <li key={k}>
                <a href={href.jobs({ tag: `${k}:${v}` })} class="tag" title={`Jobs tagged ${k}:${v}`}>
                  {k}:{v}
                </a>
              </li>
            ))}
          </ul>
        )}
      </th>
      <td>
        <StatusBadge status={job.state} />
        {job.pausedReason && <div class="reason">“{job.pausedReason}”</div>}
      </td>
      <td>
        {job.schedule ? (
          <>
            <code>{job.schedule.expression}</code>
            <div class="muted small">{zone}</div>
          </>
        ) : (
          <span class="muted">on demand</span>
        )}
      </td>
      <td>
        {job.lastRun ? (
          <>
            <a href={href.run(job.id, job.lastRun.id)}>
              <StatusBadge status={job.lastRun.status} />
            </a>
            <Relative at={job.lastRun.finishedAt ?? job.lastRun.scheduledAt} />
          </>
        ) : (
          <span class="muted">never</span>
        )}
      </td>
      <td>
        {job.nextRunAt ? (
          <>
            <Time at={job.nextRunAt} zone={zone} />
            <Relative at={job.nextRunAt} />
          </>
        ) : (
          <span class="muted">—</span>
        )}
      </td>
      <td>
        <Time at={job.nextRunAt} />
      </td>
    </tr>
  );
}
