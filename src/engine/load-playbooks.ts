// Reads rules/*.yaml, validates each file against the playbook schema, and compiles its expressions and templates.
// Any problem stops the load with the file, line and path of every error found.
import { readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { Ajv, type ErrorObject } from "ajv";
import { isNode, LineCounter, parseDocument } from "yaml";
import { type CompiledExpression, compileExpression, ExpressionError, referencedSteps } from "./expressions.ts";
import { type CauseSpec, type EvidenceSpec, type PlaybookFile, parseDuration, playbookSchema, type StepSpec } from "./playbook.ts";
import { compileTemplate, type Template, type TemplateContext, TemplateError } from "./template.ts";

export interface RuleProblem {
  file: string;
  line: number;
  path: string;
  message: string;
}

export class PlaybookLoadError extends Error {
  readonly problems: RuleProblem[];
  constructor(problems: RuleProblem[]) {
    super(problems.map((p) => `${p.file}:${p.line}: ${p.path ? `${p.path}: ` : ""}${p.message}`).join("\n"));
    this.problems = problems;
  }
}

export interface CompiledStep {
  spec: StepSpec;
  id: string;
  kind: "kubernetes" | "logs" | "prometheus";
  dependsOn: string[];
  timeoutMs: number | undefined;
  when?: CompiledExpression;
  forEach?: CompiledExpression;
  maxItems: number;
  /** The step's templated fields, by field name ("namespace", "query", …). */
  fields: Record<string, Template>;
}

export interface CompiledEvidence {
  step: string;
  text: Template;
  when?: CompiledExpression;
  each?: CompiledExpression;
  max: number;
  at?: Template;
}

export interface CompiledCause {
  id: string;
  title: string;
  runbookRef?: string;
  when?: CompiledExpression;
  confidence: number;
  summary: Template;
  evidence: CompiledEvidence[];
  remediation: Array<{ command: Template; when?: CompiledExpression }>;
}

export interface CompiledPlaybook {
  name: string;
  file: string;
  alertNames: string[];
  title: string;
  runbook: string;
  deadlineMs: number | undefined;
  steps: CompiledStep[];
  causes: CompiledCause[];
  noCorrelation: CompiledCause;
}

const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
const validateFile = ajv.compile(playbookSchema);

const KUBERNETES_FIELDS: Record<string, TemplateContext> = {
  namespace: "objectName",
  name: "objectName",
  labelSelector: "labelSelector",
  fieldSelector: "fieldSelector",
};
const LOGS_FIELDS: Record<string, TemplateContext> = { namespace: "objectName", pod: "objectName", container: "objectName" };

export function loadPlaybooks(dir: string): CompiledPlaybook[] {
  let files: string[];
  try {
    files = readdirSync(dir)
      .filter((f) => /\.ya?ml$/.test(f))
      .sort();
  } catch (error) {
    throw new PlaybookLoadError([
      { file: dir, line: 0, path: "", message: `cannot read the rules directory: ${(error as Error).message}` },
    ]);
  }
  const problems: RuleProblem[] = [];
  const playbooks: CompiledPlaybook[] = [];
  for (const file of files) {
    const path = join(dir, file);
    const result = loadPlaybookFile(path, readFileSync(path, "utf8"));
    if ("problems" in result) problems.push(...result.problems);
    else playbooks.push(result.playbook);
  }
  const owner = new Map<string, string>();
  for (const playbook of playbooks) {
    for (const name of playbook.alertNames) {
      const other = owner.get(name);
      if (other) problems.push({ file: playbook.file, line: 1, path: "alert", message: `alert ${name} is already covered by ${other}` });
      owner.set(name, playbook.file);
    }
  }
  if (problems.length > 0) throw new PlaybookLoadError(problems);
  return playbooks;
}

export function loadPlaybookFile(file: string, source: string): { playbook: CompiledPlaybook } | { problems: RuleProblem[] } {
  const lineCounter = new LineCounter();
  const document = parseDocument(source, { lineCounter, prettyErrors: false });
  const lineOf = (offset: number | undefined) => (offset === undefined ? 1 : lineCounter.linePos(offset).line);
  if (document.errors.length > 0) {
    return {
      problems: document.errors.map((e) => ({ file, line: lineOf(e.pos[0]), path: "", message: e.message.split("\n")[0] ?? e.message })),
    };
  }
  const lineAt = (segments: (string | number)[]): number => {
    for (let n = segments.length; n >= 0; n--) {
      const node = document.getIn(segments.slice(0, n), true);
      if (isNode(node) && node.range) return lineOf(node.range[0]);
    }
    return 1;
  };
  const data: unknown = document.toJS();
  if (!validateFile(data)) {
    // The failing branches of a oneOf explain nothing the oneOf's own message does not.
    const errors = (validateFile.errors ?? []).filter((e) => !e.schemaPath.includes("/oneOf/"));
    return { problems: errors.map((e) => schemaProblem(file, e, lineAt)) };
  }
  const problems: RuleProblem[] = [];
  const at = (segments: (string | number)[], message: string) =>
    problems.push({ file, line: lineAt(segments), path: segments.join("."), message });
  const playbook = compilePlaybook(file, data, at);
  return problems.length > 0 ? { problems } : { playbook };
}

function schemaProblem(file: string, error: ErrorObject, lineAt: (segments: (string | number)[]) => number): RuleProblem {
  const segments = error.instancePath
    .split("/")
    .slice(1)
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s.replace(/~1/g, "/").replace(/~0/g, "~")));
  let message = error.message ?? "is invalid";
  if (error.keyword === "additionalProperties") {
    message = `unknown field ${JSON.stringify(error.params.additionalProperty)}`;
    return { file, line: lineAt([...segments, String(error.params.additionalProperty)]), path: segments.join("."), message };
  }
  if (error.keyword === "oneOf") message = "a step needs exactly one of kubernetes, logs or prometheus";
  if (error.keyword === "enum") message = `${message}: ${JSON.stringify(error.params.allowedValues)}`;
  return { file, line: lineAt(segments), path: segments.join("."), message };
}

type Report = (segments: (string | number)[], message: string) => void;

function compilePlaybook(file: string, spec: PlaybookFile, report: Report): CompiledPlaybook {
  const attempt = <T>(segments: (string | number)[], build: () => T): T | undefined => {
    try {
      return build();
    } catch (error) {
      if (error instanceof ExpressionError || error instanceof TemplateError || error instanceof Error) report(segments, error.message);
      return undefined;
    }
  };
  const expression = (segments: (string | number)[], source: string | undefined) =>
    source === undefined ? undefined : attempt(segments, () => compileExpression(source));
  const template = (segments: (string | number)[], source: string, context: TemplateContext) =>
    attempt(segments, () => compileTemplate(source, context)) ?? compileTemplate("", "text");

  const stepIds = new Set<string>();
  const steps: CompiledStep[] = spec.steps.map((step, index) => {
    const base = ["steps", index];
    if (stepIds.has(step.id)) report([...base, "id"], `duplicate step id ${step.id}`);
    stepIds.add(step.id);
    const kind = step.kubernetes ? "kubernetes" : step.logs ? "logs" : "prometheus";
    const fields: Record<string, Template> = {};
    if (step.kubernetes) {
      for (const [field, context] of Object.entries(KUBERNETES_FIELDS)) {
        const value = step.kubernetes[field as keyof typeof step.kubernetes];
        if (typeof value === "string") fields[field] = template([...base, "kubernetes", field], value, context);
      }
    } else if (step.logs) {
      for (const [field, context] of Object.entries(LOGS_FIELDS)) {
        const value = step.logs[field as keyof typeof step.logs];
        if (typeof value === "string") fields[field] = template([...base, "logs", field], value, context);
      }
      for (const [name, pattern] of Object.entries(step.logs.patterns)) {
        attempt([...base, "logs", "patterns", name], () => new RegExp(pattern, "i"));
      }
    } else if (step.prometheus) {
      fields.query = template([...base, "prometheus", "query"], step.prometheus.query, "promql");
    }
    const when = expression([...base, "when"], step.when);
    const forEach = expression([...base, "forEach"], step.forEach);
    const dependsOn = new Set<string>([
      ...Object.values(fields).flatMap((t) => t.steps),
      ...(step.when ? referencedSteps(step.when) : []),
      ...(step.forEach ? referencedSteps(step.forEach) : []),
    ]);
    for (const dependency of dependsOn) {
      if (!stepIds.has(dependency) || dependency === step.id) {
        report([...base], `reads steps.${dependency}, which is not a step defined above this one`);
      }
    }
    const timeoutMs = step.timeout ? parseDuration(step.timeout) : undefined;
    return { spec: step, id: step.id, kind, dependsOn: [...dependsOn], timeoutMs, when, forEach, maxItems: step.maxItems ?? 5, fields };
  });

  const compileEvidence = (segments: (string | number)[], evidence: EvidenceSpec[] | undefined): CompiledEvidence[] =>
    (evidence ?? []).map((e, i) => {
      if (!stepIds.has(e.step)) report([...segments, i, "step"], `evidence names step ${e.step}, which does not exist`);
      return {
        step: e.step,
        text: template([...segments, i, "text"], e.text, "text"),
        when: expression([...segments, i, "when"], e.when),
        each: expression([...segments, i, "each"], e.each),
        max: e.max ?? 5,
        at: e.at ? template([...segments, i, "at"], e.at, "text") : undefined,
      };
    });

  const compileCause = (
    segments: (string | number)[],
    cause: CauseSpec | (PlaybookFile["noCorrelation"] & { id: string; confidence: number }),
  ): CompiledCause => ({
    id: cause.id,
    title: cause.title,
    runbookRef: cause.runbook,
    when: "when" in cause ? expression([...segments, "when"], cause.when) : undefined,
    confidence: cause.confidence,
    summary: template([...segments, "summary"], cause.summary, "text"),
    evidence: compileEvidence([...segments, "evidence"], cause.evidence),
    remediation: (cause.remediation ?? []).map((r, i) =>
      typeof r === "string"
        ? { command: template([...segments, "remediation", i], r, "shell") }
        : {
            command: template([...segments, "remediation", i, "command"], r.command, "shell"),
            when: expression([...segments, "remediation", i, "when"], r.when),
          },
    ),
  });

  const causeIds = new Set<string>();
  const causes = spec.causes.map((cause, index) => {
    if (causeIds.has(cause.id)) report(["causes", index, "id"], `duplicate cause id ${cause.id}`);
    causeIds.add(cause.id);
    return compileCause(["causes", index], cause);
  });

  return {
    name: basename(file).replace(/\.ya?ml$/, ""),
    file,
    alertNames: [spec.alert, ...(spec.aliases ?? [])],
    title: spec.title,
    runbook: spec.runbook,
    deadlineMs: spec.deadline ? parseDuration(spec.deadline) : undefined,
    steps,
    causes,
    noCorrelation: compileCause(["noCorrelation"], { ...spec.noCorrelation, id: "no_correlation", confidence: 0 }),
  };
}
