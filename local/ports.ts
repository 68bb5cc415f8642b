import type { Server } from 'node:http';
import { createServer } from 'node:net';

/** An unused TCP port on loopback, for child processes that cannot be told to pick one. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Listens on a free port where the local runtime lets HTTP targets be (LOCAL_HTTP_TARGETS:
 * 8000-8999); 8000-8099 are left for URLs that must never answer.
 */
export async function listenForTargets(server: Server): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const port = 8100 + Math.floor(Math.random() * 900);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => {
          server.off('error', reject);
          resolve();
        });
      });
      return port;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt > 50) throw error;
    }
  }
}
