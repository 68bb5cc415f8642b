/** Reading a JSON or YAML document from a file or stdin (`-`). */
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { UsageError } from './context.js';

export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** JSON for `.json`, YAML otherwise (stdin: JSON when it looks like it, else YAML). */
export function parseDocument(text: string, name: string): unknown {
  const json = extname(name).toLowerCase() === '.json' || (name === '-' && /^\s*[[{]/.test(text));
  try {
    return json ? (JSON.parse(text) as unknown) : (parseYaml(text) as unknown);
  } catch (error) {
    throw new UsageError(`${name}: is not valid ${json ? 'JSON' : 'YAML'}: ${(error as Error).message}`);
  }
}

export async function readDocument(path: string): Promise<unknown> {
  let text: string;
  try {
    text = path === '-' ? await readStdin() : await readFile(path, 'utf8');
  } catch (error) {
    throw new UsageError(
      `${path}: cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
    );
  }
  return parseDocument(text, path === '-' ? '-' : path);
}
