export const STAGES = ['dev', 'prod'] as const;
export type Stage = (typeof STAGES)[number];

/** The stage from `-c stage=...`; anything else stops the synth with a clear message. */
export function parseStage(value: unknown): Stage {
  const stage = value ?? 'dev';
  if (typeof stage === 'string' && (STAGES as readonly string[]).includes(stage)) return stage as Stage;
  throw new Error(`stage must be one of ${STAGES.join(', ')} (pass -c stage=dev), got "${String(stage)}"`);
}
