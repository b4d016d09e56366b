// Reads rules/*.yaml (playbooks) and rules/shared/*.yaml (fragments they include), validates each file against its
// schema, and compiles its expressions and templates. Any problem stops the load with the file, line and path of every
// error found.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import { isNode, LineCounter, parseDocument } from "yaml";
import { type CompiledExpression, compileExpression, ExpressionError, referencedSteps } from "./expressions.ts";
import {
  type CauseSpec,
  type EvidenceSpec,
  type FragmentFile,
  fragmentSchema,
  isInclude,
  type NoCorrelationSpec,
  type PlaybookFile,
  parseDuration,
  playbookSchema,
  type StepSpec,
} from "./playbook.ts";
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
  kind: "kubernetes" | "logs" | "prometheus" | "audit";
  /** The fragment it came from, when it was included. */
  fragment?: string;
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
  /** The fragment it came from, when it was included. */
  fragment?: string;
  title: string;
  runbookRef?: string;
  when?: CompiledExpression;
  confidence: number;
  summary: Template;
  evidence: CompiledEvidence[];
  remediation: Array<{ command: Template; when?: CompiledExpression }>;
}

export interface CompiledFragment {
  name: string;
  file: string;
  steps: CompiledStep[];
  causes: CompiledCause[];
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
const validatePlaybook = ajv.compile(playbookSchema);
const validateFragment = ajv.compile(fragmentSchema);

const KUBERNETES_FIELDS: Record<string, TemplateContext> = {
  namespace: "objectName",
  name: "objectName",
  labelSelector: "labelSelector",
  fieldSelector: "fieldSelector",
};
const LOGS_FIELDS: Record<string, TemplateContext> = { namespace: "objectName", pod: "objectName", container: "objectName" };
const AUDIT_FIELDS: Record<string, TemplateContext> = { userAgent: "text" };

function yamlFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => join(dir, f));
}

export function loadPlaybooks(dir: string): CompiledPlaybook[] {
  let files: string[];
  try {
    files = yamlFiles(dir);
  } catch (error) {
    throw new PlaybookLoadError([
      { file: dir, line: 0, path: "", message: `cannot read the rules directory: ${(error as Error).message}` },
    ]);
  }
  const problems: RuleProblem[] = [];
  const fragments = new Map<string, CompiledFragment>();
  const sharedDir = join(dir, "shared");
  for (const path of existsSync(sharedDir) ? yamlFiles(sharedDir) : []) {
    const result = loadFragmentFile(path, readFileSync(path, "utf8"));
    if ("problems" in result) problems.push(...result.problems);
    else if (fragments.has(result.fragment.name)) {
      problems.push({
        file: path,
        line: 1,
        path: "fragment",
        message: `fragment ${result.fragment.name} is also defined in ${fragments.get(result.fragment.name)?.file}`,
      });
    } else fragments.set(result.fragment.name, result.fragment);
  }
  const playbooks: CompiledPlaybook[] = [];
  for (const path of files) {
    const result = loadPlaybookFile(path, readFileSync(path, "utf8"), fragments);
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

type Segments = (string | number)[];
type Report = (segments: Segments, message: string) => void;
type Parsed<T> = { data: T; report: Report; problems: RuleProblem[] } | { problems: RuleProblem[]; data?: undefined };

/** Parses and schema-checks one file, keeping line numbers for every later problem. */
function parseRuleFile<T>(file: string, source: string, validate: ValidateFunction<T>): Parsed<T> {
  const lineCounter = new LineCounter();
  const document = parseDocument(source, { lineCounter, prettyErrors: false });
  const lineOf = (offset: number | undefined) => (offset === undefined ? 1 : lineCounter.linePos(offset).line);
  if (document.errors.length > 0) {
    return {
      problems: document.errors.map((e) => ({ file, line: lineOf(e.pos[0]), path: "", message: e.message.split("\n")[0] ?? e.message })),
    };
  }
  const lineAt = (segments: Segments): number => {
    for (let n = segments.length; n >= 0; n--) {
      const node = document.getIn(segments.slice(0, n), true);
      if (isNode(node) && node.range) return lineOf(node.range[0]);
    }
    return 1;
  };
  const data: unknown = document.toJS();
  if (!validate(data)) {
    // The failing branches of a oneOf (and the if of an if/then/else) explain nothing the rest does not.
    const errors = (validate.errors ?? []).filter((e) => !e.schemaPath.includes("/oneOf/") && e.keyword !== "if");
    return { problems: errors.map((e) => schemaProblem(file, e, lineAt)) };
  }
  const problems: RuleProblem[] = [];
  return {
    data,
    problems,
    report: (segments, message) => problems.push({ file, line: lineAt(segments), path: segments.join("."), message }),
  };
}

export function loadFragmentFile(file: string, source: string): { fragment: CompiledFragment } | { problems: RuleProblem[] } {
  const parsed = parseRuleFile<FragmentFile>(file, source, validateFragment);
  if (!parsed.data) return { problems: parsed.problems };
  const compiler = new Compiler(parsed.report);
  const known = new Set<string>();
  const steps = parsed.data.steps.map((step, index) => compiler.step(["steps", index], step, known));
  const causes = compiler.causes(["causes"], parsed.data.causes ?? [], known, new Set());
  const name = parsed.data.fragment;
  const fragment = {
    name,
    file,
    steps: steps.map((s) => ({ ...s, fragment: name })),
    causes: causes.map((c) => ({ ...c, fragment: name })),
  };
  return parsed.problems.length > 0 ? { problems: parsed.problems } : { fragment };
}

export function loadPlaybookFile(
  file: string,
  source: string,
  fragments: ReadonlyMap<string, CompiledFragment> = new Map(),
): { playbook: CompiledPlaybook } | { problems: RuleProblem[] } {
  const parsed = parseRuleFile<PlaybookFile>(file, source, validatePlaybook);
  if (!parsed.data) return { problems: parsed.problems };
  const spec = parsed.data;
  const compiler = new Compiler(parsed.report);
  const known = new Set<string>();
  const steps: CompiledStep[] = [];
  const included: CompiledCause[] = [];
  spec.steps.forEach((item, index) => {
    if (!isInclude(item)) {
      steps.push(compiler.step(["steps", index], item, known));
      return;
    }
    const fragment = fragments.get(item.include);
    if (!fragment) {
      parsed.report(
        ["steps", index, "include"],
        `no fragment ${item.include} in rules/shared/ (known: ${[...fragments.keys()].join(", ") || "none"})`,
      );
      return;
    }
    const gate = compiler.expression(["steps", index, "when"], item.when);
    const gateReads = item.when ? referencedSteps(item.when) : [];
    for (const dependency of gateReads) {
      if (!known.has(dependency))
        parsed.report(["steps", index, "when"], `reads steps.${dependency}, which is not a step defined above this include`);
    }
    for (const step of fragment.steps) {
      if (known.has(step.id))
        parsed.report(["steps", index, "include"], `fragment ${fragment.name} brings step ${step.id}, which this playbook already has`);
      known.add(step.id);
      steps.push(gate ? { ...step, when: both(gate, step.when), dependsOn: [...new Set([...step.dependsOn, ...gateReads])] } : step);
    }
    included.push(...fragment.causes);
  });
  const causeIds = new Set(included.map((c) => c.id));
  const own = compiler.causes(["causes"], spec.causes, known, causeIds);
  const playbook: CompiledPlaybook = {
    name: basename(file).replace(/\.ya?ml$/, ""),
    file,
    alertNames: [spec.alert, ...(spec.aliases ?? [])],
    title: spec.title,
    runbook: spec.runbook,
    deadlineMs: spec.deadline ? parseDuration(spec.deadline) : undefined,
    steps,
    causes: [...own, ...included],
    noCorrelation: compiler.cause(["noCorrelation"], { ...spec.noCorrelation, id: "no_correlation", confidence: 0 }, known),
  };
  return parsed.problems.length > 0 ? { problems: parsed.problems } : { playbook };
}

/** An include's condition and the step's own: the step runs only when both hold. */
function both(gate: CompiledExpression, own: CompiledExpression | undefined): CompiledExpression {
  return {
    source: own ? `(${gate.source}) && (${own.source})` : gate.source,
    evaluate: (scope) => gate.evaluate(scope) === true && (own ? own.evaluate(scope) === true : true),
  };
}

function schemaProblem(file: string, error: ErrorObject, lineAt: (segments: Segments) => number): RuleProblem {
  const segments = error.instancePath
    .split("/")
    .slice(1)
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s.replace(/~1/g, "/").replace(/~0/g, "~")));
  let message = error.message ?? "is invalid";
  if (error.keyword === "additionalProperties") {
    message = `unknown field ${JSON.stringify(error.params.additionalProperty)}`;
    return { file, line: lineAt([...segments, String(error.params.additionalProperty)]), path: segments.join("."), message };
  }
  if (error.keyword === "oneOf") message = "a step needs exactly one of kubernetes, logs, prometheus or audit";
  if (error.keyword === "enum") message = `${message}: ${JSON.stringify(error.params.allowedValues)}`;
  return { file, line: lineAt(segments), path: segments.join("."), message };
}

/** Compiles the parts of a rule file, reporting each problem at its place instead of stopping at the first. */
class Compiler {
  private readonly report: Report;

  constructor(report: Report) {
    this.report = report;
  }

  private attempt<T>(segments: Segments, build: () => T): T | undefined {
    try {
      return build();
    } catch (error) {
      if (error instanceof ExpressionError || error instanceof TemplateError || error instanceof Error)
        this.report(segments, error.message);
      return undefined;
    }
  }

  expression(segments: Segments, source: string | undefined): CompiledExpression | undefined {
    return source === undefined ? undefined : this.attempt(segments, () => compileExpression(source));
  }

  template(segments: Segments, source: string, context: TemplateContext): Template {
    return this.attempt(segments, () => compileTemplate(source, context)) ?? compileTemplate("", "text");
  }

  /** Compiles one step; `known` holds the ids defined above it and gets this one. */
  step(base: Segments, step: StepSpec, known: Set<string>): CompiledStep {
    if (known.has(step.id)) this.report([...base, "id"], `duplicate step id ${step.id}`);
    const kind = step.kubernetes ? "kubernetes" : step.logs ? "logs" : step.audit ? "audit" : "prometheus";
    const fields: Record<string, Template> = {};
    const templated = (source: object, table: Record<string, TemplateContext>) => {
      for (const [field, context] of Object.entries(table)) {
        const value = (source as Record<string, unknown>)[field];
        if (typeof value === "string") fields[field] = this.template([...base, kind, field], value, context);
      }
    };
    if (step.kubernetes) templated(step.kubernetes, KUBERNETES_FIELDS);
    if (step.audit) templated(step.audit, AUDIT_FIELDS);
    if (step.logs) {
      templated(step.logs, LOGS_FIELDS);
      for (const [name, pattern] of Object.entries(step.logs.patterns)) {
        this.attempt([...base, "logs", "patterns", name], () => new RegExp(pattern, "i"));
      }
    }
    if (step.prometheus) fields.query = this.template([...base, "prometheus", "query"], step.prometheus.query, "promql");
    const when = this.expression([...base, "when"], step.when);
    const forEach = this.expression([...base, "forEach"], step.forEach);
    const dependsOn = new Set<string>([
      ...Object.values(fields).flatMap((t) => t.steps),
      ...(step.when ? referencedSteps(step.when) : []),
      ...(step.forEach ? referencedSteps(step.forEach) : []),
    ]);
    for (const dependency of dependsOn) {
      if (!known.has(dependency)) this.report([...base], `reads steps.${dependency}, which is not a step defined above this one`);
    }
    known.add(step.id);
    const timeoutMs = step.timeout ? parseDuration(step.timeout) : undefined;
    return { spec: step, id: step.id, kind, dependsOn: [...dependsOn], timeoutMs, when, forEach, maxItems: step.maxItems ?? 5, fields };
  }

  causes(base: Segments, specs: CauseSpec[], stepIds: ReadonlySet<string>, taken: Set<string>): CompiledCause[] {
    return specs.map((cause, index) => {
      if (taken.has(cause.id)) this.report([...base, index, "id"], `duplicate cause id ${cause.id}`);
      taken.add(cause.id);
      return this.cause([...base, index], cause, stepIds);
    });
  }

  cause(
    segments: Segments,
    cause: CauseSpec | (NoCorrelationSpec & { id: string; confidence: number }),
    stepIds: ReadonlySet<string>,
  ): CompiledCause {
    return {
      id: cause.id,
      title: cause.title,
      runbookRef: cause.runbook,
      when: "when" in cause ? this.expression([...segments, "when"], cause.when) : undefined,
      confidence: cause.confidence,
      summary: this.template([...segments, "summary"], cause.summary, "text"),
      evidence: this.evidence([...segments, "evidence"], cause.evidence, stepIds),
      remediation: (cause.remediation ?? []).map((r, i) =>
        typeof r === "string"
          ? { command: this.template([...segments, "remediation", i], r, "shell") }
          : {
              command: this.template([...segments, "remediation", i, "command"], r.command, "shell"),
              when: this.expression([...segments, "remediation", i, "when"], r.when),
            },
      ),
    };
  }

  private evidence(segments: Segments, evidence: EvidenceSpec[] | undefined, stepIds: ReadonlySet<string>): CompiledEvidence[] {
    return (evidence ?? []).map((e, i) => {
      if (!stepIds.has(e.step)) this.report([...segments, i, "step"], `evidence names step ${e.step}, which does not exist`);
      return {
        step: e.step,
        text: this.template([...segments, i, "text"], e.text, "text"),
        when: this.expression([...segments, i, "when"], e.when),
        each: this.expression([...segments, i, "each"], e.each),
        max: e.max ?? 5,
        at: e.at ? this.template([...segments, i, "at"], e.at, "text") : undefined,
      };
    });
  }
}
