/**
 * What the bundles import as `node:stream/web` (FUNCTION_BUILD_OPTIONS' alias). Only
 * @middy/core imports it, for one `instanceof ReadableStream` in its response-streaming path,
 * which Sundial's functions never take (they return whole responses). Loading Node's web
 * streams for that check is about 4 ms of every cold start (issue 17); this object answers the
 * same check against Node's own ReadableStream, loaded only if the check is ever made
 * (`instanceof` asks its right side's Symbol.hasInstance).
 */
export const ReadableStream = {
  [Symbol.hasInstance]: (value: unknown): boolean => value instanceof globalThis.ReadableStream,
};
