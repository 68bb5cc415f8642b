export const STAGES = ['dev', 'prod'] as const;
export type Stage = (typeof STAGES)[number];

/** The stage from `-c stage=...`; anything else stops the synth with a clear message. */
export function parseStage(value: unknown): Stage {
  const stage = value ?? 'dev';
  if (typeof stage === 'string' && (STAGES as readonly string[]).includes(stage)) return stage as Stage;
  throw new Error(`stage must be one of ${STAGES.join(', ')} (pass -c stage=dev), got "${String(stage)}"`);
}

/** Days a run is kept (DynamoDB TTL) from `-c runRetentionDays=N`; 30 when not given. */
export function parseRetentionDays(value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  const days = Number(value);
  if (!Number.isInteger(days) || days < 1 || days > 3650) {
    throw new Error(`runRetentionDays must be a whole number of days from 1 to 3650, got "${String(value)}"`);
  }
  return days;
}
