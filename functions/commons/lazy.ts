/**
 * A value made the first time it is asked for, then kept: for SDK clients a function needs
 * only for some work (a target type, a failure to announce), so that a cold start that does
 * not do that work neither makes the client nor loads its code (a separate chunk of the
 * bundle, lib/constructs/function.ts).
 */
export type Lazy<T> = () => Promise<T>;

/** Makes the value once; callers that ask at the same time share it, and a failed make is tried again. */
export function lazy<T>(make: () => Promise<T>): Lazy<T> {
  let made: Promise<T> | undefined;
  return () => {
    made ??= make().catch((error: unknown) => {
      made = undefined;
      throw error;
    });
    return made;
  };
}

/** An already made value, where a `Lazy` is asked for (tests, the local runtime). */
export const ready =
  <T>(value: T): Lazy<T> =>
  async () =>
    value;
