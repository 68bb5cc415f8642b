/**
 * zod for the API's request validation: zod/mini, with zod's English messages. Classic zod
 * gives every schema its methods as it is built, which made building the API's schemas the
 * largest part of its cold start; mini's schemas are plain, and its checks are functions.
 * Importing this module sets the messages, as importing classic zod does: `import * as z`.
 */
import { config } from 'zod/mini';
import en from 'zod/v4/locales/en.js';

if (!config().localeError) config(en());

// Re-exported, not passed on as one object, so that bundling keeps only what is used.
export * from 'zod/mini';
