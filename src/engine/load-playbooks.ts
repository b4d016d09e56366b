// Reads rules/*.yaml (playbooks) and rules/shared/*.yaml (fragments they include), validates each file against its
// schema, and compiles its expressions and templates. Any problem stops the load with the file, line and path of every
// error found.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import { isNode, LineCounter, parseDocument } from "yaml";
import { type CompiledExpression, compileExpression, ExpressionError, referencedFacts, referencedSteps } from "./expressions.ts";
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
  type SymptomSpec,
} from "./playbook.ts";
import { promqlProblems } from "./promql-syntax.ts";
import type { StepKind } from "../model/diagnosis.ts";
import { STEP_KIND_NAMES, STEP_KINDS } from "./step-kinds/registry.ts";
import { compileTemplate, type Template, type TemplateContext, TemplateError } from "./template.ts";

export interface RuleProblem {
  file: string;
  line: number;
  /** Where on the line, when known (a problem inside a PromQL query). */
  column?: number;
  path: string;
  message: string;
}

export class PlaybookLoadError extends Error {
  readonly problems: RuleProblem[];
  constructor(problems: RuleProblem[]) {
    super(
      problems.map((p) => `${p.file}:${p.line}${p.column ? `:${p.column}` : ""}: ${p.path ? `${p.path}: ` : ""}${p.message}`).join("\n"),
    );
    this.problems = problems;
  }
}

export interface CompiledStep {
  spec: StepSpec;
  id: string;
  kind: StepKind;
  /** The fragment it came from, when it was included. */
  fragment?: string;
  dependsOn: string[];
  /** Facts its templates and conditions read. */
  dependsOnFacts: string[];
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

/** A named value computed once, when the steps and facts it reads are done. */
export interface CompiledFact {
  name: string;
  expression: CompiledExpression;
  steps: string[];
  facts: string[];
}

export interface CompiledSymptom {
  when: CompiledExpression;
  text: Template;
  step?: string;
  strength?: CompiledExpression;
}

export interface CompiledCause {
  id: string;
  /** The fragment it came from, when it was included. */
  fragment?: string;
  title: string;
  runbookRef?: string;
  symptom?: CompiledSymptom;
  when?: CompiledExpression;
  /** Causes this one is the deeper reason for. */
  explains: string[];
  confidence: number;
  summary: Template;
  evidence: CompiledEvidence[];
  remediation: Array<{ command: Template; when?: CompiledExpression }>;
}

export interface CompiledFragment {
  name: string;
  file: string;
  facts: CompiledFact[];
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
  facts: CompiledFact[];
  steps: CompiledStep[];
  causes: CompiledCause[];
  noCorrelation: CompiledCause;
}

const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
const validatePlaybook = ajv.compile(playbookSchema);
const validateFragment = ajv.compile(fragmentSchema);

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
  // Every PromQL query is parsed with Prometheus' grammar (issue #12), each problem at its line and column.
  const problems: RuleProblem[] = promqlProblems(file, source, document, lineCounter);
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
  const allSteps = new Set(parsed.data.steps.map((s) => s.id));
  const facts = compiler.facts(["facts"], parsed.data.facts ?? {}, allSteps, new Map());
  const known = new Set<string>();
  const steps = parsed.data.steps.map((step, index) => compiler.step(["steps", index], step, known, facts));
  const causes = compiler.causes(["causes"], parsed.data.causes ?? [], known, new Set(), facts);
  const name = parsed.data.fragment;
  const fragment = {
    name,
    file,
    facts: [...facts.values()],
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
  // Facts may read any step, the included ones too; the steps that read facts are checked against them below.
  const allSteps = new Set<string>();
  const factsInScope = new Map<string, CompiledFact>();
  spec.steps.forEach((item, index) => {
    if (!isInclude(item)) allSteps.add(item.id);
    for (const step of isInclude(item) ? (fragments.get(item.include)?.steps ?? []) : []) allSteps.add(step.id);
    for (const fact of isInclude(item) ? (fragments.get(item.include)?.facts ?? []) : []) {
      if (factsInScope.has(fact.name))
        parsed.report(["steps", index, "include"], `brings fact ${fact.name}, which another fragment already defines`);
      factsInScope.set(fact.name, fact);
    }
  });
  const facts = compiler.facts(["facts"], spec.facts ?? {}, allSteps, factsInScope);
  const known = new Set<string>();
  const steps: CompiledStep[] = [];
  const included: CompiledCause[] = [];
  spec.steps.forEach((item, index) => {
    if (!isInclude(item)) {
      steps.push(compiler.step(["steps", index], item, known, facts));
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
    const gateFacts = item.when ? referencedFacts(item.when) : [];
    for (const name of gateFacts) {
      if (!facts.has(name)) parsed.report(["steps", index, "when"], `reads facts.${name}, which is not a fact of this playbook`);
    }
    for (const dependency of gateReads) {
      if (!known.has(dependency))
        parsed.report(["steps", index, "when"], `reads steps.${dependency}, which is not a step defined above this include`);
    }
    for (const step of fragment.steps) {
      if (known.has(step.id))
        parsed.report(["steps", index, "include"], `fragment ${fragment.name} brings step ${step.id}, which this playbook already has`);
      known.add(step.id);
      steps.push(
        gate
          ? {
              ...step,
              when: both(gate, step.when),
              dependsOn: [...new Set([...step.dependsOn, ...gateReads])],
              dependsOnFacts: [...new Set([...step.dependsOnFacts, ...gateFacts])],
            }
          : step,
      );
    }
    included.push(...fragment.causes);
  });
  const causeIds = new Set(included.map((c) => c.id));
  const own = compiler.causes(["causes"], spec.causes, known, causeIds, facts);
  // A fragment serves several playbooks, so it may name causes some of them lack; a playbook's own causes may not.
  own.forEach((cause, index) => {
    for (const id of cause.explains) {
      if (!causeIds.has(id) || id === cause.id)
        parsed.report(["causes", index, "explains"], `explains ${id}, which is not another cause of this playbook`);
    }
  });
  const inPlaybook = new Set([...causeIds, ...own.map((c) => c.id)]);
  const causes = [...own, ...included].map((c) => ({ ...c, explains: c.explains.filter((id) => inPlaybook.has(id) && id !== c.id) }));
  const playbook: CompiledPlaybook = {
    name: basename(file).replace(/\.ya?ml$/, ""),
    file,
    alertNames: [spec.alert, ...(spec.aliases ?? [])],
    title: spec.title,
    runbook: spec.runbook,
    deadlineMs: spec.deadline ? parseDuration(spec.deadline) : undefined,
    facts: [...facts.values()],
    steps,
    causes,
    noCorrelation: compiler.cause(["noCorrelation"], { ...spec.noCorrelation, id: "no_correlation", confidence: 0 }, known, facts),
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

/** Every step a fact reads, directly or through the facts it reads. */
export function stepsBehind(fact: CompiledFact, facts: ReadonlyMap<string, CompiledFact>, seen = new Set<string>()): string[] {
  if (seen.has(fact.name)) return [];
  seen.add(fact.name);
  const through = fact.facts.flatMap((name) => {
    const other = facts.get(name);
    return other ? stepsBehind(other, facts, seen) : [];
  });
  return [...new Set([...fact.steps, ...through])];
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
  if (error.keyword === "required" && error.params.missingProperty === "symptom" && segments[0] === "causes") {
    message = "a cause needs a symptom: what it explains, read from the alert's own data (rules/README.md, Three-valued evidence)";
  }
  if (error.keyword === "oneOf") message = `a step needs exactly one of ${STEP_KIND_NAMES.join(", ")}`;
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

  /**
   * Compiles the facts in order: each may read any step and the facts above it (or a fragment's). `inScope` holds the
   * included fragments' facts; the result holds them and these.
   */
  facts(
    base: Segments,
    specs: Record<string, string>,
    stepIds: ReadonlySet<string>,
    inScope: ReadonlyMap<string, CompiledFact>,
  ): Map<string, CompiledFact> {
    const facts = new Map(inScope);
    for (const [name, source] of Object.entries(specs)) {
      if (facts.has(name)) this.report([...base, name], `fact ${name} is already defined (here or in an included fragment)`);
      const expression = this.expression([...base, name], source);
      const steps = [...new Set(referencedSteps(source))];
      const reads = [...new Set(referencedFacts(source))];
      for (const id of steps) if (!stepIds.has(id)) this.report([...base, name], `reads steps.${id}, which is not a step of this playbook`);
      for (const other of reads) {
        if (!facts.has(other)) this.report([...base, name], `reads facts.${other}, which is not a fact defined above this one`);
      }
      if (expression) facts.set(name, { name, expression, steps, facts: reads });
    }
    return facts;
  }

  /** Compiles one step; `known` holds the ids defined above it and gets this one. */
  step(base: Segments, step: StepSpec, known: Set<string>, facts: ReadonlyMap<string, CompiledFact> = new Map()): CompiledStep {
    if (known.has(step.id)) this.report([...base, "id"], `duplicate step id ${step.id}`);
    // The schema let exactly one kind's spec through.
    const kind = STEP_KIND_NAMES.find((name) => step[name] !== undefined) ?? "prometheus";
    const spec = step[kind] as unknown as Record<string, unknown>;
    const fields: Record<string, Template> = {};
    for (const [field, context] of Object.entries(STEP_KINDS[kind].fields)) {
      const value = spec[field];
      if (typeof value === "string") fields[field] = this.template([...base, kind, field], value, context);
    }
    for (const problem of STEP_KINDS[kind].check?.(spec) ?? []) this.report([...base, kind, ...problem.path], problem.message);
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
    const sources = [...Object.values(fields).map((t) => t.source), step.when ?? "", step.forEach ?? ""];
    const dependsOnFacts = [...new Set(sources.flatMap((source) => referencedFacts(source)))];
    for (const name of dependsOnFacts) {
      const fact = facts.get(name);
      if (!fact) this.report([...base], `reads facts.${name}, which is not a fact of this playbook`);
      else {
        const later = stepsBehind(fact, facts).filter((id) => !known.has(id));
        if (later.length > 0)
          this.report([...base], `reads facts.${name}, which needs steps.${later[0]}, not a step defined above this one`);
      }
    }
    known.add(step.id);
    const timeoutMs = step.timeout ? parseDuration(step.timeout) : undefined;
    return {
      spec: step,
      id: step.id,
      kind,
      dependsOn: [...dependsOn],
      dependsOnFacts,
      timeoutMs,
      when,
      forEach,
      maxItems: step.maxItems ?? 5,
      fields,
    };
  }

  causes(
    base: Segments,
    specs: CauseSpec[],
    stepIds: ReadonlySet<string>,
    taken: Set<string>,
    facts: ReadonlyMap<string, CompiledFact>,
  ): CompiledCause[] {
    return specs.map((cause, index) => {
      if (taken.has(cause.id)) this.report([...base, index, "id"], `duplicate cause id ${cause.id}`);
      taken.add(cause.id);
      return this.cause([...base, index], cause, stepIds, facts);
    });
  }

  cause(
    segments: Segments,
    cause: CauseSpec | (NoCorrelationSpec & { id: string; confidence: number }),
    stepIds: ReadonlySet<string>,
    facts: ReadonlyMap<string, CompiledFact>,
  ): CompiledCause {
    const symptom = "symptom" in cause && cause.symptom ? this.symptom([...segments, "symptom"], cause.symptom, stepIds) : undefined;
    this.checkFacts(segments, cause, facts);
    return {
      id: cause.id,
      title: cause.title,
      runbookRef: cause.runbook,
      ...(symptom ? { symptom } : {}),
      when: "when" in cause ? this.expression([...segments, "when"], cause.when) : undefined,
      explains: "explains" in cause ? (cause.explains ?? []) : [],
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

  private symptom(segments: Segments, spec: SymptomSpec, stepIds: ReadonlySet<string>): CompiledSymptom | undefined {
    if (spec.step !== undefined && !stepIds.has(spec.step))
      this.report([...segments, "step"], `names step ${spec.step}, which does not exist`);
    const when = this.expression([...segments, "when"], spec.when);
    const strength = this.expression([...segments, "strength"], spec.strength);
    if (!when) return undefined;
    return {
      when,
      text: this.template([...segments, "text"], spec.text, "text"),
      ...(spec.step !== undefined ? { step: spec.step } : {}),
      ...(strength ? { strength } : {}),
    };
  }

  /** Every `facts.<name>` a cause reads must exist: a misspelt fact would otherwise read as "could not check". */
  private checkFacts(segments: Segments, cause: object, facts: ReadonlyMap<string, CompiledFact>): void {
    for (const name of new Set(referencedFacts(JSON.stringify(cause)))) {
      if (!facts.has(name)) this.report(segments, `reads facts.${name}, which is not a fact of this playbook`);
    }
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
