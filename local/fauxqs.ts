/**
 * fauxqs (SQS and SNS) listening on 127.0.0.1 only. fauxqs' own startFauxqs always listens on
 * 0.0.0.0 (its `host` option only names the host in queue URLs), so this builds the same app with
 * its exported buildApp and binds it to loopback.
 */
import { buildApp } from 'fauxqs';

export interface LocalFauxqs {
  port: number;
  stop(): Promise<void>;
}

export async function startFauxqs(options: { port?: number; logger?: boolean } = {}): Promise<LocalFauxqs> {
  const app = buildApp({ logger: options.logger ?? false });
  await app.listen({ port: options.port ?? 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (typeof address !== 'object' || address === null) throw new Error('fauxqs did not report its port');
  return { port: address.port, stop: () => app.close() };
}
