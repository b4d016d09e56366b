import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type AuditQuery, AuditLogSource, MAX_AUDIT_BYTES } from "../../src/sources/audit-log.ts";
import { SourceError } from "../../src/sources/source.ts";

const NOW = new Date("2024-11-15T10:00:00.000Z");
const HOUR = 3_600_000;

const CI_AGENT = "ci-runner/1.4.2 (linux/amd64) kubernetes/4c94112";
const CI_USER = "system:serviceaccount:ci:ci-runner";
const KUBECTL_AGENT = "kubectl/v1.29.4 (linux/amd64) kubernetes/55f2bc1";
const KCM_AGENT = "kube-controller-manager/v1.29.4 (linux/amd64) kubernetes/55f2bc1/system:serviceaccount:kube-system:job-controller";

interface RequestSpec {
  /** Minutes before NOW the request was received. */
  minutesAgo: number;
  latencyMs: number;
  verb: string;
  resource?: string;
  namespace?: string;
  userAgent?: string;
  username: string;
  stage?: "ResponseComplete" | "Panic";
}

/** An RFC 3339 time with microseconds, as the API server writes audit timestamps. */
function micros(ms: number): string {
  return new Date(ms).toISOString().replace("Z", "412Z");
}

let auditIds = 0;

/** The RequestReceived and completing lines the API server writes for one request (audit.k8s.io/v1, level Metadata). */
function request(spec: RequestSpec): string[] {
  const received = NOW.getTime() - spec.minutesAgo * 60_000;
  const auditID = `5f0b${String(++auditIds).padStart(4, "0")}-1c2e-4f9a-9d1e-7a3b0c6d2e11`;
  const base = {
    kind: "Event",
    apiVersion: "audit.k8s.io/v1",
    level: "Metadata",
    auditID,
    requestURI: spec.resource ? `/apis/batch/v1/namespaces/${spec.namespace ?? "ci"}/${spec.resource}?limit=500` : "/healthz",
    verb: spec.verb,
    user: { username: spec.username, groups: ["system:serviceaccounts", "system:authenticated"] },
    sourceIPs: ["10.244.3.17"],
    ...(spec.userAgent !== undefined ? { userAgent: spec.userAgent } : {}),
    ...(spec.resource
      ? { objectRef: { resource: spec.resource, namespace: spec.namespace ?? "ci", apiGroup: "batch", apiVersion: "v1" } }
      : {}),
    requestReceivedTimestamp: micros(received),
  };
  const start = { ...base, stage: "RequestReceived", stageTimestamp: micros(received) };
  const done = {
    ...base,
    stage: spec.stage ?? "ResponseComplete",
    responseStatus: { metadata: {}, code: 200 },
    stageTimestamp: micros(received + spec.latencyMs),
    annotations: { "authorization.k8s.io/decision": "allow" },
  };
  return [JSON.stringify(start), JSON.stringify(done)];
}

function many(count: number, spec: Omit<RequestSpec, "minutesAgo"> & { minutesAgo?: number }): string[] {
  return Array.from({ length: count }, (_, i) => request({ minutesAgo: (i % 50) + 1, ...spec })).flat();
}

/** An hour of a CI runner listing Jobs, kubectl reading pods, and the job controller updating Jobs. */
function busyHour(): string[] {
  return [
    ...many(6, { verb: "list", resource: "jobs", userAgent: CI_AGENT, username: CI_USER, latencyMs: 9000 }),
    ...many(2, { verb: "create", resource: "jobs", userAgent: CI_AGENT, username: CI_USER, latencyMs: 300 }),
    ...many(4, {
      verb: "update",
      resource: "jobs",
      userAgent: KCM_AGENT,
      username: "system:serviceaccount:kube-system:job-controller",
      latencyMs: 120,
    }),
    ...many(3, { verb: "get", resource: "pods", namespace: "web", userAgent: KUBECTL_AGENT, username: "alice@example.com", latencyMs: 40 }),
  ];
}

const query = (q: Partial<AuditQuery> & Pick<AuditQuery, "aggregate">): AuditQuery => ({ windowMs: HOUR, limit: 10, ...q });
const signal = () => new AbortController().signal;

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "audit-log-"));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function logFile(lines: string[], name = "audit.log"): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, `${lines.join("\n")}\n`);
  return path;
}

async function sourceOf(lines: string[], maxBytes?: number): Promise<AuditLogSource> {
  return new AuditLogSource({ path: await logFile(lines) }, maxBytes === undefined ? {} : { maxBytes });
}

describe("AuditLogSource aggregates", () => {
  it("counts each request once (its completed stage) and ranks user agents by requests, with the user they act as", async () => {
    const source = await sourceOf(busyHour());
    const output = await source.query(query({ aggregate: "topUserAgents" }), signal(), NOW);
    expect(output.data.rows).toEqual([
      { userAgent: CI_AGENT, user: CI_USER, count: 8 },
      { userAgent: KCM_AGENT, user: "system:serviceaccount:kube-system:job-controller", count: 4 },
      { userAgent: KUBECTL_AGENT, user: "alice@example.com", count: 3 },
    ]);
    expect(output.data.events).toBe(15);
    expect(output.summary).toBe("15 requests in the window, 3 rows");
    expect(output.request).toBe("audit log: topUserAgents over the last 60m (top 10)");
  });

  it("keeps only the top `limit` rows", async () => {
    const source = await sourceOf(busyHour());
    const output = await source.query(query({ aggregate: "topUserAgents", limit: 1 }), signal(), NOW);
    expect(output.data.rows).toEqual([{ userAgent: CI_AGENT, user: CI_USER, count: 8 }]);
  });

  it("averages latency per user agent from requestReceivedTimestamp to stageTimestamp, slowest first", async () => {
    const source = await sourceOf(busyHour());
    const output = await source.query(query({ aggregate: "latencyByUserAgent" }), signal(), NOW);
    expect(output.data.rows).toEqual([
      // (6 × 9000 + 2 × 300) / 8
      { userAgent: CI_AGENT, user: CI_USER, avgMs: 6825, count: 8 },
      { userAgent: KCM_AGENT, user: "system:serviceaccount:kube-system:job-controller", avgMs: 120, count: 4 },
      { userAgent: KUBECTL_AGENT, user: "alice@example.com", avgMs: 40, count: 3 },
    ]);
  });

  it("gives the P99 latency by verb and resource, leaving out requests without a resource", async () => {
    const lines = [
      ...busyHour(),
      ...many(5, { verb: "get", userAgent: "kube-probe/1.29", username: "system:anonymous", latencyMs: 2 }), // /healthz
    ];
    const source = await sourceOf(lines);
    const output = await source.query(query({ aggregate: "p99ByVerbResource" }), signal(), NOW);
    expect(output.data.rows).toEqual([
      { verb: "list", resource: "jobs", p99Ms: 9000, count: 6 },
      { verb: "create", resource: "jobs", p99Ms: 300, count: 2 },
      { verb: "update", resource: "jobs", p99Ms: 120, count: 4 },
      { verb: "get", resource: "pods", p99Ms: 40, count: 3 },
    ]);
  });

  it("takes the P99 as the nearest rank: one slow request in a hundred is not the P99, three in two hundred are", async () => {
    const fast = (n: number) => many(n, { verb: "list", resource: "jobs", userAgent: CI_AGENT, username: CI_USER, latencyMs: 100 });
    const slow = (n: number) => many(n, { verb: "list", resource: "jobs", userAgent: CI_AGENT, username: CI_USER, latencyMs: 8000 });
    const hundred = await sourceOf([...fast(99), ...slow(1)]);
    expect((await hundred.query(query({ aggregate: "p99ByVerbResource" }), signal(), NOW)).data.rows).toEqual([
      { verb: "list", resource: "jobs", p99Ms: 100, count: 100 },
    ]);
    const twoHundred = await sourceOf([...fast(197), ...slow(3)]);
    expect((await twoHundred.query(query({ aggregate: "p99ByVerbResource" }), signal(), NOW)).data.rows).toEqual([
      { verb: "list", resource: "jobs", p99Ms: 8000, count: 200 },
    ]);
  });

  it("counts a request that ended in a panic, and names a client without a user agent by its user", async () => {
    const source = await sourceOf([
      ...request({ minutesAgo: 3, verb: "list", resource: "jobs", username: CI_USER, latencyMs: 500, stage: "Panic" }),
      ...request({ minutesAgo: 2, verb: "list", resource: "jobs", userAgent: "", username: CI_USER, latencyMs: 700 }),
    ]);
    const output = await source.query(query({ aggregate: "latencyByUserAgent" }), signal(), NOW);
    expect(output.data.rows).toEqual([{ userAgent: CI_USER, user: CI_USER, avgMs: 600, count: 2 }]);
  });

  it("returns no rows, not an error, for an empty log", async () => {
    const source = new AuditLogSource({ path: await logFile([]) });
    const output = await source.query(query({ aggregate: "topUserAgents" }), signal(), NOW);
    expect(output.data).toMatchObject({ rows: [], count: 0, events: 0, unreadable: 0, truncated: false });
  });
});

describe("AuditLogSource in bounded memory", () => {
  it("tallies at most twice maxKeys user agents, counting the least busy as other, and still finds a busy client that comes late", async () => {
    const oneOffs = Array.from({ length: 40 }, (_, i) =>
      request({ minutesAgo: 50, verb: "get", resource: "pods", userAgent: `script-${i}/1.0`, username: `user-${i}`, latencyMs: 10 }),
    ).flat();
    const busy = many(12, { verb: "list", resource: "jobs", userAgent: CI_AGENT, username: CI_USER, latencyMs: 9000 });
    const source = new AuditLogSource({ path: await logFile([...oneOffs, ...busy]) }, { maxKeys: 5 });
    const output = await source.query(query({ aggregate: "topUserAgents", limit: 3 }), signal(), NOW);
    const rows = output.data.rows as Array<{ userAgent: string; count: number }>;
    expect(rows[0]).toEqual({ userAgent: CI_AGENT, user: CI_USER, count: 12 });
    expect(output.data.events).toBe(52);
    // Every request is counted once: in a row still tallied, or as other.
    expect(Number(output.data.otherRequests)).toBeGreaterThanOrEqual(30);
    expect(output.summary).toContain("requests of less busy user agents counted only as other");
  });

  it("takes the P99 from fixed buckets: exact below a second, within 0.5% above", async () => {
    const source = await sourceOf([
      ...many(3, { verb: "list", resource: "jobs", userAgent: CI_AGENT, username: CI_USER, latencyMs: 12_345 }),
      ...many(3, { verb: "get", resource: "pods", userAgent: CI_AGENT, username: CI_USER, latencyMs: 987 }),
    ]);
    const output = await source.query(query({ aggregate: "p99ByVerbResource" }), signal(), NOW);
    expect(output.data.rows).toEqual([
      { verb: "list", resource: "jobs", p99Ms: 12_300, count: 3 },
      { verb: "get", resource: "pods", p99Ms: 987, count: 3 },
    ]);
  });

  it("skips and counts a line longer than the cap instead of holding it", async () => {
    const [, done] = request({ minutesAgo: 1, verb: "list", resource: "jobs", userAgent: CI_AGENT, username: CI_USER, latencyMs: 1 });
    const huge = (done as string).replace('"annotations":{', `"annotations":{"padding":"${"x".repeat(200_000)}",`);
    const path = await logFile([huge, ...busyHour()]);
    const output = await new AuditLogSource({ path }, { maxLineLength: 100_000 }).query(
      query({ aggregate: "topUserAgents" }),
      signal(),
      NOW,
    );
    expect(output.data).toMatchObject({ events: 15, tooLong: 1, unreadable: 0 });
    expect(output.summary).toContain("1 lines longer than 98 KiB skipped");
  });

  it("stops reading when the caller gives up", async () => {
    const source = await sourceOf(busyHour());
    const controller = new AbortController();
    controller.abort(new Error("step timed out"));
    await expect(source.query(query({ aggregate: "topUserAgents" }), controller.signal, NOW)).rejects.toThrow();
  });
});

describe("AuditLogSource window and filter", () => {
  it("keeps only requests received within the window", async () => {
    const source = await sourceOf([
      ...request({ minutesAgo: 5, verb: "list", resource: "jobs", userAgent: CI_AGENT, username: CI_USER, latencyMs: 100 }),
      ...request({ minutesAgo: 59, verb: "list", resource: "jobs", userAgent: CI_AGENT, username: CI_USER, latencyMs: 100 }),
      ...request({ minutesAgo: 61, verb: "list", resource: "jobs", userAgent: CI_AGENT, username: CI_USER, latencyMs: 100 }),
      ...request({
        minutesAgo: 600,
        verb: "list",
        resource: "jobs",
        userAgent: KUBECTL_AGENT,
        username: "alice@example.com",
        latencyMs: 1,
      }),
    ]);
    const hour = await source.query(query({ aggregate: "topUserAgents" }), signal(), NOW);
    expect(hour.data.rows).toEqual([{ userAgent: CI_AGENT, user: CI_USER, count: 2 }]);
    const tenMinutes = await source.query(query({ aggregate: "topUserAgents", windowMs: 10 * 60_000 }), signal(), NOW);
    expect(tenMinutes.data.rows).toEqual([{ userAgent: CI_AGENT, user: CI_USER, count: 1 }]);
    expect(tenMinutes.request).toBe("audit log: topUserAgents over the last 10m (top 10)");
  });

  it("skips events without a readable received time", async () => {
    const [, done] = request({ minutesAgo: 1, verb: "list", resource: "jobs", userAgent: CI_AGENT, username: CI_USER, latencyMs: 1 });
    const event = JSON.parse(done as string) as Record<string, unknown>;
    const source = await sourceOf([
      JSON.stringify({ ...event, requestReceivedTimestamp: undefined }),
      JSON.stringify({ ...event, requestReceivedTimestamp: "yesterday" }),
    ]);
    const output = await source.query(query({ aggregate: "topUserAgents" }), signal(), NOW);
    expect(output.data).toMatchObject({ rows: [], events: 0, unreadable: 0 });
  });

  it("filters by a prefix of the user agent, as the guide's Step 3 does for one client", async () => {
    const source = await sourceOf(busyHour());
    const output = await source.query(query({ aggregate: "p99ByVerbResource", userAgent: "ci-runner/" }), signal(), NOW);
    expect(output.data.rows).toEqual([
      { verb: "list", resource: "jobs", p99Ms: 9000, count: 6 },
      { verb: "create", resource: "jobs", p99Ms: 300, count: 2 },
    ]);
    expect(output.request).toBe('audit log: p99ByVerbResource where userAgent="ci-runner/" over the last 60m (top 10)');
  });

  it("filters by the exact user name, but not by a prefix of it", async () => {
    const source = await sourceOf(busyHour());
    const exact = await source.query(query({ aggregate: "topUserAgents", userAgent: "alice@example.com" }), signal(), NOW);
    expect(exact.data.rows).toEqual([{ userAgent: KUBECTL_AGENT, user: "alice@example.com", count: 3 }]);
    const prefix = await source.query(query({ aggregate: "topUserAgents", userAgent: "system:serviceaccount:ci" }), signal(), NOW);
    expect(prefix.data.rows).toEqual([]);
  });
});

describe("AuditLogSource reading", () => {
  it("skips and counts lines that are not audit events, and still reads the rest", async () => {
    const lines = [
      ...request({ minutesAgo: 2, verb: "list", resource: "jobs", userAgent: CI_AGENT, username: CI_USER, latencyMs: 100 }),
      "I1115 09:58:00.000000       1 audit.go:42] not JSON at all",
      '{"kind":"Event","apiVersion":"audit.k8s.io/v1","stage":"ResponseCompl', // cut off mid-write
      "null",
      "42",
      '"ResponseComplete"',
      "[1,2]",
      "",
      "   ",
      ...request({ minutesAgo: 1, verb: "list", resource: "jobs", userAgent: CI_AGENT, username: CI_USER, latencyMs: 100 }),
    ];
    const source = await sourceOf(lines);
    const output = await source.query(query({ aggregate: "topUserAgents" }), signal(), NOW);
    expect(output.data).toMatchObject({ rows: [{ userAgent: CI_AGENT, user: CI_USER, count: 2 }], unreadable: 6 });
    expect(output.summary).toBe("2 requests in the window, 1 rows (6 unreadable lines skipped)");
  });

  it("reads a log with Windows line endings", async () => {
    const path = join(dir, "crlf.log");
    await writeFile(path, `${busyHour().join("\r\n")}\r\n`);
    const output = await new AuditLogSource({ path }).query(query({ aggregate: "topUserAgents" }), signal(), NOW);
    expect(output.data).toMatchObject({ events: 15, unreadable: 0 });
  });

  it("reads a log larger than the cap from its end, starting at a whole line", async () => {
    const old = many(400, { verb: "get", resource: "pods", userAgent: KUBECTL_AGENT, username: "alice@example.com", latencyMs: 5 });
    const recent = many(10, { verb: "list", resource: "jobs", userAgent: CI_AGENT, username: CI_USER, latencyMs: 9000 });
    const text = `${[...old, ...recent].join("\n")}\n`;
    const recentBytes = Buffer.byteLength(`${recent.join("\n")}\n`);
    // The cap falls in the middle of the last old line, so a partial line is read first and must be dropped.
    const source = await sourceOf([...old, ...recent], recentBytes + 100);
    expect(Buffer.byteLength(text)).toBeGreaterThan(recentBytes + 100);
    const output = await source.query(query({ aggregate: "topUserAgents" }), signal(), NOW);
    expect(output.data).toMatchObject({ rows: [{ userAgent: CI_AGENT, user: CI_USER, count: 10 }], unreadable: 0, truncated: true });
    expect(output.summary).toContain("only the newest");
  });

  it("keeps the first line whole when the cap falls exactly on a line boundary", async () => {
    const old = many(50, { verb: "get", resource: "pods", userAgent: KUBECTL_AGENT, username: "alice@example.com", latencyMs: 5 });
    const recent = many(3, { verb: "list", resource: "jobs", userAgent: CI_AGENT, username: CI_USER, latencyMs: 9000 });
    const recentBytes = Buffer.byteLength(`${recent.join("\n")}\n`);
    const source = await sourceOf([...old, ...recent], recentBytes);
    const output = await source.query(query({ aggregate: "topUserAgents" }), signal(), NOW);
    // Exactly the three recent requests (six lines): none lost at the cut, no partial line read.
    expect(output.data).toMatchObject({ rows: [{ userAgent: CI_AGENT, user: CI_USER, count: 3 }], unreadable: 0, truncated: true });
  });

  it("reads nothing rather than a fragment when the cap is smaller than the last line", async () => {
    const source = await sourceOf(busyHour(), 64);
    const output = await source.query(query({ aggregate: "topUserAgents" }), signal(), NOW);
    expect(output.data).toMatchObject({ rows: [], events: 0, unreadable: 0, truncated: true });
  });

  it("reads 32 MiB by default", () => {
    expect(MAX_AUDIT_BYTES).toBe(32 * 1024 * 1024);
  });

  it("names the file and the reason when it cannot be opened", async () => {
    const source = new AuditLogSource({ path: join(dir, "missing.log") });
    const error: unknown = await source.query(query({ aggregate: "topUserAgents" }), signal(), NOW).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SourceError);
    expect((error as Error).message).toBe(`the audit log ${join(dir, "missing.log")} could not be opened: ENOENT`);
  });
});

describe("AuditLogSource from a URL", () => {
  let server: Server | undefined;
  let requests: IncomingMessage[] = [];

  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
    requests = [];
  });

  /** Serves `body` at /audit.log; with `ranges`, answers a suffix Range request with 206 as a file server does. */
  async function serve(body: string | ((req: IncomingMessage, res: ServerResponse) => void), ranges = false): Promise<string> {
    server = createServer((req, res) => {
      requests.push(req);
      if (typeof body === "function") return body(req, res);
      if (req.url !== "/audit.log") {
        res.writeHead(404, { "Content-Type": "text/plain" }).end("not found");
        return;
      }
      const bytes = Buffer.from(body);
      const suffix = /^bytes=-(\d+)$/.exec(req.headers.range ?? "");
      if (ranges && suffix) {
        if (bytes.length === 0) {
          res.writeHead(416, { "Content-Range": "bytes */0" }).end();
          return;
        }
        const start = Math.max(0, bytes.length - Number(suffix[1]));
        res.writeHead(206, {
          "Content-Type": "text/plain",
          "Content-Range": `bytes ${start}-${bytes.length - 1}/${bytes.length}`,
        });
        res.end(bytes.subarray(start));
        return;
      }
      res.writeHead(200, { "Content-Type": "text/plain" });
      res.end(bytes);
    });
    await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/audit.log`;
  }

  it("reads and aggregates the log served at the URL", async () => {
    const url = await serve(`${busyHour().join("\n")}\n`);
    const output = await new AuditLogSource({ url }).query(query({ aggregate: "latencyByUserAgent", limit: 1 }), signal(), NOW);
    expect(output.data.rows).toEqual([{ userAgent: CI_AGENT, user: CI_USER, avgMs: 6825, count: 8 }]);
    expect(requests[0]?.headers.range).toBe(`bytes=-${MAX_AUDIT_BYTES + 1}`);
  });

  it("asks for the tail only, and reads a 206 from a whole line", async () => {
    const old = many(200, { verb: "get", resource: "pods", userAgent: KUBECTL_AGENT, username: "alice@example.com", latencyMs: 5 });
    const recent = many(4, { verb: "list", resource: "jobs", userAgent: CI_AGENT, username: CI_USER, latencyMs: 9000 });
    const url = await serve(`${[...old, ...recent].join("\n")}\n`, true);
    const cap = Buffer.byteLength(`${recent.join("\n")}\n`) + 10;
    const output = await new AuditLogSource({ url }, { maxBytes: cap }).query(query({ aggregate: "topUserAgents" }), signal(), NOW);
    expect(requests[0]?.headers.range).toBe(`bytes=-${cap + 1}`);
    expect(output.data).toMatchObject({ rows: [{ userAgent: CI_AGENT, user: CI_USER, count: 4 }], unreadable: 0, truncated: true });
  });

  it("reads the whole log from a 206 that starts at byte 0", async () => {
    const url = await serve(`${busyHour().join("\n")}\n`, true);
    const output = await new AuditLogSource({ url }).query(query({ aggregate: "topUserAgents" }), signal(), NOW);
    expect(output.data).toMatchObject({ events: 15, unreadable: 0, truncated: false });
  });

  it("keeps only the tail of a server that ignores Range and sends more than the cap, skipping the rest as it streams", async () => {
    const old = many(300, { verb: "get", resource: "pods", userAgent: KUBECTL_AGENT, username: "alice@example.com", latencyMs: 5 });
    const recent = many(4, { verb: "list", resource: "jobs", userAgent: CI_AGENT, username: CI_USER, latencyMs: 9000 });
    const bytes = Buffer.from(`${[...old, ...recent].join("\n")}\n`);
    // As a static file server without Range support answers: 200, the whole file, its length.
    const url = await serve((_req, res) => res.writeHead(200, { "Content-Length": String(bytes.length) }).end(bytes));
    const cap = Buffer.byteLength(`${recent.join("\n")}\n`) + 10;
    const output = await new AuditLogSource({ url }, { maxBytes: cap }).query(query({ aggregate: "topUserAgents" }), signal(), NOW);
    expect(output.data).toMatchObject({ rows: [{ userAgent: CI_AGENT, user: CI_USER, count: 4 }], unreadable: 0, truncated: true });
  });

  it("reads all of a log sent without Range support or a length, counting only the window's requests", async () => {
    const older = many(300, { verb: "get", resource: "pods", userAgent: KUBECTL_AGENT, username: "alice@example.com", latencyMs: 5 }).map(
      (line) => line.replace(/"requestReceivedTimestamp":"[^"]+"/, `"requestReceivedTimestamp":"${micros(NOW.getTime() - 5 * HOUR)}"`),
    );
    const recent = many(4, { verb: "list", resource: "jobs", userAgent: CI_AGENT, username: CI_USER, latencyMs: 9000 });
    const url = await serve(`${[...older, ...recent].join("\n")}\n`); // chunked: no Content-Length
    const cap = Buffer.byteLength(`${recent.join("\n")}\n`) + 10;
    const output = await new AuditLogSource({ url }, { maxBytes: cap }).query(query({ aggregate: "topUserAgents" }), signal(), NOW);
    expect(output.data).toMatchObject({ rows: [{ userAgent: CI_AGENT, user: CI_USER, count: 4 }], unreadable: 0, truncated: false });
  });

  it("reads an empty log (416 to a suffix range) as no rows", async () => {
    const url = await serve("", true);
    const output = await new AuditLogSource({ url }).query(query({ aggregate: "topUserAgents" }), signal(), NOW);
    expect(output.data).toMatchObject({ rows: [], events: 0 });
  });

  it("reports the status when the URL answers an error", async () => {
    const url = await serve((_req, res) => res.writeHead(503, { "Content-Type": "text/plain" }).end("unavailable"));
    const error: unknown = await new AuditLogSource({ url })
      .query(query({ aggregate: "topUserAgents" }), signal(), NOW)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SourceError);
    expect((error as Error).message).toBe("the audit log URL answered 503");
  });

  it("names the host when nothing answers", async () => {
    const url = await serve("");
    server?.closeAllConnections();
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    server = undefined;
    const error: unknown = await new AuditLogSource({ url })
      .query(query({ aggregate: "topUserAgents" }), signal(), NOW)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SourceError);
    expect((error as Error).message).toMatch(/^the audit log at 127\.0\.0\.1:\d+ could not be read: /);
  });
});
