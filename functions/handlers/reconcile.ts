import { EventBridgeScheduleGateway } from '../adapters/schedule-gateway.js';
import type { Services } from '../commons/services.js';
import { type ReconcileReport, reconcile } from '../usecases/reconcile.js';

/** Scheduler's default quota is 50 requests per second for these calls; stay well under. */
const SCHEDULER_CALLS_PER_SECOND = 20;

/** The reconciler over injected services: the stack runs it every 15 minutes, `npm start` every 5. */
export function createReconcileHandler(
  services: Services,
  pace = () => new Promise<void>((resolve) => setTimeout(resolve, 1000 / SCHEDULER_CALLS_PER_SECOND)),
): () => Promise<ReconcileReport> {
  const { config } = services;
  const gateway = new EventBridgeScheduleGateway(services.scheduler, {
    groupName: config.scheduleGroupName,
    roleArn: config.schedulerRoleArn,
    queueArns: config.queueArns,
  });
  return () =>
    reconcile({
      jobs: services.jobStore,
      scheduler: services.scheduler,
      gateway,
      groupName: config.scheduleGroupName,
      logger: services.logger,
      pace,
    });
}
