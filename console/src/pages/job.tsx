import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { describeFireTimes, duration, wallTime } from '../../../client/fire-times.js';
import type { Job, Run } from '../../../client/index.js';
import { isFinal, must, viewerZone } from '../api.js';
import { RunChart } from '../chart-view.js';
import { useAction, useApp, useResource } from '../hooks.js';
import { href } from '../routes.js';
import {
  Definitions,
  Dialog,
  ErrorBox,
  Field,
  Json,
  Loading,
  PageTitle,
  Relative,
  StatusBadge,
  Time,
} from '../ui.js';

const HISTORY = 50;

export function JobPage({ jobId }: { jobId: string }) {
  const { client, announce } = useApp();
  const job = useResource(
    () => must(client.GET('/v1/jobs/{jobId}', { params: { path: { jobId } } })),
    [client, jobId],
  );
  const runs = useResource(
    () =>
      must(client.GET('/v1/jobs/{jobId}/runs', { params: { path: { jobId }, query: { limit: HISTORY } } })),
    [client, jobId],
    // Live while a run is queued or running: the list refreshes every 2 s until all are final.
    { pollMs: 2000, done: (page) => page.items.every((r) => isFinal(r.status)) },
  );
  const [dialog, setDialog] = useState<'pause' | 'backfill' | 'delete' | null>(null);
  const refresh = () => {
    job.reload();
    runs.reload();
  };

  const runNow = useAction(async () => {
    const run = await must(client.POST('/v1/jobs/{jobId}/runs', { params: { path: { jobId } } }));
    announce(`Run ${run.id} queued.`);
    refresh();
  });
  const resume = useAction(async () => {
    await must(client.POST('/v1/jobs/{jobId}/resume', { params: { path: { jobId } } }));
    announce('Job resumed.');
    refresh();
  });

  const j = job.data;
  // The heading stays the same element while the job loads, so the focus put on it stays.
  const head = (
    <>
      <Breadcrumb name={j?.name ?? jobId} />
      <div class="page-head">
        <PageTitle>{j?.name ?? 'Job'}</PageTitle>
        {j && <StatusBadge status={j.state} />}
      </div>
    </>
  );
  if (!j) {
    return (
      <>
        {head}
        {job.error ? (
          <ErrorBox error={job.error} context="Could not load the job" />
        ) : (
          <Loading what="the job" />
        )}
      </>
    );
  }
  return (
    <>
      {head}
      {j.state === 'paused' && (
        <p class="paused-banner">
          <strong>Paused</strong>
          {j.pausedReason ? (
            <>
              : <span class="reason">“{j.pausedReason}”</span>
            </>
          ) : (
            ' (no reason given)'
          )}
        </p>
      )}
      {j.description && <p class="lead">{j.description}</p>}
      <div class="toolbar">
        <button type="button" class="button primary" onClick={() => runNow.run()} disabled={runNow.busy}>
          {runNow.busy ? 'Queuing…' : 'Run now'}
        </button>
        {j.state === 'enabled' ? (
          <button type="button" class="button" onClick={() => setDialog('pause')}>
            Pause…
          </button>
        ) : (
          <button type="button" class="button" onClick={() => resume.run()} disabled={resume.busy}>
            Resume
          </button>
        )}
        <button type="button" class="button" onClick={() => setDialog('backfill')} disabled={!j.schedule}>
          Backfill…
        </button>
        <button type="button" class="button danger" onClick={() => setDialog('delete')}>
          Delete…
        </button>
      </div>
      <ErrorBox error={runNow.error} context="Run now refused" />
      <ErrorBox error={resume.error} context="Resume refused" />

      <div class="columns">
        <section aria-labelledby="definition-title" class="card">
          <h2 id="definition-title">Definition</h2>
          <Definition job={j} />
        </section>
        <section aria-labelledby="fire-times-title" class="card">
          <h2 id="fire-times-title">Next fire times</h2>
          <FireTimes job={j} />
        </section>
      </div>

      <section aria-labelledby="history-title" class="card">
        <div class="section-head">
          <h2 id="history-title">Run history</h2>
          <button type="button" class="button subtle" onClick={runs.reload}>
            Refresh
          </button>
        </div>
        <ErrorBox error={runs.error} context="Could not load the runs" />
        {!runs.data ? (
          <Loading what="runs" />
        ) : runs.data.items.length === 0 ? (
          <p class="empty">No run yet.</p>
        ) : (
          <>
            <RunChart runs={runs.data.items} />
            <RunTable job={j} runs={runs.data.items} onChange={refresh} />
          </>
        )}
      </section>

      <PauseDialog open={dialog === 'pause'} jobId={jobId} onClose={() => setDialog(null)} onDone={refresh} />
      <BackfillDialog open={dialog === 'backfill'} job={j} onClose={() => setDialog(null)} onDone={refresh} />
      <DeleteDialog open={dialog === 'delete'} job={j} onClose={() => setDialog(null)} />
    </>
  );
}

function Breadcrumb({ name }: { name: string }) {
  return (
    <nav aria-label="Breadcrumb" class="breadcrumb">
      <ol>
        <li>
          <a href={href.jobs()}>Jobs</a>
        </li>
        <li aria-current="page">{name}</li>
      </ol>
    </nav>
  );
}

function targetSummary(target: Job['target']): Row[] {
  switch (target.type) {
    case 'http':
      return [
        ['Target', `HTTP ${target.method} ${target.url}`],
        [
          'Completion',
          target.completion === 'callback'
            ? `callback (run timeout ${target.runTimeoutSeconds} s)`
            : 'response',
        ],
        ...(target.secretHeaderNames.length
          ? [row('Secret headers', target.secretHeaderNames.join(', '))]
          : []),
      ];
    case 'lambda':
      return [['Target', `Lambda ${target.functionArn}`]];
    case 'sqs':
      return [['Target', `SQS ${target.queueUrl}`]];
    case 'eventbridge':
      return [['Target', `EventBridge ${target.eventBusArn} (${target.source} / ${target.detailType})`]];
    case 'ecs':
      return [
        ['Target', `ECS ${target.taskDefinition}`],
        ['Cluster', target.cluster],
        ['Run timeout', `${target.runTimeoutSeconds} s`],
      ];
    case 'stepfunctions':
      return [
        ['Target', `Step Functions ${target.stateMachineArn}`],
        ['Run timeout', `${target.runTimeoutSeconds} s`],
      ];
  }
}

type Row = [string, ComponentChildren];
const row = (term: string, value: ComponentChildren): Row => [term, value];

function Definition({ job }: { job: Job }) {
  const r = job.retryPolicy;
  const rows: Row[] = [
    ['Id', <code key="id">{job.id}</code>],
    [
      'Schedule',
      job.schedule ? (
        <>
          <code>{job.schedule.expression}</code> in {job.schedule.timezone}
          {job.schedule.flexibleWindowMinutes > 0 &&
            `, flexible window ${job.schedule.flexibleWindowMinutes} min`}
        </>
      ) : (
        'none: runs on demand or after its dependencies'
      ),
    ],
    ...(job.schedule?.startAt ? [row('Starts', <Time key="s" at={job.schedule.startAt} />)] : []),
    ...(job.schedule?.endAt ? [row('Ends', <Time key="e" at={job.schedule.endAt} />)] : []),
    ...targetSummary(job.target),
    ['Call timeout', `${job.target.timeoutSeconds} s`],
    [
      'Retries',
      r.maxAttempts <= 1
        ? 'none (1 attempt)'
        : `${r.maxAttempts} attempts, from ${r.initialDelaySeconds} s × ${r.multiplier} up to ${r.maxDelaySeconds} s`,
    ],
    ['Overlap', job.overlapPolicy.replace('_', ' ')],
    ['Priority', job.priority],
    ['Misfire grace', job.misfireGraceSeconds === null ? 'always run' : `${job.misfireGraceSeconds} s`],
    ['Catch-up', job.catchUp === 'none' ? 'none' : `${job.catchUp} within ${job.catchUpWindowMinutes} min`],
    [
      'Depends on',
      job.dependsOn.length ? (
        <ul class="plain">
          {job.dependsOn.map((id) => (
            <li key={id}>
              <a href={href.job(id)}>{id}</a>
            </li>
          ))}
        </ul>
      ) : (
        'nothing'
      ),
    ],
    [
      'Failure alerts',
      job.notify.onFailure.length
        ? `${job.notify.onFailure.length} webhook${job.notify.onFailure.length > 1 ? 's' : ''}${job.notify.secretSet ? ', signed' : ''}`
        : 'none',
    ],
    [
      'Tags',
      Object.keys(job.tags).length ? (
        <ul class="tags">
          {Object.entries(job.tags).map(([k, v]) => (
            <li key={k}>
              <a class="tag" href={href.jobs({ tag: `${k}:${v}` })}>
                {k}:{v}
              </a>
            </li>
          ))}
        </ul>
      ) : (
        'none'
      ),
    ],
    [
      'Next run',
      job.nextRunAt ? <Time key="n" at={job.nextRunAt} zone={job.schedule?.timezone} showZone /> : 'none',
    ],
    ['Created', <Time key="c" at={job.createdAt} />],
    ['Updated', <Time key="u" at={job.updatedAt} />],
    ['Version', String(job.version)],
  ];
  return (
    <>
      <Definitions rows={rows} />
      <details>
        <summary>The job as JSON</summary>
        <Json value={job} />
      </details>
    </>
  );
}

function FireTimes({ job }: { job: Job }) {
  const { client } = useApp();
  const schedule = job.schedule;
  const preview = useResource(async () => {
    if (!schedule) return null;
    const now = new Date();
    const start = schedule.startAt && Date.parse(schedule.startAt) > now.getTime() ? schedule.startAt : null;
    const body = await must(
      client.POST('/v1/schedules/preview', {
        body: {
          expression: schedule.expression,
          timezone: schedule.timezone,
          count: 10,
          ...(start ? { startAt: start } : {}),
          ...(schedule.endAt ? { endAt: schedule.endAt } : {}),
        },
      }),
    );
    return { now, fireTimes: body.fireTimes };
  }, [client, schedule?.expression, schedule?.timezone, schedule?.startAt, schedule?.endAt]);
  if (!schedule) return <p class="muted">No schedule: this job runs on demand or after its dependencies.</p>;
  if (preview.error) return <ErrorBox error={preview.error} context="Could not preview the schedule" />;
  if (!preview.data) return <Loading what="fire times" />;
  const zone = schedule.timezone;
  const mine = viewerZone();
  const views = describeFireTimes(preview.data.fireTimes, zone, preview.data.now);
  if (views.length === 0) return <p class="muted">The schedule fires no more.</p>;
  return (
    <>
      {job.state === 'paused' && (
        <p class="muted small">Paused: these are when it would fire once resumed.</p>
      )}
      <table class="data compact">
        <caption class="visually-hidden">The next {views.length} fire times</caption>
        <thead>
          <tr>
            <th scope="col">In {zone}</th>
            <th scope="col">Yours ({mine})</th>
            <th scope="col">Daylight saving</th>
          </tr>
        </thead>
        <tbody>
          {views.map((v) => {
            const yours = wallTime(v.at, mine);
            return (
              <tr key={v.at} class={v.dstChange ? 'dst' : undefined}>
                <td>
                  <time dateTime={v.at} title={`${v.at} (UTC)`}>
                    {v.local}
                  </time>{' '}
                  <span class="muted small">({v.offset})</span>
                </td>
                <td>
                  {yours.local} <span class="muted small">({yours.offset})</span>
                </td>
                <td>
                  {v.dstChange ? (
                    <span class="dst-mark">
                      <span aria-hidden="true">☀︎ </span>changes: {v.change}
                    </span>
                  ) : (
                    <span class="muted">—</span>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </>
  );
}

function RunTable({ job, runs, onChange }: { job: Job; runs: Run[]; onChange: () => void }) {
  const { client, announce } = useApp();
  const cancel = useAction(async (run: Run) => {
    await must(
      client.POST('/v1/jobs/{jobId}/runs/{runId}/cancel', {
        params: { path: { jobId: job.id, runId: run.id } },
      }),
    );
    announce(`Run ${run.id} cancelled.`);
    onChange();
  });
  const zone = job.schedule?.timezone ?? 'UTC';
  return (
    <>
      <ErrorBox error={cancel.error} context="Cancel refused" />
      <div class="table-wrap">
        <table class="data">
          <caption class="visually-hidden">Runs, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Run</th>
              <th scope="col">Status</th>
              <th scope="col">Trigger</th>
              <th scope="col">Scheduled ({zone})</th>
              <th scope="col">Duration</th>
              <th scope="col">Attempts</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {runs.map((run) => (
              <tr key={run.id}>
                <th scope="row">
                  <a href={href.run(job.id, run.id)}>
                    <code>{run.id}</code>
                  </a>
                </th>
                <td>
                  <StatusBadge status={run.status} />
                  {run.error && <div class="muted small">{run.error.type}</div>}
                </td>
                <td>{run.trigger.replace('_', ' ')}</td>
                <td>
                  <Time at={run.scheduledAt} zone={zone} />
                  <Relative at={run.scheduledAt} />
                </td>
                <td>{duration(run.durationMs)}</td>
                <td>{run.attempt}</td>
                <td>
                  {!isFinal(run.status) && (
                    <button
                      type="button"
                      class="button subtle small"
                      onClick={() => cancel.run(run)}
                      disabled={cancel.busy}
                      aria-label={`Cancel run ${run.id}`}
                    >
                      Cancel
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

function PauseDialog({
  open,
  jobId,
  onClose,
  onDone,
}: {
  open: boolean;
  jobId: string;
  onClose: () => void;
  onDone: () => void;
}) {
  const { client, announce } = useApp();
  const [reason, setReason] = useState('');
  const pause = useAction(async () => {
    const trimmed = reason.trim();
    await must(
      client.POST('/v1/jobs/{jobId}/pause', {
        params: { path: { jobId } },
        body: trimmed ? { reason: trimmed } : {},
      }),
    );
    announce(trimmed ? `Job paused: ${trimmed}` : 'Job paused.');
    setReason('');
    onClose();
    onDone();
  });
  return (
    <Dialog open={open} title="Pause the job" onClose={onClose}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          pause.run();
        }}
      >
        <p>Its schedule stops firing until it is resumed. Runs already queued still run.</p>
        <Field
          id="pause-reason"
          label="Reason (optional)"
          hint="Shown on the job until it is resumed; up to 256 characters."
        >
          <textarea
            id="pause-reason"
            rows={3}
            maxLength={256}
            aria-describedby="pause-reason-hint"
            value={reason}
            onInput={(e) => setReason(e.currentTarget.value)}
          />
        </Field>
        <ErrorBox error={pause.error} context="Pause refused" />
        <div class="dialog-actions">
          <button type="button" class="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="button primary" disabled={pause.busy}>
            Pause job
          </button>
        </div>
      </form>
    </Dialog>
  );
}

/** `datetime-local` gives `YYYY-MM-DDTHH:MM`; the form says these are UTC. */
function utcInstant(value: string): string {
  if (!value) return '';
  return /T\d\d:\d\d$/.test(value) ? `${value}:00Z` : `${value}Z`;
}

function BackfillDialog({
  open,
  job,
  onClose,
  onDone,
}: {
  open: boolean;
  job: Job;
  onClose: () => void;
  onDone: () => void;
}) {
  const { client, announce } = useApp();
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [maxRuns, setMaxRuns] = useState('');
  const backfill = useAction(async () => {
    const result = await must(
      client.POST('/v1/jobs/{jobId}/backfill', {
        params: { path: { jobId: job.id } },
        body: {
          from: utcInstant(from),
          to: utcInstant(to),
          ...(maxRuns.trim() ? { maxRuns: Number(maxRuns) } : {}),
        },
      }),
    );
    announce(`Backfill queued ${result.runs} run${result.runs === 1 ? '' : 's'}.`);
    onClose();
    onDone();
  });
  return (
    <Dialog open={open} title="Backfill" onClose={onClose}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          backfill.run();
        }}
      >
        <p>
          Runs every occurrence of <code>{job.schedule?.expression}</code> in [from, to) once; occurrences
          that already ran are left alone.
        </p>
        <Field id="backfill-from" label="From (UTC)">
          <input
            id="backfill-from"
            type="datetime-local"
            value={from}
            onInput={(e) => setFrom(e.currentTarget.value)}
          />
        </Field>
        <Field id="backfill-to" label="To (UTC, not included)">
          <input
            id="backfill-to"
            type="datetime-local"
            value={to}
            onInput={(e) => setTo(e.currentTarget.value)}
          />
        </Field>
        <Field
          id="backfill-max"
          label="At most this many runs (optional)"
          hint="1 to 1000; the API refuses a range holding more."
        >
          <input
            id="backfill-max"
            type="number"
            min={1}
            max={1000}
            inputMode="numeric"
            aria-describedby="backfill-max-hint"
            value={maxRuns}
            onInput={(e) => setMaxRuns(e.currentTarget.value)}
          />
        </Field>
        <ErrorBox error={backfill.error} context="Backfill refused" />
        <div class="dialog-actions">
          <button type="button" class="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="button primary" disabled={backfill.busy}>
            Backfill
          </button>
        </div>
      </form>
    </Dialog>
  );
}

function DeleteDialog({ open, job, onClose }: { open: boolean; job: Job; onClose: () => void }) {
  const { client, announce } = useApp();
  const remove = useAction(async () => {
    await must(client.DELETE('/v1/jobs/{jobId}', { params: { path: { jobId: job.id } } }));
    announce(`Job ${job.name} deleted.`);
    onClose();
    location.hash = href.jobs();
  });
  return (
    <Dialog open={open} title="Delete the job" onClose={onClose}>
      <p>
        Delete <strong>{job.name}</strong> and its schedule? This cannot be undone.
      </p>
      <ErrorBox error={remove.error} context="Delete refused" />
      <div class="dialog-actions">
        <button type="button" class="button" onClick={onClose}>
          Keep it
        </button>
        <button type="button" class="button danger" onClick={() => remove.run()} disabled={remove.busy}>
          Delete job
        </button>
      </div>
    </Dialog>
  );
}
