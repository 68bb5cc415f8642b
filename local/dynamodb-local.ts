/**
 * DynamoDB Local, the official emulator, from the jar that ships in the npm package
 * amplify-dynamodb-simulator. Needs a Java 17+ JDK (javac compiles the loopback launcher once).
 *
 * The jar has no bind-address flag and would listen on every interface, so it is started through
 * local/dynamodb-local/LoopbackDynamoDb.java, which binds its Jetty connector to 127.0.0.1.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { freePort } from './ports.js';

export interface DynamoDbLocal {
  endpoint: string;
  /** The Java process (benchmarks read its peak memory). */
  pid: number | undefined;
  stop(): Promise<void>;
}

export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };
export const LOCAL_REGION = 'us-east-1';

function jarDirectory(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('amplify-dynamodb-simulator/package.json')), 'emulator');
}

const LAUNCHER = 'LoopbackDynamoDb';
const LAUNCHER_SOURCE = fileURLToPath(new URL(`./dynamodb-local/${LAUNCHER}.java`, import.meta.url));
const CACHE_ROOT = fileURLToPath(new URL('../node_modules/.cache/sundial', import.meta.url));

/**
 * The directory holding the compiled loopback launcher. Compiled once per version of its source
 * (the single-file source launcher, `java X.java`, would recompile at every start, which costs
 * seconds); it uses reflection only, so it compiles without the jar on the class path.
 */
async function launcherClasses(): Promise<string> {
  const source = await readFile(LAUNCHER_SOURCE);
  const hash = createHash('sha256').update(source).digest('hex').slice(0, 16);
  const target = join(CACHE_ROOT, `dynamodb-local-${hash}`);
  if (existsSync(join(target, `${LAUNCHER}.class`))) return target;
  await mkdir(CACHE_ROOT, { recursive: true });
  // Compile beside the target and rename: concurrent starts (parallel test files) never see half a class.
  const scratch = await mkdtemp(join(CACHE_ROOT, 'dynamodb-local-build-'));
  try {
    await promisify(execFile)('javac', ['--release', '17', '-d', scratch, LAUNCHER_SOURCE]).catch(
      (error: Error) => {
        throw new Error(`cannot compile ${LAUNCHER_SOURCE} (is a Java 17+ JDK on PATH?): ${error.message}`);
      },
    );
    await rename(scratch, target).catch((error: NodeJS.ErrnoException) => {
      // Another start compiled the same source first.
      if (!existsSync(join(target, `${LAUNCHER}.class`))) throw error;
    });
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  return target;
}

/** The launcher's exit status when the server could not start (its port taken): start again elsewhere. */
const BIND_FAILED = 3;
/** Starts on a fresh port after a lost port race, at most this many times. */
const START_ATTEMPTS = 5;

class PortTaken extends Error {}

/**
 * Starts DynamoDB Local and waits until it answers. Without `port`, a free port is chosen;
 * another process can take it before Java binds it (parallel test files do), and then the
 * start is tried again on another one.
 */
export async function startDynamoDbLocal(
  options: { port?: number; dbPath?: string; choosePort?: () => Promise<number> } = {},
): Promise<DynamoDbLocal> {
  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? (await (options.choosePort ?? freePort)());
    try {
      return await startOn(port, options.dbPath);
    } catch (error) {
      if (!(error instanceof PortTaken) || options.port !== undefined || attempt >= START_ATTEMPTS)
        throw error;
    }
  }
}

async function startOn(port: number, dbPath: string | undefined): Promise<DynamoDbLocal> {
  const dir = jarDirectory();
  const storage = dbPath ? ['-dbPath', dbPath] : ['-inMemory'];
  const classes = await launcherClasses();
  const child: ChildProcess = spawn(
    'java',
    [
      `-Djava.library.path=${join(dir, 'DynamoDBLocal_lib')}`,
      // An IPv4 socket on 127.0.0.1, not a dual-stack one on ::ffff:127.0.0.1.
      '-Djava.net.preferIPv4Stack=true',
      '-cp',
      // The jar's manifest brings DynamoDBLocal_lib/*.jar along.
      [classes, join(dir, 'DynamoDBLocal.jar')].join(delimiter),
      LAUNCHER,
      ...storage,
      // Without -sharedDb every access key would get its own database.
      '-sharedDb',
      '-disableTelemetry',
      '-port',
      String(port),
    ],
    {
      cwd: dir,
      stdio: ['ignore', 'ignore', 'pipe'],
      // -disableTelemetry is parsed but ignored by this jar version; only this variable turns telemetry off.
      env: { ...process.env, DDB_LOCAL_TELEMETRY: '0' },
    },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  const deadline = Date.now() + 60_000;
  try {
    for (;;) {
      // Bounded: whatever holds the port may accept and never answer.
      const attempt = client
        .send(new ListTablesCommand({ Limit: 1 }), { abortSignal: AbortSignal.timeout(2_000) })
        .then(
          () => 'ready' as const,
          () => 'retry' as const,
        );
      const result = await Promise.race([
        attempt,
        exited.then((code) => {
          const message = `DynamoDB Local exited with code ${code}: ${stderr}`;
          throw code === BIND_FAILED ? new PortTaken(message) : new Error(message);
        }),
        spawnError.then((error) => {
          throw new Error(`cannot start DynamoDB Local (is Java 17+ on PATH?): ${error.message}`);
        }),
      ]);
      if (result === 'ready') break;
      if (Date.now() > deadline) throw new Error(`DynamoDB Local did not answer within 60s: ${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  } finally {
    client.destroy();
  }
  return {
    endpoint,
    pid: child.pid,
    stop: async () => {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
