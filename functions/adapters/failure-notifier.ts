/**
 * Tells people when a run has finally failed: the job's own signed webhooks, and one
 * stack-wide SNS topic that receives every final failure. The webhook secret is stored
 * sealed with KMS and opened only here, just before a webhook is signed.
 */
import type { SNSClient } from '@aws-sdk/client-sns';
import type { Lazy } from '../commons/lazy.js';
import type { StoredJob } from '../domain/job.js';
import { notifySecretContext } from '../domain/job-rules.js';
import type { Clock, FailureNotifier, SecretSealer } from '../domain/ports.js';
import type { PublicRun } from '../domain/run.js';
import { SIGNATURE_HEADER, signatureHeader } from '../domain/signature.js';
import { callHttpTarget } from './http-target.js';
import type { UrlGuard } from './url-guard.js';

const WEBHOOK_TIMEOUT_SECONDS = 5;

export class WebhookAndTopicNotifier implements FailureNotifier {
  constructor(
    /** Made, and its code loaded, when the first failure is published. */
    private readonly sns: Lazy<SNSClient>,
    private readonly topicArn: string | undefined,
    private readonly clock: Clock,
    private readonly logger: { warn(message: string, ...extra: Record<string, unknown>[]): void },
    /** Webhooks get the same SSRF protection as HTTP targets. */
    private readonly guard?: UrlGuard,
    /** Opens the sealed webhook secrets; without it, a job whose secret is sealed gets no webhook. */
    private readonly box?: SecretSealer,
  ) {}

  async runFailed(job: StoredJob, run: PublicRun): Promise<void> {
    const event = {
      type: 'run.failed',
      tenantId: job.tenantId,
      job: { id: job.id, name: job.name },
      run,
    };
    const body = JSON.stringify(event);
    const hooks = job.notify?.onFailure ?? [];
    const secret = hooks.length > 0 ? await this.secretOf(job, run.id) : null;
    await Promise.all([
      // Never signed with anything but the job's secret: without it, no webhook is called.
      ...(secret === null ? [] : hooks.map((hook) => this.callWebhook(hook.url, secret, body, run.id))),
      this.publish(job, run, body),
    ]);
  }

  /** The job's webhook secret, opened from its sealed form (or, stored before sealing, in clear). */
  private async secretOf(job: StoredJob, runId: string): Promise<string | null> {
    if (!job.sealedNotifySecret) return job.notify?.secret || null;
    if (!this.box) {
      this.logger.warn('failure webhooks not called: no key to open their secret', { runId });
      return null;
    }
    try {
      return await this.box.open(job.sealedNotifySecret, notifySecretContext(job.tenantId, job.id));
    } catch (error) {
      this.logger.warn('failure webhooks not called: their secret did not open', {
        runId,
        error: String(error),
      });
      return null;
    }
  }

  private async callWebhook(url: string, secret: string, body: string, runId: string): Promise<void> {
    const timestamp = Math.floor(this.clock.now().getTime() / 1000);
    // The host only: a webhook URL may carry a token in its path or query.
    const host = new URL(url).host;
    const outcome = await callHttpTarget(
      {
        url,
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          [SIGNATURE_HEADER]: signatureHeader(secret, timestamp, body),
          'sundial-event-id': `${runId}.failed`,
        },
        body,
        timeoutSeconds: WEBHOOK_TIMEOUT_SECONDS,
      },
      { jobId: '', runId, scheduledAt: '' },
      this.guard,
    );
    // The run is already recorded; a webhook that cannot be reached does not change it.
    if (outcome.kind !== 'response') {
      this.logger.warn('failure webhook not delivered', {
        host,
        runId,
        outcome: outcome.kind,
        error: 'message' in outcome ? outcome.message : undefined,
      });
    } else if (outcome.statusCode < 200 || outcome.statusCode >= 300) {
      this.logger.warn('failure webhook answered an error', { host, status: outcome.statusCode, runId });
    }
  }

  private async publish(job: StoredJob, run: PublicRun, body: string): Promise<void> {
    if (!this.topicArn) return;
    try {
      const [sns, { PublishCommand }] = await Promise.all([this.sns(), import('@aws-sdk/client-sns')]);
      await sns.send(
        new PublishCommand({
          TopicArn: this.topicArn,
          Subject: `Sundial: ${job.name} ${run.status}`.slice(0, 100),
          Message: body,
          MessageAttributes: {
            tenantId: { DataType: 'String', StringValue: job.tenantId },
            status: { DataType: 'String', StringValue: run.status },
          },
        }),
      );
    } catch (error) {
      this.logger.warn('failure topic not notified', { runId: run.id, error: String(error) });
    }
  }
}
