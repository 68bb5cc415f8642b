/** Time source, injected so tests and the local runtime can drive time by hand. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
