// `{{ expr }}` templates in rule files. Each placeholder is a CEL expression; its value is escaped for the place it
// lands in (a PromQL string, a selector, a shell command), and the output is never evaluated again, so a label value
// can neither run as a template nor change the meaning of a query or a command.
import { type CompiledExpression, compileExpression, referencedSteps, type Scope } from "./expressions.ts";

export type TemplateContext = "text" | "promql" | "labelSelector" | "fieldSelector" | "objectName" | "shell";

type Part = { literal: string } | { expression: CompiledExpression };

export interface Template {
  source: string;
  context: TemplateContext;
  render(scope: Scope): string;
  /** Step ids this template reads. */
  steps: string[];
}

export class TemplateError extends Error {}

const PLACEHOLDER = /\{\{(.*?)\}\}/gs;

export function compileTemplate(source: string, context: TemplateContext): Template {
  const parts: Part[] = [];
  let last = 0;
  for (const match of source.matchAll(PLACEHOLDER)) {
    if (match.index > last) parts.push({ literal: source.slice(last, match.index) });
    parts.push({ expression: compileExpression((match[1] ?? "").trim()) });
    last = match.index + match[0].length;
  }
  if (last < source.length) parts.push({ literal: source.slice(last) });
  if (context === "promql") assertPlaceholdersInsideStrings(source, parts);
  return {
    source,
    context,
    steps: referencedSteps(source),
    render(scope) {
      return parts.map((part) => ("literal" in part ? part.literal : renderValue(part.expression.evaluate(scope), context))).join("");
    },
  };
}

const LABEL_KEY = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

function renderValue(value: unknown, context: TemplateContext): string {
  // A map in a label selector is a Service's or workload's selector: every key and value is checked, then joined.
  if (context === "labelSelector" && value !== null && typeof value === "object" && !Array.isArray(value) && !(value instanceof Date)) {
    return Object.entries(value as Record<string, unknown>)
      .map(([key, v]) => {
        if (key.length > 316 || !LABEL_KEY.test(key)) throw new TemplateError(`${JSON.stringify(key)} is not a valid label key`);
        return `${key}=${escapeFor(stringify(v), "labelSelector")}`;
      })
      .join(",");
  }
  return escapeFor(stringify(value), context);
}

function stringify(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(stringify).join(",");
  return JSON.stringify(value);
}

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const OBJECT_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const SHELL_SAFE = /^[A-Za-z0-9_./:=@%+,-]+$/;

export function escapeFor(value: string, context: TemplateContext): string {
  switch (context) {
    case "text":
      return value;
    case "promql":
      return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n").replace(/\r/g, "\\r");
    case "fieldSelector":
      // k8s.io/apimachinery fields.EscapeValue
      return value.replace(/\\/g, "\\\\").replace(/,/g, "\\,").replace(/=/g, "\\=");
    case "labelSelector":
      if (value.length > 63 || !LABEL_VALUE.test(value)) throw new TemplateError(`${JSON.stringify(value)} is not a valid label value`);
      return value;
    case "objectName":
      if (value.length > 253 || !OBJECT_NAME.test(value))
        throw new TemplateError(`${JSON.stringify(value)} is not a valid Kubernetes object name`);
      return value;
    case "shell":
      return SHELL_SAFE.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
  }
}

/** A PromQL placeholder must sit inside a double-quoted string, where escaping makes any value inert. */
function assertPlaceholdersInsideStrings(source: string, parts: Part[]): void {
  let insideString = false;
  for (const part of parts) {
    if ("literal" in part) {
      for (let i = 0; i < part.literal.length; i++) {
        const ch = part.literal[i];
        if (ch === "\\" && insideString) i++;
        else if (ch === '"') insideString = !insideString;
      }
    } else if (!insideString) {
      throw new TemplateError(`placeholder {{ ${part.expression.source} }} in PromQL must be inside a "…" string literal: ${source}`);
    }
  }
}
