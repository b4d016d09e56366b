// ESLint: the recommended JavaScript and TypeScript rules, strict about `any`, and the layers of src/; formatting is
// Prettier's job.
import js from "@eslint/js";
import globals from "globals";
import tseslint from "typescript-eslint";

/**
 * Which room of src/ may import which. A room is a folder of src/ or a file at its top; every room may import itself
 * and model/ (the shapes every stage hands on). Rooms higher in the list import rooms lower down, never the reverse:
 * the data walks server → store → queue → diagnosis (the engine, reading the sources) → render → sinks, and each
 * stage imports the ones whose results it takes. `typesOnly` rooms may be imported for their types alone.
 * test/architecture.test.ts checks the real imports against this table and for import loops.
 */
export const LAYERS = {
  "main.ts": { imports: ["service.ts", "config.ts", "logger.ts", "lookalike-variables.ts", "engine"] },
  "service.ts": {
    imports: [
      "server",
      "queue",
      "check",
      "metrics.ts",
      "store",
      "config.ts",
      "sinks",
      "render",
      "diagnosis",
      "engine",
      "sources",
      "logger.ts",
      "version.ts",
    ],
  },
  server: { imports: ["check", "metrics.ts", "store", "config.ts", "sinks", "render", "diagnosis", "sources"] },
  queue: { imports: ["metrics.ts", "store", "sinks", "diagnosis"] },
  check: { imports: ["config.ts", "sinks", "engine", "sources"] },
  "metrics.ts": { imports: ["store", "sinks", "sources", "version.ts"] },
  store: { imports: ["config.ts", "diagnosis"] },
  "lookalike-variables.ts": { imports: ["config.ts"] },
  "config.ts": { imports: ["sources"] },
  sinks: { imports: ["render", "diagnosis"] },
  render: { imports: ["diagnosis"] },
  diagnosis: { imports: ["engine", "sources"] },
  engine: { imports: ["sources"] },
  // StepSources is the engine's port; sources/clusters.ts assembles one per cluster, so it names the type (and
  // nothing at run time).
  sources: { imports: [], typesOnly: ["engine"] },
  model: { imports: [] },
  "logger.ts": { imports: [] },
  "version.ts": { imports: [] },
};

/**
 * The rules-test kit (`enricher rules test`: the fake Kubernetes API server and the test runner) sits beside src/, not
 * in it: it imports src/ to run the diagnosis against a fake cluster, and nothing in src/ imports it, so production
 * runs without it. It imports nothing of the test suite or the other tools either.
 */
export const TESTKIT = { dir: "testkit", mayNotImport: ["test", "bin", "bench", "demo", "docs"] };

const NO_TESTKIT = {
  regex: `^(\\.\\./)+${TESTKIT.dir}/`,
  caseSensitive: true,
  message: `src/ may not import ${TESTKIT.dir}/ (the rules-test kit): production code runs without it.`,
};

/** How deep below src/ a room's files go (engine/step-kinds/, store/migrations/). */
const MAX_DEPTH = 3;

const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** no-restricted-imports for the files of `room` that sit `depth` folders below src/ (0: a file at the top). */
function layerRule(room, depth) {
  const { imports, typesOnly = [] } = LAYERS[room];
  const allowed = new Set([room, "model", ...imports]);
  const up = depth === 0 ? "\\./" : escape("../".repeat(depth));
  const patterns = Object.keys(LAYERS)
    .filter((other) => !allowed.has(other))
    .map((other) => ({
      regex: `^${up}${escape(other)}${other.endsWith(".ts") ? "$" : "/"}`,
      caseSensitive: true,
      message: `src/${room} may not import src/${other}${typesOnly.includes(other) ? " (only its types)" : ""}: see LAYERS in eslint.config.js.`,
      ...(typesOnly.includes(other) ? { allowTypeImports: true } : {}),
    }));
  return { "@typescript-eslint/no-restricted-imports": ["error", { patterns: [...patterns, NO_TESTKIT] }] };
}

const layerConfigs = Object.keys(LAYERS).flatMap((room) =>
  room.endsWith(".ts")
    ? [{ files: [`src/${room}`], rules: layerRule(room, 0) }]
    : Array.from({ length: MAX_DEPTH }, (_, i) => ({ files: [`src/${room}/${"*/".repeat(i)}*.ts`], rules: layerRule(room, i + 1) })),
);

export default tseslint.config(
  { ignores: ["node_modules/", "coverage/", "data/", "dist/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", destructuredArrayIgnorePattern: "^_" },
      ],
    },
  },
  ...layerConfigs,
  {
    files: [`${TESTKIT.dir}/**/*.ts`],
    rules: {
      "@typescript-eslint/no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              regex: `^(\\.\\./)+(${TESTKIT.mayNotImport.join("|")})/`,
              caseSensitive: true,
              message: `${TESTKIT.dir}/ may import src/ and itself only: see TESTKIT in eslint.config.js.`,
            },
          ],
        },
      ],
    },
  },
);
