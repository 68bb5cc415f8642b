import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import { duration } from '../../../client/fire-times.js';
import type { Run } from '../../../client/index.js';
import { isFinal, must } from '../api.js';
import { useAction, useApp, useResource } from '../hooks.js';
import { href } from '../routes.js';
import { Definitions, ErrorBox, Json, Loading, PageTitle, Relative, StatusBadge, Time } from '../ui.js';

export function RunPage({ jobId, runId }: { jobId: string; runId: string }) {
  const { client, announce } = useApp();
  const job = useResource(
    () => must(client.GET('/v1/jobs/{jobId}', { params: { path: { jobId } } })).catch(() => undefined),
    [client, jobId],
  );
  // Live: every 2 s until the run reaches a final status.
  const run = useResource(
    () => must(client.GET('/v1/jobs/{jobId}/runs/{runId}', { params: { path: { jobId, runId } } })),
    [client, jobId, runId],
    { pollMs: 2000, done: (r) => isFinal(r.status) },
  );
  const cancel = useAction(async () => {
    await must(client.POST('/v1/jobs/{jobId}/runs/{runId}/cancel', { params: { path: { jobId, runId } } }));
    announce('Run cancelled.');
    run.reload();
  });

  // Say a status change out loud (not the first load: the page says it).
  const lastStatus = useRef<string | undefined>(undefined);
  useEffect(() => {
    const status = run.data?.status;
    if (status && lastStatus.current && lastStatus.current !== status)
      announce(`Run ${status.replace('_', ' ')}.`);
    lastStatus.current = status;
  }, [run.data?.status, announce]);

  const zone = job.data?.schedule?.timezone ?? 'UTC';
  const r = run.data;
  return (
    <>
      <nav aria-label="Breadcrumb" class="breadcrumb">
        <ol>
          <li>
            <a href={href.jobs()}>Jobs</a>
          </li>
          <li>
            <a href={href.job(jobId)}>{job.data?.name ?? jobId}</a>
          </li>
          <li aria-current="page">{runId}</li>
        </ol>
      </nav>
      <div class="page-head">
        <PageTitle>Run {runId}</PageTitle>
        {r && <StatusBadge status={r.status} />}
        {r && !isFinal(r.status) && (
          <span class="live muted small">
            <span class="pulse" aria-hidden="true" /> live, refreshed every 2 s
          </span>
        )}
      </div>
      {!r ? (
        run.error ? (
          <ErrorBox error={run.error} context="Could not load the run" />
        ) : (
          <Loading what="the run" />
        )
      ) : (
        <>
          {!isFinal(r.status) && (
            <div class="toolbar">
              <button type="button" class="button danger" onClick={() => cancel.run()} disabled={cancel.busy}>
                Cancel run
              </button>
            </div>
          )}
          <ErrorBox error={cancel.error} context="Cancel refused" />
          <ErrorBox error={run.error} context="Could not refresh the run" />
          <div class="columns">
            <section class="card" aria-labelledby="summary-title">
              <h2 id="summary-title">Summary</h2>
              <Summary run={r} zone={zone} />
            </section>
            <section class="card" aria-labelledby="outcome-title">
              <h2 id="outcome-title">Outcome</h2>
              <Outcome run={r} />
            </section>
          </div>
          <section class="card" aria-labelledby="attempts-title">
            <h2 id="attempts-title">Attempts</h2>
            {r.attempts.length === 0 ? (
              <p class="empty">No attempt has ended yet.</p>
            ) : (
              <div class="table-wrap">
                <table class="data">
                  <caption class="visually-hidden">Attempts, oldest first</caption>
                  <thead>
                    <tr>
                      <th scope="col">Attempt</th>
                      <th scope="col">Status</th>
                      <th scope="col">Started</th>
                      <th scope="col">Duration</th>
                      <th scope="col">Status code</th>
                      <th scope="col">Error</th>
                    </tr>
                  </thead>
                  <tbody>
                    {r.attempts.map((a) => (
                      <tr key={a.attempt}>
                        <th scope="row">{a.attempt}</th>
                        <td>
                          <StatusBadge status={a.status} />
                        </td>
                        <td>
                          <Time at={a.startedAt} zone={zone} />
                        </td>
                        <td>{duration(a.durationMs)}</td>
                        <td>{a.statusCode ?? '—'}</td>
                        <td>{a.error ? `${a.error.type}: ${a.error.message}` : '—'}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </section>
        </>
      )}
    </>
  );
}

function Summary({ run, zone }: { run: Run; zone: string }) {
  const rows: [string, ComponentChildren][] = [
    ['Status', <StatusBadge key="s" status={run.status} />],
    ['Trigger', run.trigger.replace('_', ' ')],
    ['Scheduled', <Time key="sc" at={run.scheduledAt} zone={zone} showZone />],
    ['Started', <Time key="st" at={run.startedAt} zone={zone} />],
    ['Finished', <Time key="f" at={run.finishedAt} zone={zone} />],
    ['Duration', duration(run.durationMs)],
    ['Attempt', String(run.attempt)],
  ];
  if (run.nextAttemptAt)
    rows.push([
      'Next attempt',
      <>
        <Time at={run.nextAttemptAt} zone={zone} />
        <Relative at={run.nextAttemptAt} />
      </>,
    ]);
  if (run.waitReason) rows.push(['Waiting', run.waitReason]);
  if (run.deadlineAt) rows.push(['Deadline', <Time key="d" at={run.deadlineAt} zone={zone} />]);
  if (run.heartbeatAt)
    rows.push([
      'Last heartbeat',
      <>
        <Time at={run.heartbeatAt} zone={zone} />
        <Relative at={run.heartbeatAt} />
      </>,
    ]);
  if (run.skipReason) rows.push(['Why', run.skipReason]);
  if (run.cancelledBy) rows.push(['Cancelled by', run.cancelledBy]);
  return (
    <>
      {run.progress !== null && (
        <div class="progress">
          <label for="run-progress">
            Progress: {Math.round(run.progress * 100)}%
            {run.progressMessage ? ` — ${run.progressMessage}` : ''}
          </label>
          <progress id="run-progress" max={1} value={run.progress}>
            {Math.round(run.progress * 100)}%
          </progress>
        </div>
      )}
      {run.progress === null && run.progressMessage && <p>{run.progressMessage}</p>}
      <Definitions rows={rows} />
    </>
  );
}

function Outcome({ run }: { run: Run }) {
  const result = run.result;
  if (!result && !run.error && run.output === null)
    return (
      <p class="muted">{isFinal(run.status) ? 'Nothing was recorded.' : 'Not yet: the run has not ended.'}</p>
    );
  return (
    <>
      {run.error && (
        <div class="run-error">
          <h3>Error</h3>
          <p>
            <code>{run.error.type}</code>: {run.error.message}
          </p>
        </div>
      )}
      {result && (
        <>
          <h3>Result</h3>
          <dl class="definition">
            <div>
              <dt>Status code</dt>
              <dd>{result.statusCode ?? '—'}</dd>
            </div>
            {result.exitCode !== undefined && result.exitCode !== null && (
              <div>
                <dt>Exit code</dt>
                <dd>{result.exitCode}</dd>
              </div>
            )}
            {result.taskArn && (
              <div>
                <dt>ECS task</dt>
                <dd>
                  <code>{result.taskArn}</code>
                </dd>
              </div>
            )}
            {result.executionArn && (
              <div>
                <dt>Execution</dt>
                <dd>
                  <code>{result.executionArn}</code>
                </dd>
              </div>
            )}
            {result.logs && (
              <div>
                <dt>Logs</dt>
                <dd>
                  <code>
                    {result.logs.group} / {result.logs.stream}
                  </code>{' '}
                  ({result.logs.region})
                </dd>
              </div>
            )}
          </dl>
          {result.bodyExcerpt && (
            <>
              <h4>Body (excerpt)</h4>
              <pre class="code">{result.bodyExcerpt}</pre>
            </>
          )}
        </>
      )}
      {run.output !== null && (
        <>
          <h3>Output</h3>
          <Json value={run.output} />
        </>
      )}
    </>
  );
}
