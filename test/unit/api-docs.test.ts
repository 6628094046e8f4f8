// The public API: every export of every package entry carries a doc comment, and the package's
// `exports` map resolves to built files that hold what each entry promises.
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = path.join(__dirname, '..', '..');
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));

/** Entry subpath -> its TypeScript source. */
const ENTRIES: Record<string, string> = {
  '.': 'src/index.ts',
  './dm': 'src/api/dm.ts',
  './testing': 'src/api/testing.ts',
};

function hasDoc(sym: ts.Symbol, checker: ts.TypeChecker): boolean {
  if (ts.displayPartsToString(sym.getDocumentationComment(checker)).trim()) return true;
  // A doc comment of tags only (e.g. just `@deprecated`) counts too.
  return (sym.declarations ?? []).some((d) => ts.getJSDocCommentsAndTags(d).length > 0);
}

const isPublicMember = (m: ts.ClassElement): boolean => {
  if (ts.isConstructorDeclaration(m) || ts.isClassStaticBlockDeclaration(m) || ts.isSemicolonClassElement(m)) return false;
  if (ts.isIndexSignatureDeclaration(m)) return false;
  if (m.name && ts.isPrivateIdentifier(m.name)) return false;
  const flags = ts.getCombinedModifierFlags(m as ts.Declaration);
  return !(flags & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected));
};

/** Every export of `file` (re-exports and aliases resolved, namespaces and public class members
 *  walked) that carries no doc comment, as `entry: name`. */
function undocumented(program: ts.Program, file: string, entry: string): string[] {
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(path.join(ROOT, file));
  if (!source) throw new Error(`${file} is not in the program`);
  const missing: string[] = [];
  const seen = new Set<ts.Symbol>();
  const walk = (module: ts.Symbol, prefix: string): void => {
    for (const exported of checker.getExportsOfModule(module)) {
      const name = `${prefix}${exported.name}`;
      const sym = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
      const isModule = (sym.flags & ts.SymbolFlags.ValueModule) !== 0 && (sym.declarations ?? []).some(ts.isSourceFile);
      if (isModule) {
        // `export * as ops from ...`: the namespace is documented by the comment on its export
        // line in the entry; then its members are walked.
        const documented = (exported.declarations ?? []).some((d) => ts.getJSDocCommentsAndTags(d.parent ?? d).length > 0);
        if (!documented) missing.push(name);
        walk(sym, `${name}.`);
        continue;
      }
      if (!hasDoc(sym, checker)) missing.push(name);
      if (seen.has(sym)) continue;
      seen.add(sym);
      if (sym.flags & ts.SymbolFlags.Class) {
        for (const decl of sym.declarations ?? []) {
          if (!ts.isClassDeclaration(decl)) continue;
          for (const m of decl.members) {
            if (!isPublicMember(m) || !m.name) continue;
            const msym = checker.getSymbolAtLocation(m.name);
            if (msym && !hasDoc(msym, checker)) missing.push(`${name}.${msym.name}`);
          }
        }
      }
    }
  };
  const module = checker.getSymbolAtLocation(source);
  if (!module) throw new Error(`${file} has no exports`);
  walk(module, entry === '.' ? '' : `${entry.slice(2)}:`);
  return [...new Set(missing)].sort();
}

describe('public API documentation', () => {
  const config = ts.getParsedCommandLineOfConfigFile(path.join(ROOT, 'tsconfig.json'), {}, {
    ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => { throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n')); },
  })!;
  const program = ts.createProgram({ rootNames: Object.values(ENTRIES).map((f) => path.join(ROOT, f)), options: { ...config.options, noEmit: true } });

  it('names the same entries as package.json exports', () => {
    expect(Object.keys(pkg.exports).filter((k) => k !== './package.json').sort()).toEqual(Object.keys(ENTRIES).sort());
  });

  for (const [entry, file] of Object.entries(ENTRIES)) {
    it(`every export of ${entry} (${file}) has a doc comment`, () => {
      const missing = undocumented(program, file, entry);
      expect(missing, `undocumented exports of ${entry}:\n  ${missing.join('\n  ')}`).toEqual([]);
    });
  }
});

describe('package exports map', () => {
  const target = (subpath: string, cond: 'types' | 'default'): string => {
    const e = pkg.exports[subpath];
    return path.join(ROOT, typeof e === 'string' ? e : e[cond]);
  };

  it('points every subpath at a built file and its types', () => {
    for (const subpath of Object.keys(ENTRIES)) {
      expect(fs.existsSync(target(subpath, 'default')), `${subpath} -> ${target(subpath, 'default')} (npm run build first)`).toBe(true);
      expect(fs.existsSync(target(subpath, 'types')), `${subpath} types`).toBe(true);
    }
    expect(fs.existsSync(target('./package.json', 'default'))).toBe(true);
    expect(pkg.main.replace(/^\.\//, '')).toBe(pkg.exports['.'].default.replace(/^\.\//, ''));
    expect(pkg.types.replace(/^\.\//, '')).toBe(pkg.exports['.'].types.replace(/^\.\//, ''));
  });

  it('gives older moduleResolution the same subpath types (typesVersions)', () => {
    for (const subpath of Object.keys(ENTRIES).filter((s) => s !== '.')) {
      const mapped: string[] = pkg.typesVersions['*'][subpath.slice(2)];
      expect(mapped.map((f) => path.join(ROOT, f))).toEqual([target(subpath, 'types')]);
    }
  });

  it('main entry: tables, operations, loop devices and the errors; no raw dm', () => {
    const main = require(target('.', 'default'));
    expect(main.dm).toBeUndefined();
    for (const name of ['OperationError', 'DmError', 'TableError', 'DeviceLockedError', 'StoreError', 'loadTable', 'readTable', 'readStatus', 'parseTable', 'formatTable', 'parseSize']) {
      expect(main[name], name).toBeTypeOf('function');
    }
    for (const name of ['replace', 'transaction', 'divert', 'merge', 'discard', 'createSnapshot', 'watchCow', 'monitor', 'recover']) expect(main.ops[name], `ops.${name}`).toBeTypeOf('function');
    for (const name of ['attach', 'detach', 'list']) expect(main.loop[name], `loop.${name}`).toBeTypeOf('function');
    expect(main.ops.setFaultHook).toBeUndefined();
    expect(main.ops.BASE_SUFFIX).toBeUndefined();
  });

  it('devmapper/dm: the raw ioctl layer with loadRawTable', () => {
    const dm = require(target('./dm', 'default'));
    for (const name of ['create', 'remove', 'loadRawTable', 'clearTable', 'suspend', 'resume', 'table', 'status', 'info', 'waitEvent', 'versionSync']) {
      expect(dm[name], name).toBeTypeOf('function');
    }
    expect(dm.loadTable).toBeUndefined();
    expect(dm.setIoctlObserver).toBeUndefined();
  });

  it('devmapper/testing: the fault and ioctl hooks', () => {
    const testing = require(target('./testing', 'default'));
    expect(Object.keys(testing).sort()).toEqual(['kernelRefusal', 'setFaultHook', 'setIoctlObserver']);
  });
});
