// Walking the plain JSON of Kubernetes objects, for the fake API server's modules.

export type Json = Record<string, unknown>;

export function isRecord(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The value at a dotted path ("spec.nodeName"), undefined when any step is missing. */
export function field(o: unknown, path: string): unknown {
  let current: unknown = o;
  for (const part of path.split(".")) {
    if (!isRecord(current)) return undefined;
    current = current[part];
  }
  return current;
}

/** A field as text, "" when missing. */
export function fieldText(o: unknown, path: string): string {
  const value = field(o, path);
  if (value === undefined || value === null) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return "";
}

/** The object at `parent[key]`, created empty when there is none. */
export function child(parent: Json, key: string): Json {
  const value = parent[key];
  if (isRecord(value)) return value;
  const created: Json = {};
  parent[key] = created;
  return created;
}

/** The objects of a list, nothing for what is not a list. */
export function records(value: unknown): Json[] {
  return Array.isArray(value) ? value.filter(isRecord) : [];
}
