// The layers of src/ as the code has them: no import loop between files, and every import from one room (a folder of
// src/, or a file at its top) to another is one the table in eslint.config.js allows; the linter enforces the same
// table, checked here too, so a forbidden import fails both `npm run lint` and `npm test`. The rules-test kit beside
// src/ (testkit/) may import src/; src/ may not import it.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { ESLint } from "eslint";
import ts from "typescript";
import { beforeAll, describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "..");
const SRC = join(ROOT, "src");
const TESTKIT = join(ROOT, "testkit");

interface Layer {
  imports: string[];
  typesOnly?: string[];
}

interface Import {
  from: string;
  to: string;
  typeOnly: boolean;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

/** Every relative import of a file: static, re-exports and dynamic `import()`; `import type` is type-only. */
function importsOf(file: string): Import[] {
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const found: Import[] = [];
  const add = (specifier: ts.Expression | undefined, typeOnly: boolean) => {
    if (specifier && ts.isStringLiteral(specifier) && specifier.text.startsWith("."))
      found.push({ from: file, to: resolve(dirname(file), specifier.text), typeOnly });
  };
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node)) add(node.moduleSpecifier, node.importClause?.isTypeOnly ?? false);
    else if (ts.isExportDeclaration(node)) add(node.moduleSpecifier, node.isTypeOnly);
    else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) add(node.arguments[0], false);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** "engine" for src/engine/step-kinds/kubernetes.ts, "config.ts" for src/config.ts. */
function roomOf(path: string): string {
  return relative(SRC, path).split("/")[0] ?? "";
}

const show = (path: string) => relative(ROOT, path);

/** The loops of the file graph (Tarjan's strongly connected components of more than one file, or a file importing itself). */
function importLoops(imports: Import[]): string[][] {
  const edges = new Map<string, string[]>();
  for (const { from, to } of imports) edges.set(from, [...(edges.get(from) ?? []), to]);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const loops: string[][] = [];
  const connect = (file: string) => {
    index.set(file, index.size);
    low.set(file, index.get(file) as number);
    stack.push(file);
    onStack.add(file);
    for (const next of edges.get(file) ?? []) {
      if (!index.has(next)) {
        connect(next);
        low.set(file, Math.min(low.get(file) as number, low.get(next) as number));
      } else if (onStack.has(next)) low.set(file, Math.min(low.get(file) as number, index.get(next) as number));
    }
    if (low.get(file) !== index.get(file)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop() as string;
      onStack.delete(member);
      component.push(member);
    } while (member !== file);
    if (component.length > 1 || (edges.get(file) ?? []).includes(file)) loops.push(component.map(show).sort());
  };
  for (const file of edges.keys()) if (!index.has(file)) connect(file);
  return loops;
}

const inside = (dir: string, path: string) => !relative(dir, path).startsWith("..");

let layers: Record<string, Layer>;
let kitMayNotImport: string[];
/** The imports of src/ files, everything they import from anywhere. */
let srcImports: Import[];
/** The imports between src/ files. */
let imports: Import[];
/** The imports of testkit/ files. */
let kitImports: Import[];

beforeAll(async () => {
  // The linter's own tables, not a copy of them.
  const config = (await import(pathToFileURL(join(ROOT, "eslint.config.js")).href)) as {
    LAYERS: Record<string, Layer>;
    TESTKIT: { dir: string; mayNotImport: string[] };
  };
  layers = config.LAYERS;
  kitMayNotImport = config.TESTKIT.mayNotImport;
  expect(join(ROOT, config.TESTKIT.dir)).toBe(TESTKIT);
  srcImports = sourceFiles(SRC).flatMap(importsOf);
  imports = srcImports.filter((i) => inside(SRC, i.to));
  kitImports = sourceFiles(TESTKIT).flatMap(importsOf);
});

/** The layer rule's messages for `code` linted as if it were `file`. */
async function lint(file: string, code: string): Promise<string[]> {
  const results = await new ESLint({ cwd: ROOT }).lintText(code, { filePath: join(ROOT, file) });
  return results
    .flatMap((result) => result.messages)
    .filter((message) => message.ruleId === "@typescript-eslint/no-restricted-imports")
    .map((message) => message.message);
}

describe("the layers of src/", () => {
  it("finds the imports it judges: main.ts starts the service, the service wires the server", () => {
    const arrows = new Set(imports.map((i) => `${show(i.from)} → ${show(i.to)}`));
    expect(arrows).toContain("src/main.ts → src/service.ts");
    expect(arrows).toContain("src/service.ts → src/server/app.ts");
    expect(imports.length).toBeGreaterThan(300);
  });

  it("has no import loop between files at run time", () => {
    expect(importLoops(imports.filter((i) => !i.typeOnly))).toEqual([]);
  });

  it("has no import loop between files through types either, in src/ or the rules-test kit", () => {
    const kitInternal = kitImports.filter((i) => inside(TESTKIT, i.to));
    expect(kitInternal.length).toBeGreaterThan(50);
    expect(importLoops([...imports, ...kitInternal])).toEqual([]);
  });

  it("imports nothing from the rules-test kit: production runs without testkit/", () => {
    expect(srcImports.filter((i) => inside(TESTKIT, i.to)).map((i) => `${show(i.from)} → ${show(i.to)}`)).toEqual([]);
  });

  it("lets the rules-test kit import src/ and itself, nothing of the suite or the other tools", () => {
    expect(kitImports.some((i) => inside(SRC, i.to))).toBe(true);
    const outside = kitImports.filter((i) => !inside(SRC, i.to) && !inside(TESTKIT, i.to));
    expect(outside.map((i) => `${show(i.from)} → ${show(i.to)}`)).toEqual([]);
    // What the table forbids is a subset of that.
    expect(kitMayNotImport).toEqual(expect.arrayContaining(["test", "bin"]));
  });

  it("has a row in the table for every room of src/", () => {
    const rooms = new Set(sourceFiles(SRC).map(roomOf));
    expect([...rooms].filter((room) => layers[room] === undefined)).toEqual([]);
  });

  it("imports from one room into another only where the table allows it (types alone where it says typesOnly)", () => {
    const forbidden = imports.flatMap(({ from, to, typeOnly }) => {
      const [a, b] = [roomOf(from), roomOf(to)];
      if (a === b || b === "model") return [];
      const layer = layers[a];
      if (layer?.imports.includes(b) || (typeOnly && layer?.typesOnly?.includes(b))) return [];
      return [`${show(from)} → ${show(to)}: ${a} may not import ${b}${layer?.typesOnly?.includes(b) ? " except for types" : ""}`];
    });
    expect(forbidden).toEqual([]);
  });

  it("is what the linter enforces: a source importing a renderer fails lint, the engine's types in a source do not", async () => {
    expect(
      await lint("src/sources/new-source.ts", 'import { renderText } from "../render/text.ts";\nexport const r = renderText;\n'),
    ).toEqual([expect.stringContaining("src/sources may not import src/render")]);
    expect(
      await lint(
        "src/engine/step-kinds/new-kind.ts",
        'import { ConsoleSink } from "../../sinks/console.ts";\nexport const c = ConsoleSink;\n',
      ),
    ).toEqual([expect.stringContaining("src/engine may not import src/sinks")]);
    expect(
      await lint("src/sources/new-source.ts", 'import { runPlaybook } from "../engine/run-playbook.ts";\nexport const r = runPlaybook;\n'),
    ).toEqual([expect.stringContaining("src/sources may not import src/engine (only its types)")]);
    expect(
      await lint(
        "src/sources/new-source.ts",
        'import type { StepSources } from "../engine/run-playbook.ts";\nexport type S = StepSources;\n',
      ),
    ).toEqual([]);
    expect(await lint("src/sinks/new-sink.ts", 'import { renderText } from "../render/text.ts";\nexport const r = renderText;\n')).toEqual(
      [],
    );
  });

  it("is what the linter enforces for the rules-test kit: src/ importing it fails lint, the kit importing src/ does not", async () => {
    expect(
      await lint(
        "src/engine/step-kinds/new-kind.ts",
        'import { startFakeKubeApi } from "../../../testkit/fixture-cluster.ts";\nexport const s = startFakeKubeApi;\n',
      ),
    ).toEqual([expect.stringContaining("src/ may not import testkit/")]);
    expect(
      await lint(
        "src/check/new-check.ts",
        'import type { KubeObject } from "../../testkit/kube-object.ts";\nexport type K = KubeObject;\n',
      ),
    ).toEqual([expect.stringContaining("src/ may not import testkit/")]);
    expect(
      await lint(
        "testkit/new-kit-part.ts",
        'import { runPlaybook } from "../src/engine/run-playbook.ts";\nexport const r = runPlaybook;\n',
      ),
    ).toEqual([]);
    expect(
      await lint(
        "testkit/new-kit-part.ts",
        'import { KUBE_OBJECTS } from "../test/support/kube-objects.ts";\nexport const k = KUBE_OBJECTS;\n',
      ),
    ).toEqual([expect.stringContaining("testkit/ may import src/ and itself only")]);
  });
});
