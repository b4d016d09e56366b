// How two answers to one request differ, one line per difference a client could notice: the status and Content-Type,
// an error's Status, a list's items (in order), its continue token and remainingItemCount, and every field of every
// object, as "path: real X, fake Y". What the fake deliberately does not emulate is taken out first (`Leave`).
import type { RawAnswer } from "./two-servers.ts";

type Json = Record<string, unknown>;

/** Removes from an object, in place, what is not to be compared; `kind` names it (a list's items carry none). */
export type Leave = (object: Json, kind: string) => void;

function isRecord(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function shown(value: unknown): string {
  if (value === undefined) return "(absent)";
  const text = JSON.stringify(value);
  return text.length > 160 ? `${text.slice(0, 157)}...` : text;
}

/** Every leaf where the two differ, as "path: real X, fake Y". */
export function jsonDifferences(real: unknown, fake: unknown, path = ""): string[] {
  if (isRecord(real) && isRecord(fake)) {
    const keys = [...new Set([...Object.keys(real), ...Object.keys(fake)])].sort();
    return keys.flatMap((key) => jsonDifferences(real[key], fake[key], path === "" ? key : `${path}.${key}`));
  }
  if (Array.isArray(real) && Array.isArray(fake) && real.length === fake.length) {
    return real.flatMap((item, i) => jsonDifferences(item, fake[i], `${path}[${i}]`));
  }
  if (JSON.stringify(real) === JSON.stringify(fake)) return [];
  if (typeof real === "string" && typeof fake === "string" && Math.max(real.length, fake.length) > 160) {
    // Long texts differ somewhere in the middle: show both from a little before where they part.
    let at = 0;
    while (at < real.length && real.charAt(at) === fake.charAt(at)) at++;
    const from = Math.max(0, at - 40);
    const excerpt = (text: string) => `${from > 0 ? "..." : ""}${shown(text.slice(from))}`;
    return [`${path || "(body)"}: from character ${at}: real ${excerpt(real)}, fake ${excerpt(fake)}`];
  }
  return [`${path || "(body)"}: real ${shown(real)}, fake ${shown(fake)}`];
}

function keyOf(item: Json): string {
  const metadata = isRecord(item.metadata) ? item.metadata : {};
  const name = typeof metadata.name === "string" ? metadata.name : "?";
  return typeof metadata.namespace === "string" ? `${metadata.namespace}/${name}` : name;
}

function objectDifferences(label: string, real: Json, fake: Json, kind: string, leave: Leave): string[] {
  const [r, f] = [structuredClone(real), structuredClone(fake)];
  leave(r, kind);
  leave(f, kind);
  return jsonDifferences(r, f).map((line) => `${label}: ${line}`);
}

function listDifferences(label: string, real: Json, fake: Json, leave: Leave): string[] {
  const lines: string[] = [];
  for (const key of ["kind", "apiVersion"]) {
    if (real[key] !== fake[key]) lines.push(`${label}: ${key}: real ${shown(real[key])}, fake ${shown(fake[key])}`);
  }
  const realMeta = isRecord(real.metadata) ? real.metadata : {};
  const fakeMeta = isRecord(fake.metadata) ? fake.metadata : {};
  if ((realMeta.continue !== undefined) !== (fakeMeta.continue !== undefined)) {
    lines.push(
      `${label}: metadata.continue: real ${realMeta.continue ? "present" : "absent"}, fake ${fakeMeta.continue ? "present" : "absent"}`,
    );
  }
  if (realMeta.remainingItemCount !== fakeMeta.remainingItemCount) {
    lines.push(
      `${label}: metadata.remainingItemCount: real ${shown(realMeta.remainingItemCount)}, fake ${shown(fakeMeta.remainingItemCount)}`,
    );
  }
  const realItems = (Array.isArray(real.items) ? real.items : []).filter(isRecord);
  const fakeItems = (Array.isArray(fake.items) ? fake.items : []).filter(isRecord);
  const realKeys = realItems.map(keyOf);
  const fakeKeys = fakeItems.map(keyOf);
  if (realKeys.join("\n") !== fakeKeys.join("\n")) {
    const missing = realKeys.filter((k) => !fakeKeys.includes(k));
    const extra = fakeKeys.filter((k) => !realKeys.includes(k));
    const order = missing.length === 0 && extra.length === 0 ? " (same items, another order)" : "";
    lines.push(
      `${label}: items${order}: ${realKeys.length} real, ${fakeKeys.length} fake; only real: ${shown(missing)}; only fake: ${shown(extra)}`,
    );
  }
  const kind = typeof real.kind === "string" ? real.kind.replace(/List$/, "") : "";
  const fakeByKey = new Map(fakeItems.map((item) => [keyOf(item), item]));
  for (const item of realItems) {
    const other = fakeByKey.get(keyOf(item));
    if (other) lines.push(...objectDifferences(`${label} ${kind} ${keyOf(item)}`, item, other, kind, leave));
  }
  return lines;
}

function isList(body: unknown): body is Json {
  return isRecord(body) && Array.isArray(body.items) && typeof body.kind === "string" && body.kind.endsWith("List");
}

function mediaType(contentType: string | undefined): string | undefined {
  return contentType?.split(";")[0]?.trim();
}

/** The differences between the real server's answer and the fake's to one request, each line starting with `label`. */
export function answerDifferences(label: string, real: RawAnswer, fake: RawAnswer, leave: Leave): string[] {
  if (real.status !== fake.status) {
    return [`${label}: status: real ${real.status} ${shown(real.body)}, fake ${fake.status} ${shown(fake.body)}`];
  }
  const lines: string[] = [];
  if (mediaType(real.contentType) !== mediaType(fake.contentType)) {
    lines.push(`${label}: Content-Type: real ${shown(real.contentType)}, fake ${shown(fake.contentType)}`);
  }
  if (isList(real.body) && isList(fake.body)) return [...lines, ...listDifferences(label, real.body, fake.body, leave)];
  if (isRecord(real.body) && isRecord(fake.body)) {
    const kind = typeof real.body.kind === "string" ? real.body.kind : "";
    return [...lines, ...objectDifferences(label, real.body, fake.body, kind, leave)];
  }
  if (real.body !== fake.body) lines.push(`${label}: body: real ${shown(real.body)}, fake ${shown(fake.body)}`);
  return lines;
}

/** The continue token of a list answer, if it has one. */
export function continueOf(answer: RawAnswer): string | undefined {
  if (!isList(answer.body) || !isRecord(answer.body.metadata)) return undefined;
  const token = answer.body.metadata.continue;
  return typeof token === "string" && token !== "" ? token : undefined;
}

const RESOURCE_FIELDS = ["name", "singularName", "namespaced", "kind", "shortNames"];

/**
 * Discovery (/api, /apis, /apis/GROUP, /api/v1, /apis/GROUP/VERSION) compared for what the fake serves: it serves only
 * the kinds playbooks read, so a group or resource only the real server has is no difference; for the rest, the names,
 * scope, kind, short names and versions must agree, in the real server's order. Verbs, categories and
 * storageVersionHash are not emulated (the fake serves reads only).
 */
export function discoveryDifferences(label: string, real: RawAnswer, fake: RawAnswer): string[] {
  if (real.status !== fake.status || !isRecord(real.body) || !isRecord(fake.body)) return answerDifferences(label, real, fake, () => {});
  const [r, f] = [real.body, fake.body];
  const lines = ["kind", "apiVersion", "groupVersion", "name", "versions", "preferredVersion"].flatMap((key) =>
    jsonDifferences(r[key], f[key], key).map((line) => `${label}: ${line}`),
  );
  if (r.kind === "APIVersions") {
    const cidrs = (body: Json) =>
      (Array.isArray(body.serverAddressByClientCIDRs) ? body.serverAddressByClientCIDRs : []).map((e) => (isRecord(e) ? e.clientCIDR : e));
    lines.push(...jsonDifferences(cidrs(r), cidrs(f), "serverAddressByClientCIDRs[].clientCIDR").map((line) => `${label}: ${line}`));
  }
  for (const [key, id] of [
    ["groups", "name"],
    ["resources", "name"],
  ] as const) {
    if (!Array.isArray(r[key]) && !Array.isArray(f[key])) continue;
    const realEntries = (Array.isArray(r[key]) ? r[key] : []).filter(isRecord);
    const fakeEntries = (Array.isArray(f[key]) ? f[key] : []).filter(isRecord);
    const realById = new Map(realEntries.map((e) => [String(e[id]), e]));
    for (const entry of fakeEntries) {
      const other = realById.get(String(entry[id]));
      if (!other) {
        lines.push(`${label}: ${key}: ${String(entry[id])} is served by the fake only`);
        continue;
      }
      const fields = key === "groups" ? ["name", "versions", "preferredVersion"] : RESOURCE_FIELDS;
      for (const field of fields) {
        lines.push(
          ...jsonDifferences(other[field], entry[field], `${key}[${String(entry[id])}].${field}`).map((line) => `${label}: ${line}`),
        );
      }
    }
    if (key === "resources") {
      const fakeNames = fakeEntries.map((e) => String(e[id]));
      const realOrder = realEntries.map((e) => String(e[id])).filter((n) => fakeNames.includes(n));
      if (realOrder.join(",") !== fakeNames.filter((n) => realById.has(n)).join(",")) {
        lines.push(`${label}: resources in another order: real ${shown(realOrder)}, fake ${shown(fakeNames)}`);
      }
    }
  }
  return lines;
}
