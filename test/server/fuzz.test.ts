// Deterministic fuzzing of the webhook receiver: thousands of generated malformed and hostile bodies, each answered
// with the right status and a JSON error naming the problem, or stored verbatim when it is in fact a valid
// Alertmanager payload; then hostile-but-valid labels through the whole service to the Slack stand-in.
// Reproduce a run with FUZZ_SEED=<n>; a failure names the case's index and kind.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import type { FastifyInstance } from "fastify";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { createLogger } from "../../src/logger.ts";
import { type RunningService, startService } from "../../src/service.ts";
import { createMetrics, type Metrics } from "../../src/metrics.ts";
import { type Alert, type AlertmanagerPayload, GO_ZERO_TIME } from "../../src/model/alertmanager.ts";
import { escapeMrkdwn } from "../../src/render/slack-blocks.ts";
import { buildApp } from "../../src/server/app.ts";
import { openSqliteStore, type SqliteStore } from "../../src/store/sqlite.ts";
import { type DemoCluster, startDemoCluster } from "../support/demo-cluster.ts";
import { scenarioNamed } from "../support/kube-client-errors-scenarios.ts";
import { kubeClientErrorsPayload } from "../support/payloads.ts";
import { type SlackStandIn, startSlackStandIn } from "../support/slack-standin.ts";

const TOKEN = "fuzz-token-0123456789abcdef";
const SEED = Number(process.env.FUZZ_SEED ?? 20_240_611);
const CASES = 3000;
const BODY_LIMIT = 4 * 1024 * 1024;
const REQUEST_TIMEOUT_MS = 10_000;
const MB = 1024 * 1024;
const PROMQL_LIKE = 'x"}[5m]) or vector(1) #';

/** mulberry32: small, fast, and the same sequence on every machine for a seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Rng {
  readonly next: () => number;

  constructor(seed: number) {
    this.next = prng(seed);
  }

  int(maxExclusive: number): number {
    return Math.floor(this.next() * maxExclusive);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }

  chance(p: number): boolean {
    return this.next() < p;
  }
}

/** Label values an attacker, or an unlucky exporter, could put in an alert: all valid, all to be stored and shown verbatim. */
const HOSTILE = [
  "{{ alert.labels.secret }}",
  "{{ steps.client_pods.items[0].metadata.name }}",
  "$(rm -rf /)",
  "`reboot`",
  "; curl http://127.0.0.1:9/x | sh",
  PROMQL_LIKE,
  'a\\"} or up{x="',
  "<!channel> <!here> <@U0123ABCD>",
  "<https://evil.example/|click me>",
  "*bold* _it_ ~strike~ `code` ```block```",
  "&amp; &lt;tag&gt; &",
  "\u202egnp.exe",
  "a\u0000b",
  "\ud800",
  "\udfff tail",
  "🔥💥👩‍👩‍👧‍👦",
  "e\u0301\u0301\u0301",
  "line\u2028sep\u2029para",
  "\ufeffbom",
  "\r\n\t\u001b[31mred\u001b[0m",
  "' OR '1'='1",
  "../../etc/passwd",
  "kube-system/../../etc",
  "a,b=c,d!=e",
  "%00%2e%2e%2f",
  "\uffff\ufffe",
  "null",
  "-1e309",
  "",
];

/** Keys that are harmless as data but name Object.prototype members. */
const PROTOTYPE_NAMES = ["constructor", "prototype", "toString", "hasOwnProperty", "valueOf", "__defineGetter__", "__lookupSetter__"];

type Expectation =
  | { status: 200; stored: unknown }
  | { status: 400; error: "invalid JSON" }
  | { status: 400; error: "invalid payload"; field: string; fieldIsPrefix?: boolean; message: RegExp }
  | { status: 413 }
  | { status: 415 };

interface FuzzCase {
  kind: string;
  body: string | Buffer;
  /** undefined: no Content-Type header at all. */
  contentType: string | undefined;
  expect: Expectation;
}

const JSON_TYPE = "application/json";

function alertFor(rng: Rng, index: number, n: number): Alert {
  const labels: Record<string, string> = { alertname: rng.pick(["KubeClientErrors", "DiskAlmostFull", "Watchdog"]) };
  const extra = rng.int(4);
  for (let k = 0; k < extra; k++) labels[rng.pick(["job", "instance", "namespace", "pod", "severity"])] = `v${rng.int(1000)}`;
  return {
    status: "firing",
    labels,
    annotations: { summary: `case ${index} alert ${n}` },
    startsAt: new Date(Date.UTC(2025, 0, 1, 0, 0, index % 60)).toISOString(),
    endsAt: GO_ZERO_TIME,
    generatorURL: "http://prometheus.example:9090/graph?g0.expr=up",
    fingerprint: `${index.toString(16)}f${n}`,
  };
}

/** A valid payload, unique to `index` (so the receiver never answers "duplicate"). */
function validPayload(rng: Rng, index: number): AlertmanagerPayload {
  const count = 1 + rng.int(3);
  const alerts = Array.from({ length: count }, (_, n) => alertFor(rng, index, n));
  return {
    receiver: "enricher",
    status: "firing",
    alerts,
    groupLabels: { alertname: alerts[0]?.labels.alertname ?? "x" },
    commonLabels: {},
    commonAnnotations: {},
    externalURL: "http://alertmanager.example:9093",
    version: "4",
    groupKey: `{}:{case="${index}"}`,
    truncatedAlerts: 0,
  };
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Container = Record<string, unknown> | unknown[];

function at(root: unknown, path: Array<string | number>): Container {
  let node: unknown = root;
  for (const key of path) node = (node as Record<string | number, unknown>)[key];
  return node as Container;
}

function setAt(root: unknown, path: Array<string | number>, value: unknown): void {
  const parent = at(root, path.slice(0, -1)) as Record<string | number, unknown>;
  parent[path[path.length - 1] as string | number] = value;
}

function deleteAt(root: unknown, path: Array<string | number>): void {
  const parent = at(root, path.slice(0, -1)) as Record<string | number, unknown>;
  delete parent[path[path.length - 1] as string | number];
}

const pointer = (path: Array<string | number>) => `/${path.join("/")}`;

const WRONG: Record<"string" | "integer" | "object" | "array", Json[]> = {
  string: [42, 4, 1.5, true, false, null, [], ["x"], {}, { a: "b" }],
  integer: ["0", "4", 1.5, true, null, [], {}, "x"],
  object: ["x", 42, true, null, [], ["a"]],
  array: ["x", 42, true, null, {}, { "0": {} }],
};

function typedFields(payload: AlertmanagerPayload, rng: Rng): Array<{ path: Array<string | number>; type: keyof typeof WRONG }> {
  const i = rng.int(payload.alerts.length);
  const labelKey = rng.pick(Object.keys(payload.alerts[i]?.labels ?? { alertname: "" }));
  return [
    { path: ["version"], type: "string" },
    { path: ["groupKey"], type: "string" },
    { path: ["truncatedAlerts"], type: "integer" },
    { path: ["status"], type: "string" },
    { path: ["receiver"], type: "string" },
    { path: ["groupLabels"], type: "object" },
    { path: ["commonLabels"], type: "object" },
    { path: ["commonAnnotations"], type: "object" },
    { path: ["externalURL"], type: "string" },
    { path: ["alerts"], type: "array" },
    { path: ["alerts", i], type: "object" },
    { path: ["alerts", i, "status"], type: "string" },
    { path: ["alerts", i, "labels"], type: "object" },
    { path: ["alerts", i, "labels", labelKey], type: "string" },
    { path: ["alerts", i, "annotations"], type: "object" },
    { path: ["alerts", i, "annotations", "summary"], type: "string" },
    { path: ["alerts", i, "startsAt"], type: "string" },
    { path: ["alerts", i, "endsAt"], type: "string" },
    { path: ["alerts", i, "generatorURL"], type: "string" },
    { path: ["alerts", i, "fingerprint"], type: "string" },
  ];
}

const REQUIRED_TOP = [
  "version",
  "groupKey",
  "status",
  "receiver",
  "groupLabels",
  "commonLabels",
  "commonAnnotations",
  "externalURL",
  "alerts",
];
const REQUIRED_ALERT = ["status", "labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint"];

/** Nests `levels` arrays, objects or both around a value, as JSON text (JSON.stringify itself would overflow). */
function deepText(levels: number, style: "array" | "object" | "mixed"): string {
  let open = "";
  let close = "";
  for (let d = 0; d < levels; d++) {
    const array = style === "array" || (style === "mixed" && d % 2 === 0);
    open += array ? "[" : '{"k":';
    close = (array ? "]" : "}") + close;
  }
  return `${open}1${close}`;
}

/** Serializes `payload` with a placeholder that is then swapped for raw JSON text (duplicate or forbidden keys, deep values). */
function withRaw(payload: AlertmanagerPayload, path: Array<string | number>, raw: string): string {
  const marker = "__FUZZ_RAW_MARKER__";
  setAt(payload, path, marker);
  return JSON.stringify(payload).replace(`"${marker}"`, raw);
}

function withRawKey(payload: AlertmanagerPayload, objectPath: Array<string | number>, rawMember: string, first: boolean): string {
  const marker = "__FUZZ_KEY_MARKER__";
  const target = at(payload, objectPath) as Record<string, unknown>;
  const entries = Object.entries(target);
  for (const key of Object.keys(target)) delete target[key];
  if (first) target[marker] = 0;
  for (const [key, value] of entries) target[key] = value;
  if (!first) target[marker] = 0;
  return JSON.stringify(payload).replace(`"${marker}":0`, rawMember);
}

function hostileValue(rng: Rng): string {
  if (rng.chance(0.3)) return rng.pick(HOSTILE) + rng.pick(HOSTILE);
  return rng.pick(HOSTILE);
}

function objectPaths(payload: AlertmanagerPayload, rng: Rng): Array<Array<string | number>> {
  const i = rng.int(payload.alerts.length);
  return [
    [],
    ["groupLabels"],
    ["commonLabels"],
    ["commonAnnotations"],
    ["alerts", i],
    ["alerts", i, "labels"],
    ["alerts", i, "annotations"],
  ];
}

/** One generated case. Every tenth is a plain valid notification, interleaved with the hostile ones. */
function generate(rng: Rng, index: number): FuzzCase {
  const payload = validPayload(rng, index);
  const valid = (kind: string, body: string | Buffer, contentType: string | undefined = JSON_TYPE): FuzzCase => ({
    kind,
    body,
    contentType,
    expect: { status: 200, stored: JSON.parse(typeof body === "string" ? body : body.toString("utf8")) as unknown },
  });
  const invalid = (kind: string, body: string, field: string, message: RegExp, fieldIsPrefix = false): FuzzCase => ({
    kind,
    body,
    contentType: JSON_TYPE,
    expect: { status: 400, error: "invalid payload", field, message, fieldIsPrefix },
  });
  const notJson = (kind: string, body: string | Buffer): FuzzCase => ({
    kind,
    body,
    contentType: JSON_TYPE,
    expect: { status: 400, error: "invalid JSON" },
  });

  if (index % 10 === 0) {
    const normal = kubeClientErrorsPayload({}, { groupKey: `{}:{normal="${index}"}` });
    return valid("normal", JSON.stringify(normal));
  }

  const i = rng.int(payload.alerts.length);
  const kind = rng.int(100);

  if (kind < 16) {
    const field = rng.pick(typedFields(payload, rng));
    const wrong = rng.pick(WRONG[field.type]);
    setAt(payload, field.path, wrong);
    return invalid(
      `wrong type at ${pointer(field.path)}`,
      JSON.stringify(payload),
      pointer(field.path),
      new RegExp(`must be ${field.type}`),
    );
  }

  if (kind < 24) {
    const top = rng.chance(0.4);
    const name = rng.pick(top ? REQUIRED_TOP : [...REQUIRED_ALERT, "alertname"]);
    const path: Array<string | number> = top ? [name] : name === "alertname" ? ["alerts", i, "labels", name] : ["alerts", i, name];
    deleteAt(payload, path);
    return invalid(`missing ${pointer(path)}`, JSON.stringify(payload), pointer(path), new RegExp(`^${name} is required$`));
  }

  if (kind < 32) {
    const violations: Array<{ path: Array<string | number>; value: Json; message: RegExp }> = [
      { path: ["version"], value: rng.pick(["3", "5", "", "4 "]), message: /must be equal to constant: "4"/ },
      { path: ["groupKey"], value: "", message: /must NOT have fewer than 1 characters/ },
      { path: ["status"], value: rng.pick(["exploded", "FIRING", "", "resolved "]), message: /allowed values: firing, resolved/ },
      { path: ["truncatedAlerts"], value: -1, message: /must be >= 0/ },
      { path: ["alerts"], value: [], message: /must NOT have fewer than 1 items/ },
      { path: ["alerts", i, "status"], value: "pending", message: /allowed values: firing, resolved/ },
      { path: ["alerts", i, "fingerprint"], value: "", message: /must NOT have fewer than 1 characters/ },
      { path: ["alerts", i, "labels", "alertname"], value: "", message: /must NOT have fewer than 1 characters/ },
      {
        path: ["alerts", i, rng.pick(["startsAt", "endsAt"])],
        value: rng.pick(["yesterday", "2025-13-45T00:00:00Z", "2025-01-01", "1735689600"]),
        message: /must match format "date-time"/,
      },
    ];
    const violation = rng.pick(violations);
    setAt(payload, violation.path, violation.value);
    return invalid(`constraint at ${pointer(violation.path)}`, JSON.stringify(payload), pointer(violation.path), violation.message);
  }

  if (kind < 37) {
    // Alertmanager never retries a 4xx, so anything it can send under the body limit is stored: 1 MB in one string,
    // some multi-byte or escaped, a long fingerprint, URL or receiver, 300 labels, a 2,000-character label name.
    const char = rng.pick(["x", "é", "🔥", "\u0000"]);
    const huge = char.repeat(Math.ceil(MB / (Buffer.byteLength(JSON.stringify(char)) - 2)));
    const targets: Array<{ path: Array<string | number>; value: Json }> = [
      { path: ["alerts", i, "labels", "instance"], value: huge },
      { path: ["alerts", i, "annotations", "description"], value: huge },
      { path: ["commonLabels", "job"], value: huge },
      { path: ["groupKey"], value: huge },
      { path: ["externalURL"], value: huge },
      { path: ["alerts", i, "fingerprint"], value: "f".repeat(65) },
      { path: ["alerts", i, "generatorURL"], value: "h".repeat(8193) },
      { path: ["receiver"], value: "r".repeat(1025) },
      { path: ["alerts", i, "labels", "l".repeat(2000)], value: "v" },
      {
        path: ["alerts", i, "labels"],
        value: Object.fromEntries(Array.from({ length: 300 }, (_, k) => [k === 0 ? "alertname" : `l${k}`, "v"])),
      },
    ];
    const target = rng.pick(targets);
    setAt(payload, target.path, target.value);
    return valid(`large but under the body limit at ${pointer(target.path)}`, JSON.stringify(payload));
  }

  if (kind < 38) {
    payload.commonAnnotations = { description: "x".repeat(BODY_LIMIT + rng.int(MB)) };
    return { kind: "body over the limit", body: JSON.stringify(payload), contentType: JSON_TYPE, expect: { status: 413 } };
  }

  if (kind < 44) {
    const style = rng.pick(["array", "object", "mixed"] as const);
    const placements: Array<Array<string | number>> = [["extra"], ["alerts", i, "extra"], ["alerts", i, "labels", "deep"], ["alerts", i]];
    if (rng.chance(0.15)) {
      return invalid(`10,000 levels of ${style} as the body`, deepText(10_000, style), "/", /nests deeper than 64 levels/, true);
    }
    const path = rng.pick(placements);
    return invalid(
      `10,000 levels of ${style} at ${pointer(path)}`,
      withRaw(payload, path, deepText(10_000, style)),
      pointer(path),
      /nests deeper than 64 levels/,
      true,
    );
  }

  if (kind < 47) {
    // Nesting an unknown field reasonably deep is still a valid payload (additionalProperties: newer Alertmanagers add fields).
    const levels = 1 + rng.int(50);
    return valid(
      `${levels} levels in an unknown field`,
      withRaw(payload, rng.pick([["extra"], ["alerts", i, "extra"]]), deepText(levels, rng.pick(["array", "object", "mixed"]))),
    );
  }

  if (kind < 49) {
    const many = rng.chance(0.8) ? 5_000 : 1001;
    payload.alerts = Array.from({ length: many }, (_, n) => alertFor(rng, index, n));
    return valid(`${many} alerts`, JSON.stringify(payload));
  }

  if (kind < 50) {
    payload.alerts = Array.from({ length: 1000 }, (_, n) => alertFor(rng, index, n));
    return valid("1000 alerts", JSON.stringify(payload));
  }

  if (kind < 66) {
    // Hostile but valid: odd Unicode, template syntax, shell and PromQL injection, mrkdwn mentions, anywhere a string goes.
    const alert = payload.alerts[i] as Alert;
    const places = 1 + rng.int(4);
    for (let p = 0; p < places; p++) {
      const value = hostileValue(rng);
      switch (rng.int(9)) {
        case 0:
          alert.labels[rng.pick(["job", "instance", "namespace", "pod", "node", "service"])] = value;
          break;
        case 1:
          alert.labels[hostileValue(rng) || "empty"] = value;
          break;
        case 2:
          alert.annotations[rng.pick(["summary", "description", "runbook_url"])] = value;
          break;
        case 3:
          if (value !== "") alert.labels.alertname = value;
          break;
        case 4:
          payload.groupKey = `${payload.groupKey}${value}`;
          break;
        case 5:
          payload.receiver = value;
          break;
        case 6:
          payload.commonLabels[rng.pick(["namespace", "cluster"])] = value;
          break;
        case 7:
          alert.generatorURL = `http://prometheus.example/graph?g0.expr=${value}`;
          break;
        default:
          if (value !== "" && value.length <= 64) alert.fingerprint = value;
      }
    }
    if (rng.chance(0.05)) alert.labels.huge = "v".repeat(65536);
    return valid("hostile but valid strings", JSON.stringify(payload));
  }

  if (kind < 68) {
    // Bytes that are not UTF-8 inside a string: decoded as U+FFFD, like any lenient JSON reader does.
    const text = withRaw(payload, ["alerts", i, "labels", "job"], '"BYTES"');
    const [before, after] = text.split("BYTES") as [string, string];
    const bytes = Buffer.concat([Buffer.from(before), Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xed, 0xa0, 0x80]), Buffer.from(after)]);
    return valid("invalid UTF-8 bytes in a label value", bytes);
  }

  if (kind < 74) {
    const objectPath = rng.pick(objectPaths(payload, rng));
    const where = pointer(objectPath).replace(/^\/$/, "");
    if (rng.chance(0.5)) {
      const value = rng.pick(['{"polluted":true}', '"x"', "null", '{"toString":"boom"}']);
      const body = withRawKey(payload, objectPath, `"__proto__":${value}`, rng.chance(0.5));
      return invalid(`__proto__ at ${where || "/"}`, body, `${where}/__proto__`, /the key __proto__ is refused \(prototype pollution\)/);
    }
    const body = withRawKey(payload, objectPath, '"constructor":{"prototype":{"polluted":true}}', rng.chance(0.5));
    return invalid(`constructor.prototype at ${where || "/"}`, body, `${where}/constructor`, /the key constructor is refused/);
  }

  if (kind < 78) {
    const alert = payload.alerts[i] as Alert;
    for (const name of PROTOTYPE_NAMES) if (rng.chance(0.5)) alert.labels[name] = hostileValue(rng);
    alert.annotations[rng.pick(PROTOTYPE_NAMES)] = "annotation";
    return valid("Object.prototype member names as labels", JSON.stringify(payload));
  }

  if (kind < 82) {
    // Duplicate keys: the last one wins, as in JSON.parse, and decides whether the payload is valid.
    const variant = rng.int(4);
    if (variant === 0) return valid("duplicate version, valid last", withRawKey(payload, [], '"version":"3"', true));
    if (variant === 1) {
      return invalid("duplicate version, invalid last", withRawKey(payload, [], '"version":"3"', false), "/version", /constant/);
    }
    if (variant === 2) {
      const first = rng.chance(0.5);
      return valid(
        `duplicate label, ${first ? "first" : "last"}`,
        withRawKey(payload, ["alerts", i, "labels"], '"job":"a","job":"b"', first),
      );
    }
    return invalid(
      "duplicate alertname, empty last",
      withRawKey(payload, ["alerts", i, "labels"], '"alertname":""', false),
      `/alerts/${i}/labels/alertname`,
      /must NOT have fewer than 1 characters/,
    );
  }

  if (kind < 88) {
    const text = JSON.stringify(payload);
    return notJson("truncated JSON", text.slice(0, rng.int(text.length)));
  }

  if (kind < 92) {
    const text = JSON.stringify(payload);
    const garbage: Array<string | Buffer> = [
      "{not json",
      "{'version': '4'}",
      `${text.slice(0, -1)},}`,
      `${text}x`,
      `${text}${text}`,
      "NaN",
      "Infinity",
      '{"truncatedAlerts":01}',
      `/* comment */${text}`,
      '{"a":"\\x41"}',
      '{"a":"tab\there"}',
      '"unterminated',
      "undefined",
      "   ",
      "",
      Buffer.from([0x01, ...Array.from({ length: 64 }, () => rng.int(256))]),
    ];
    return notJson("not JSON", rng.pick(garbage));
  }

  if (kind < 97) {
    const wrongType = rng.pick([
      undefined,
      "",
      "text/plain",
      "text/plain; charset=utf-8",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=x",
      "application/xml",
      "application/jsonx",
      "application/vnd.api+json",
      "application/*",
      "*/*",
      "application/octet-stream",
    ]);
    return {
      kind: `content type ${JSON.stringify(wrongType)}`,
      body: JSON.stringify(payload),
      contentType: wrongType,
      expect: { status: 415 },
    };
  }

  return valid(
    "JSON content type spelled differently",
    JSON.stringify(payload),
    rng.pick(["APPLICATION/JSON", "application/json; charset=utf-8", "Application/Json;charset=UTF-8"]),
  );
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

describe("the receiver under generated hostile input", () => {
  let dir: string;
  let store: SqliteStore;
  let metrics: Metrics;
  let app: FastifyInstance;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "enricher-fuzz-"));
    store = openSqliteStore(join(dir, "enricher.db"));
    await store.migrate();
    metrics = createMetrics(() => store.queueDepth());
    app = buildApp({ store, metrics, auth: { kind: "bearer", token: TOKEN }, bodyLimitBytes: BODY_LIMIT, dedupWindowMs: 600_000 });
    await app.ready();
  });

  afterEach(async () => {
    await app.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it(`answers ${CASES} generated payloads with a 4xx naming the problem or a 200 storing them verbatim, and keeps serving`, async () => {
    const prototypeBefore = Object.getOwnPropertyNames(Object.prototype).sort();
    const rng = new Rng(SEED);
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    let slowestMs = 0;
    const started = Date.now();

    for (let index = 0; index < CASES && Date.now() - started < 100_000; index++) {
      const fuzz = generate(rng, index);
      const label = `case ${index} (${fuzz.kind}, seed ${SEED})`;
      const headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` };
      if (fuzz.contentType !== undefined) headers["content-type"] = fuzz.contentType;
      const sent = Date.now();
      const response = await withTimeout(
        app.inject({ method: "POST", url: "/alerts", headers, payload: fuzz.body }),
        REQUEST_TIMEOUT_MS,
        label,
      );
      slowestMs = Math.max(slowestMs, Date.now() - sent);
      statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1);

      const problems: string[] = [];
      let body: Record<string, unknown> = {};
      try {
        body = response.json<Record<string, unknown>>();
      } catch {
        problems.push(`the answer is not JSON: ${response.body.slice(0, 200)}`);
      }
      if (response.statusCode !== fuzz.expect.status) problems.push(`status ${response.statusCode}, expected ${fuzz.expect.status}`);
      else if (fuzz.expect.status === 200) {
        if (body.status !== "stored" || body.duplicate !== false) problems.push(`answer ${JSON.stringify(body)}`);
        // Nothing else takes from the store, so the oldest pending notification is the one just stored.
        const stored = await store.claimNotification("fuzz-check", 60_000);
        if (stored === null || stored.id !== body.id) problems.push(`stored ${stored?.id}, answered ${String(body.id)}`);
        else if (!isDeepStrictEqual(stored.payload, fuzz.expect.stored)) problems.push("the stored payload differs from what was sent");
      } else {
        if (typeof body.error !== "string" || typeof body.message !== "string" || body.message === "") {
          problems.push(`the error body names no problem: ${JSON.stringify(body).slice(0, 200)}`);
        }
        const expected = fuzz.expect;
        if (expected.status === 400) {
          if (body.error !== expected.error) problems.push(`error ${String(body.error)}, expected ${expected.error}`);
          if (expected.error === "invalid payload") {
            const field = String(body.field);
            const fieldOk = expected.fieldIsPrefix ? field.startsWith(expected.field) : field === expected.field;
            if (!fieldOk)
              problems.push(`field ${field.slice(0, 120)}, expected ${expected.fieldIsPrefix ? "under " : ""}${expected.field}`);
            if (!expected.message.test(String(body.message)))
              problems.push(`message ${String(body.message).slice(0, 200)} does not match ${expected.message}`);
          }
        }
        if (expected.status === 413 && !String(body.message).includes("BODY_LIMIT_BYTES")) problems.push(`message ${String(body.message)}`);
        if (expected.status === 415 && !String(body.message).includes("application/json")) problems.push(`message ${String(body.message)}`);
      }
      if (problems.length > 0 && failures.length < 25) failures.push(`${label}: ${problems.join("; ")}`);

      if (index % 100 === 99) {
        const health = await withTimeout(app.inject({ method: "GET", url: "/healthz" }), REQUEST_TIMEOUT_MS, "healthz");
        if (health.statusCode !== 200) failures.push(`after case ${index}: /healthz answered ${health.statusCode}`);
      }
    }

    expect(failures).toEqual([]);
    const answered = [...statuses.values()].reduce((a, b) => a + b, 0);
    expect(answered).toBe(CASES);
    expect([...statuses.keys()].sort()).toEqual([200, 400, 413, 415]);
    expect(slowestMs).toBeLessThan(REQUEST_TIMEOUT_MS);
    // Every refusal is counted, by reason, for the operator.
    const rejected = (await metrics.registry.getSingleMetric("enricher_notifications_rejected_total")?.get())?.values ?? [];
    expect(rejected.reduce((sum, v) => sum + v.value, 0)).toBe(CASES - (statuses.get(200) ?? 0));
    // No body could reach Object.prototype.
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeBefore);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).toString).toBe(Object.prototype.toString);
    expect((await store.queueDepth()).notifications).toBe(statuses.get(200));
  }, 150_000);
});

describe("hostile-but-valid labels through the whole service", () => {
  let dir: string;
  let cluster: DemoCluster;
  let slack: SlackStandIn;
  let service: RunningService | undefined;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "enricher-fuzz-e2e-"));
    cluster = await startDemoCluster(scenarioNamed("credentials-rejected"));
    // 201 messages about escaping, not pacing: at Slack's one per second they would take minutes, so the limit is raised.
    slack = await startSlackStandIn({ rateLimit: { perSecond: 500, burst: 250 } });
    service = undefined;
  });

  afterEach(async () => {
    await service?.stop();
    await cluster.close();
    await slack.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Every text Slack would parse as mrkdwn (the fallback text, sections, fields, context), and every plain_text. */
  function texts(message: unknown): { mrkdwn: string[]; plain: string[] } {
    const mrkdwn: string[] = [];
    const plain: string[] = [];
    const stack: unknown[] = [message];
    for (let node = stack.pop(), n = 0; node !== undefined && n < 100_000; node = stack.pop(), n++) {
      if (Array.isArray(node)) stack.push(...(node as unknown[]));
      else if (node !== null && typeof node === "object") {
        const record = node as Record<string, unknown>;
        if (record.type === "mrkdwn" && typeof record.text === "string") mrkdwn.push(record.text);
        else if (record.type === "plain_text" && typeof record.text === "string") plain.push(record.text);
        else stack.push(...Object.values(record));
      }
    }
    const top = (message as { text?: unknown }).text;
    if (typeof top === "string") mrkdwn.push(top);
    return { mrkdwn, plain };
  }

  it("delivers 200 notifications with hostile labels and a normal one, each label shown verbatim but escaped for mrkdwn", async () => {
    service = await startService(
      loadConfig({
        ...cluster.env,
        PORT: "0",
        HOST: "127.0.0.1",
        WEBHOOK_BEARER_TOKEN: TOKEN,
        DATABASE_URL: `sqlite:${join(dir, "enricher.db")}`,
        SLACK_WEBHOOK_URL: slack.webhookUrl,
        WORKER_CONCURRENCY: "8",
      }),
      { logger: createLogger("silent"), pollIntervalMs: 50, deliveryBackoff: { baseMs: 50, maxMs: 200 } },
    );
    const url = service.url;
    const rng = new Rng(SEED + 1);
    const scenarioLabels = scenarioNamed("credentials-rejected").alertLabels;
    const sent: Array<{ marker: string; labels: Record<string, string>; diagnosed: boolean }> = [];
    const payloads: AlertmanagerPayload[] = [];
    for (let n = 0; n < 200; n++) {
      const marker = `hostile-${String(n).padStart(3, "0")}`;
      // Half run the KubeClientErrors playbook with hostile job/instance/namespace; half have no playbook and show every label.
      const diagnosed = n % 2 === 0;
      const labels: Record<string, string> = diagnosed
        ? {
            ...scenarioLabels,
            cluster: marker,
            job: hostileValue(rng) || "x",
            instance: hostileValue(rng) || "x",
            namespace: hostileValue(rng) || "x",
          }
        : {
            alertname: `${rng.pick(HOSTILE) || "x"} ${marker}`,
            cluster: marker,
            [rng.pick(PROTOTYPE_NAMES)]: hostileValue(rng) || "x",
            evil: hostileValue(rng) || "x",
          };
      sent.push({ marker, labels, diagnosed });
      payloads.push(
        kubeClientErrorsPayload(
          {},
          {
            groupKey: `{}:{marker="${marker}"}`,
            groupLabels: { alertname: labels.alertname ?? "" },
            commonLabels: labels,
            alerts: [{ ...(kubeClientErrorsPayload().alerts[0] as Alert), labels, fingerprint: marker }],
          },
        ),
      );
      if (n === 100) payloads.push(kubeClientErrorsPayload(scenarioLabels, { groupKey: '{}:{marker="normal"}' }));
    }

    for (let start = 0; start < payloads.length; start += 20) {
      const batch = payloads.slice(start, start + 20).map((payload) =>
        fetch(`${url}/alerts`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
          body: JSON.stringify(payload),
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        }),
      );
      expect((await Promise.all(batch)).map((r) => r.status)).toEqual(batch.map(() => 200));
    }

    const deadline = Date.now() + 60_000;
    while (slack.messages.length < 201 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 300));
    expect(slack.rejections).toEqual([]);
    expect(slack.messages).toHaveLength(201);

    const rendered = slack.messages.map((m) => texts(m));
    const normal = rendered.filter((r) =>
      r.mrkdwn.some((t) => t.includes("authentication fails on 42%") && t.includes("kube-state-metrics")),
    );
    expect(normal.length).toBeGreaterThanOrEqual(1);
    for (const { mrkdwn } of rendered) {
      for (const text of mrkdwn) {
        expect(text).not.toMatch(/<!channel>|<!here>|<@U0123ABCD>|<https:\/\/evil/);
      }
    }
    for (const { marker, labels, diagnosed } of sent) {
      const matching = rendered.filter((r) => r.mrkdwn.some((t) => t.includes(marker)) || r.plain.some((t) => t.includes(marker)));
      expect(matching, marker).toHaveLength(1);
      const shown = (matching[0]?.mrkdwn ?? []).join("\n");
      const names = diagnosed ? ["namespace", "instance", "job"] : Object.keys(labels).filter((name) => name !== "alertname");
      for (const name of names) {
        const value = labels[name] ?? "";
        const escaped = escapeMrkdwn(value);
        expect(shown, `${marker} ${name}`).toContain(diagnosed ? `${name} *${escaped}*` : `*${escapeMrkdwn(name)}*\n${escaped}`);
      }
      if (diagnosed) expect(shown).toContain("Playbook KubeClientErrors");
      else expect((matching[0]?.plain ?? []).join("\n")).toContain(labels.alertname);
    }
    // The run did carry mentions, links and markup to escape.
    const allValues = sent.flatMap((s) => Object.values(s.labels)).join("\n");
    for (const hostile of ["<!channel>", "<https://evil", "{{ alert.labels.secret }}", "$(rm -rf /)", PROMQL_LIKE])
      expect(allValues).toContain(hostile);
  }, 120_000);
});
