import type { Clock } from '../domain/ports.js';

export type { Clock };

export const systemClock: Clock = { now: () => new Date() };
