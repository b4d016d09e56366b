// `npm run build`: the service as an esbuild bundle in dist/ (or --outdir=DIR), what `npm start` and the image run.
// V8 keeps the source of every module it loads: client-node's 25 MB of sources and the type-stripped src/ cost the idle
// service memory that 3.6 MB of minified JavaScript does not (README "Benchmarks").
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

/**
 * The text with every character beyond ASCII written as \uXXXX. Node keeps a module's source as one byte a character
 * only when all of it is ASCII; one other character doubles it (7 MiB for main.js). esbuild escapes strings and
 * names, but leaves regex literals as written (cel-js's /(ns|us|µs|…)/): there, and in comments, an escaped UTF-16
 * unit means the same, with or without the u flag. An identity escape (\µ) becomes the escape alone.
 */
export function asciiOnly(text: string): string {
  return text.replace(/\\[\s\S]|[\u0080-\uffff]/g, (match) => {
    const char = match.length === 2 ? (match[1] as string) : match;
    if (char.charCodeAt(0) < 0x80) return match;
    return `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`;
  });
}

async function buildBundle(outdir: string): Promise<void> {
  const result = await build({
    entryPoints: [join(ROOT, "src", "main.ts")],
    bundle: true,
    platform: "node",
    target: "node24",
    format: "esm",
    // The report pages, the PostgreSQL store and the chart are chunks of their own, loaded when first used.
    splitting: true,
    minify: true,
    // Class names in logged errors stay readable.
    keepNames: true,
    // Maps beside the bundle, read only under NODE_OPTIONS=--enable-source-maps (stack traces in src/ lines); without
    // the sources' text, which the image has anyway.
    sourcemap: "linked",
    sourcesContent: false,
    // Licences as written, beside the bundle (main.js.LEGAL.txt).
    legalComments: "external",
    // Native (resvg) or loaded only for PostgreSQL: from node_modules, when needed.
    external: ["@resvg/resvg-js", "pg"],
    // Bundled CommonJS modules call require.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
    outdir,
    write: false,
    logLevel: "warning",
  });
  for (const file of result.outputFiles) {
    mkdirSync(dirname(file.path), { recursive: true });
    writeFileSync(file.path, file.path.endsWith(".js") ? asciiOnly(file.text) : file.contents);
  }
}

if (import.meta.main) {
  const outdir = process.argv.find((arg) => arg.startsWith("--outdir="))?.slice("--outdir=".length);
  await buildBundle(outdir ?? join(ROOT, "dist"));
}
