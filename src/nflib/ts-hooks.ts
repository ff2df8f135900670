/**
 * Module hooks (node:module register) that let `nfchain nf` load NF modules written in
 * TypeScript directly: .ts/.mts files are transpiled on load with TypeScript's
 * transpileModule (types are not checked here — `tsc` does that), and a relative import of
 * './x.js' falls back to './x.ts' when only the TypeScript file exists (the NodeNext
 * convention). No build step for NF authors.
 *
 * Transpiled output is cached on disk (keyed by the file's path, size and mtime), and the
 * TypeScript compiler — ~10 MB of JavaScript, most of an NF's start-up time — is loaded only
 * on a cache miss.
 */
import { readFile, writeFile, mkdir, stat, rename } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

type TS = typeof import('typescript');
let tsModule: TS | undefined;

function cacheDir(): string {
  if (process.env.NFCHAIN_CACHE_DIR) return process.env.NFCHAIN_CACHE_DIR;
  const base = process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache');
  return join(base, 'nfchain', 'ts');
}

interface ResolveContext {
  parentURL?: string;
}
type NextResolve = (specifier: string, context: ResolveContext) => Promise<{ url: string; format?: string }>;
interface LoadContext {
  format?: string;
}
type NextLoad = (url: string, context: LoadContext) => Promise<{ format: string; source: string | Buffer }>;

export async function resolve(
  specifier: string,
  context: ResolveContext,
  next: NextResolve,
): Promise<{ url: string; format?: string; shortCircuit?: boolean }> {
  if (
    (specifier.startsWith('./') || specifier.startsWith('../')) &&
    specifier.endsWith('.js') &&
    context.parentURL?.startsWith('file:')
  ) {
    const js = new URL(specifier, context.parentURL);
    if (!existsSync(fileURLToPath(js))) {
      const tsUrl = new URL(`${specifier.slice(0, -3)}.ts`, context.parentURL);
      if (existsSync(fileURLToPath(tsUrl))) return { url: tsUrl.href, shortCircuit: true };
    }
  }
  return next(specifier, context);
}

export async function load(
  url: string,
  context: LoadContext,
  next: NextLoad,
): Promise<{ format: string; source: string | Buffer; shortCircuit?: boolean }> {
  if (url.startsWith('file:') && (url.endsWith('.ts') || url.endsWith('.mts'))) {
    const path = fileURLToPath(url);
    const st = await stat(path);
    const key = createHash('sha256').update(`${path}\0${st.size}\0${st.mtimeMs}`).digest('hex').slice(0, 32);
    const cached = join(cacheDir(), `${key}.mjs`);
    try {
      return { format: 'module', source: await readFile(cached, 'utf8'), shortCircuit: true };
    } catch {
      /* not cached yet */
    }
    const text = await readFile(path, 'utf8');
    tsModule ??= (await import('typescript')).default as unknown as TS;
    const ts = tsModule;
    const out = ts.transpileModule(text, {
      fileName: path,
      reportDiagnostics: true,
      compilerOptions: {
        module: ts.ModuleKind.ESNext,
        target: ts.ScriptTarget.ES2022,
        sourceMap: false,
        inlineSourceMap: true,
        inlineSources: true,
        verbatimModuleSyntax: false,
      },
    });
    const errors = (out.diagnostics ?? []).filter((d) => d.category === ts.DiagnosticCategory.Error);
    if (errors.length) {
      const d = errors[0]!;
      const pos = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : undefined;
      const where = pos ? `${path}:${pos.line + 1}:${pos.character + 1}` : path;
      throw new SyntaxError(`${where}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
    }
    try {
      await mkdir(cacheDir(), { recursive: true, mode: 0o700 });
      const tmp = `${cached}.${process.pid}.tmp`;
      await writeFile(tmp, out.outputText, { mode: 0o600 });
      await rename(tmp, cached);
    } catch {
      /* a cache that cannot be written only costs time */
    }
    return { format: 'module', source: out.outputText, shortCircuit: true };
  }
  return next(url, context);
}
