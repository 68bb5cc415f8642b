/**
 * The drill's HTTP target: one local server both regions' workers call, recording every call
 * with the occurrence it was for (Sundial's x-sundial-job-id and x-sundial-scheduled-time
 * headers) and the region the drill was driving when it came. It answers 200 to everything.
 */
import { createServer, type Server } from 'node:http';
import { listenForTargets } from '../local/ports.js';

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
    this.url = `http://127.0.0.1:${await listenForTargets(this.server)}`;
    return this;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
