/**
 * The drill's HTTP target: one local server both regions' workers call, recording every call
 * with the occurrence it was for (Sundial's x-sundial-job-id and x-sundial-scheduled-time
 * headers) and the region the drill was driving when it came. It answers 200 to everything.
 */
import { createServer, type Server } from 'node:http';

export interface TargetCall {
  jobId: string;
  /** The occurrence's scheduled time, ISO 8601 (normalised). */
  scheduledAt: string;
  runId: string;
  /** The region whose functions the drill was running when the call came. */
  region: string;
  /** The injected clock's time of the call. */
  at: string;
}

/**
 * Listens on a free port of 127.0.0.1 in 8100-8999: the local runtime lets HTTP targets reach
 * this machine on ports 8000-8999 only (LOCAL_HTTP_TARGETS).
 */
async function listenOnTargetPort(server: Server): Promise<number> {
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

export class DrillTarget {
  readonly calls: TargetCall[] = [];
  /** Set by the drill before it runs a region's functions: calls are tagged with it. */
  region = 'unknown';
  url = '';
  private server: Server | undefined;

  constructor(private readonly now: () => Date) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const header = (name: string) => {
          const value = req.headers[name];
          return Array.isArray(value) ? (value[0] ?? '') : (value ?? '');
        };
        const scheduled = header('x-sundial-scheduled-time');
        const time = Date.parse(scheduled);
        this.calls.push({
          jobId: header('x-sundial-job-id'),
          scheduledAt: Number.isNaN(time) ? scheduled : new Date(time).toISOString(),
          runId: header('x-sundial-run-id'),
          region: this.region,
          at: this.now().toISOString(),
        });
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      });
    });
    this.url = `http://127.0.0.1:${await listenOnTargetPort(this.server)}`;
    return this;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
