// Asks Prometheus whether it has series of each metric family the playbooks query, through the label values API
// (GET /api/v1/label/__name__/values, narrowed with match[] to those names and to the last hour): one request, and a
// metric that stopped being scraped a week ago counts as missing. A missing family is a warning, not a failure: a
// cluster may lack the component (no metrics-server, no kubelet scrape), and the steps that need it say so.
import { readFile } from "node:fs/promises";
import type { PrometheusAccess } from "../sources/clusters-file.ts";
import { type CheckLine, listSome } from "./check-line.ts";
import { type MetricNeed, metricNames, starvedSteps } from "./metric-families.ts";

export interface PrometheusCheckOptions {
  /** "prometheus" or "prometheus (prod-eu)". */
  label: string;
  userAgent: string;
  timeoutMs: number;
  /** Where the URL is configured, for the fix: "PROMETHEUS_URL", "CLUSTERS_FILE cluster \"prod-eu\"". */
  configuredBy: string;
  now?: Date;
}

const LOOKBACK_SECONDS = 3600;

async function headersFor(access: PrometheusAccess, userAgent: string): Promise<Record<string, string>> {
  const headers: Record<string, string> = { ...access.headers, "User-Agent": userAgent, Accept: "application/json" };
  const token = access.bearerTokenFile !== undefined ? (await readFile(access.bearerTokenFile, "utf8")).trim() : access.bearerToken;
  if (token) headers.Authorization = `Bearer ${token}`;
  return headers;
}

/** The host only: a URL may carry a password in its user part. */
function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return "(invalid URL)";
  }
}

export async function checkPrometheus(
  access: PrometheusAccess,
  needs: MetricNeed[],
  options: PrometheusCheckOptions,
): Promise<CheckLine[]> {
  const host = hostOf(access.url);
  const fail = (detail: string): CheckLine[] => [{ status: "FAIL", check: options.label, detail }];
  const names = metricNames(needs);
  const now = (options.now ?? new Date()).getTime() / 1000;
  const params = new URLSearchParams({ start: String(now - LOOKBACK_SECONDS), end: String(now) });
  if (names.length > 0) params.set("match[]", `{__name__=~"${names.join("|")}"}`);
  let response: Response;
  try {
    response = await fetch(`${access.url.replace(/\/+$/, "")}/api/v1/label/__name__/values?${params}`, {
      headers: await headersFor(access, options.userAgent),
      signal: AbortSignal.timeout(options.timeoutMs),
      redirect: "error",
    });
  } catch (error) {
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
    const code = (cause as { code?: string }).code ?? (cause instanceof Error ? cause.name : String(cause));
    return fail(`cannot reach Prometheus at ${host} (${code}); check ${options.configuredBy} and that it is reachable from here`);
  }
  if (response.status === 401 || response.status === 403) {
    return fail(`Prometheus at ${host} refused the request (HTTP ${response.status}); check its bearer token in ${options.configuredBy}`);
  }
  let body: { status?: string; data?: unknown; error?: string };
  try {
    body = (await response.json()) as typeof body;
  } catch {
    return fail(
      `${host} answered HTTP ${response.status} without JSON: is ${options.configuredBy} the Prometheus HTTP API (no /graph path)?`,
    );
  }
  if (body.status !== "success" || !Array.isArray(body.data)) {
    return fail(`Prometheus at ${host} answered HTTP ${response.status}${body.error ? `: ${body.error}` : ""}`);
  }
  const present = new Set(body.data.filter((n): n is string => typeof n === "string"));
  const missing = starvedSteps(needs, present);
  if (missing.size === 0) {
    return [
      {
        status: "ok",
        check: options.label,
        detail: `${host}: all ${names.length} metric families the playbooks query have series in the last hour`,
      },
    ];
  }
  return [...missing].map(([name, steps]) => ({
    status: "warn",
    check: options.label,
    detail: `${host}: no series of ${name} in the last hour, which starves ${listSome(steps)}; if the cluster runs the component that exports it, check that Prometheus scrapes it`,
  }));
}
