/**
 * Spaces calls at most `perSecond` apart: a caller waits only for what is left of the
 * interval since the previous call, so the time a call itself takes counts toward it.
 */
export function pacer(perSecond: number): () => Promise<void> {
  const interval = 1000 / perSecond;
  let next = 0;
  return async () => {
    const now = performance.now();
    const wait = next - now;
    next = Math.max(now, next) + interval;
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  };
}
