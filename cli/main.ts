/** The `sundial` command: runs the program and exits with its code (0 ok, 1 refused, 2 usage). */
import './node-require.js';
import { run } from './program.js';

// Piped into `head` or the like: a reader that stops reading is not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

process.exitCode = await run(process.argv);
