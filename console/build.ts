/**
 * Builds the web console: one esbuild bundle (Preact and the typed client included, nothing
 * from another origin), the stylesheet and the page, as text keyed by their path under
 * /console/. The API serves them from memory; `tsx console/build.ts --out <dir>` writes them
 * for the Lambda bundle.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const src = join(here, 'src');

export async function buildConsole(options: { minify?: boolean } = {}): Promise<Record<string, string>> {
  const minify = options.minify ?? false;
  const result = await build({
    entryPoints: [join(src, 'main.tsx')],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    minify,
    sourcemap: false,
    legalComments: minify ? 'none' : 'inline',
    outfile: 'app.js',
    logLevel: 'silent',
  });
  const js = result.outputFiles.find((f) => f.path.endsWith('.js'));
  if (!js) throw new Error('esbuild produced no app.js');
  const [html, css, favicon] = await Promise.all(
    ['index.html', 'app.css', 'favicon.svg'].map((name) => readFile(join(src, name), 'utf8')),
  );
  return { 'index.html': html!, 'app.js': js.text, 'app.css': css!, 'favicon.svg': favicon! };
}

async function main(argv: string[]): Promise<void> {
  const at = argv.indexOf('--out');
  const out = at >= 0 ? argv[at + 1] : undefined;
  if (!out) {
    console.error('usage: tsx console/build.ts --out <dir> [--no-minify]');
    process.exit(2);
  }
  const files = await buildConsole({ minify: !argv.includes('--no-minify') });
  for (const [name, text] of Object.entries(files)) {
    const path = join(resolve(out), name);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, text);
  }
  console.log(`console: ${Object.keys(files).length} files written to ${resolve(out)}`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main(process.argv.slice(2));
}
