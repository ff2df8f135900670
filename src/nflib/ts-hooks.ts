/**
 * Module hooks (node:module register) that let `nfchain nf` load NF modules written in
 * TypeScript directly: .ts/.mts files are transpiled on load with TypeScript's
 * transpileModule (types are not checked here — `tsc` does that), and a relative import of
 * './x.js' falls back to './x.ts' when only the TypeScript file exists (the NodeNext
 * convention). No build step for NF authors.
 */
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

interface ResolveContext { parentURL?: string }
type NextResolve = (specifier: string, context: ResolveContext) => Promise<{ url: string; format?: string }>;
interface LoadContext { format?: string }
type NextLoad = (url: string, context: LoadContext) => Promise<{ format: string; source: string | Buffer }>;

export async function resolve(specifier: string, context: ResolveContext, next: NextResolve): Promise<{ url: string; format?: string; shortCircuit?: boolean }> {
  if ((specifier.startsWith('./') || specifier.startsWith('../')) && specifier.endsWith('.js') && context.parentURL?.startsWith('file:')) {
    const js = new URL(specifier, context.parentURL);
    if (!existsSync(fileURLToPath(js))) {
      const tsUrl = new URL(specifier.slice(0, -3) + '.ts', context.parentURL);
      if (existsSync(fileURLToPath(tsUrl))) return { url: tsUrl.href, shortCircuit: true };
    }
  }
  return next(specifier, context);
}

export async function load(url: string, context: LoadContext, next: NextLoad): Promise<{ format: string; source: string | Buffer; shortCircuit?: boolean }> {
  if (url.startsWith('file:') && (url.endsWith('.ts') || url.endsWith('.mts'))) {
    const path = fileURLToPath(url);
    const text = await readFile(path, 'utf8');
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
    return { format: 'module', source: out.outputText, shortCircuit: true };
  }
  return next(url, context);
}
