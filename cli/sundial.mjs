#!/usr/bin/env node
// `npx sundial` in a clone: TypeScript run through tsx. dist/sundial.mjs (npm run build:cli) needs neither.
import { register } from 'tsx/esm/api';

register();
await import('./main.ts');
