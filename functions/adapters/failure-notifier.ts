/**
 * Tells people when a run has finally failed: the job's own signed webhooks, and one
 * stack-wide SNS topic that receives every final failure.
 */
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import type { Clock } from '../commons/clock.js';
import type { Job } from '../domain/job.js';
import type { Run } from '../domain/run.js';
import { SIGNATURE_HEADER, signatureHeader } from '../domain/signature.js';

export interface FailureNotifier {
  runFailed(job: Job, run: Omit<Run, 'tenantId'>): Promise<void>;
}

const WEBHOOK_TIMEOUT_MS = 5000;

export class WebhookAndTopicNotifier implements FailureNotifier {
  constructor(
    private readonly sns: SNSClient,
    private readonly topicArn: string | undefined,
    private readonly clock: Clock,
    private readonly logger: { warn(message: string, ...extra: Record<string, unknown>[]): void },
  ) {}

  async runFailed(job: Job, run: Omit<Run, 'tenantId'>): Promise<void> {
    const event = {
      type: 'run.failed',
      tenantId: job.tenantId,
      job: { id: job.id, name: job.name },
      run,
    };
    const body = JSON.stringify(event);
    await Promise.all([
      ...(job.notify?.onFailure ?? []).map((hook) =>
        this.callWebhook(hook.url, job.notify.secret ?? '', body, run.id),
      ),
      this.publish(job, run, body),
    ]);
  }

  private async callWebhook(url: string, secret: string, body: string, runId: string): Promise<void> {
    const timestamp = Math.floor(this.clock.now().getTime() / 1000);
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          [SIGNATURE_HEADER]: signatureHeader(secret, timestamp, body),
          'sundial-event-id': `${runId}.failed`,
          'user-agent': 'Sundial/0.1',
        },
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
      });
      await response.body?.cancel();
      if (!response.ok)
        this.logger.warn('failure webhook answered an error', { url, status: response.status, runId });
    } catch (error) {
      // The run is already recorded; a webhook that cannot be reached does not change it.
      this.logger.warn('failure webhook not delivered', { url, runId, error: String(error) });
    }
  }

  private async publish(job: Job, run: Omit<Run, 'tenantId'>, body: string): Promise<void> {
    if (!this.topicArn) return;
    try {
      await this.sns.send(
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
