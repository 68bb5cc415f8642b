/**
 * The bundle (npm run build:cli) is an ES module holding CommonJS code (commander) that
 * calls `require('node:events')`; esbuild's shim finds no `require` in an ES module, so one
 * is provided before that code runs. Imported first by main.ts; under tsx nothing is done.
 */
import { createRequire } from 'node:module';

if (!import.meta.url.endsWith('.ts')) {
  const scope = globalThis as { require?: NodeJS.Require };
  scope.require ??= createRequire(import.meta.url);
}
