// A stand-in for one Kubernetes component's /metrics endpoint, in the Prometheus text format (0.0.4), that the real
// Prometheus scrapes in end-to-end tests. Its state switches between healthy and broken at any time; counters keep
// growing with the wall clock in both states (as a real process's do), only their rates change, and gauges that
// count down to a certificate's expiry count down in real time. Metric names, types and labels follow
// protocols.md 5.1 and 5.3.
//
//   client-go  a client-go binary (say Argo CD's application controller): rest_client_requests_total{code,host,method}.
//              Broken: its credentials are revoked, so part of its requests are answered 401 while the rest still get
//              200/201 (the same client's other calls, made before the token is re-read or to other endpoints).
//   apiserver  a kube-apiserver: the apiserver_client_certificate_expiration_seconds histogram, observed for every
//              request that presents a client certificate. Broken: one client's certificate expires in under an hour,
//              so its requests land in the le="3600" bucket.
//   kubelet    a kubelet: kubelet_certificate_manager_client_ttl_seconds (gauge), kubelet_node_name{node} and
//              kubelet_certificate_manager_client_expiration_renew_errors. Broken: its client certificate expires in
//              under an hour and renewal keeps failing (one failed attempt at once, then one about every 10 s).
import { listenOnLoopback } from "../../testkit/loopback-server.ts";

export type ExporterComponent = "client-go" | "apiserver" | "kubelet";
export type ExporterState = "healthy" | "broken";

export interface MetricsExporterOptions {
  component: ExporterComponent;
  /** Default healthy. */
  state?: ExporterState;
  /** kubelet: the node name in kubelet_node_name. Default worker-1. */
  node?: string;
  /** client-go: the API server address in the `host` label. Default 10.96.0.1:443 (the in-cluster service). */
  apiHost?: string;
  /**
   * apiserver and kubelet: how long the short-lived certificate has left when the exporter breaks, in seconds.
   * Default 3000 (50 minutes: inside the le="3600" bucket).
   */
  expiresInSeconds?: number;
  /** The clock in seconds; defaults to the real one. */
  now?: () => number;
}

export interface MetricsExporter {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  /** `127.0.0.1:<port>`: the scrape target. */
  address: string;
  metricsPath: "/metrics";
  component: ExporterComponent;
  readonly state: ExporterState;
  /** How many times /metrics was read. */
  readonly scrapes: number;
  setBroken(): void;
  setHealthy(): void;
  /** What a scrape returns now (it advances the counters to now, as a scrape does). */
  render(): string;
  close(): Promise<void>;
}

/** Requests per second of one client-go request series, in each state. */
export interface RequestRate {
  code: string;
  method: string;
  perSecond: Record<ExporterState, number>;
}

/** The client-go exporter's request rates: about 14 requests/s in both states; broken, 4.5/s of them are 401. */
export const CLIENT_GO_REQUEST_RATES: readonly RequestRate[] = [
  { code: "200", method: "GET", perSecond: { healthy: 12, broken: 8 } },
  { code: "200", method: "PATCH", perSecond: { healthy: 1.5, broken: 1 } },
  { code: "201", method: "POST", perSecond: { healthy: 0.4, broken: 0.4 } },
  // Existence checks by a controller: a few 404s in both states, far under the rules' 1% threshold.
  { code: "404", method: "GET", perSecond: { healthy: 0.05, broken: 0.05 } },
  { code: "401", method: "GET", perSecond: { healthy: 0, broken: 4 } },
  { code: "401", method: "PATCH", perSecond: { healthy: 0, broken: 0.5 } },
];

/** The share of the client-go exporter's requests answered `code` in `state`. */
export function clientGoShare(code: string, state: ExporterState): number {
  const total = CLIENT_GO_REQUEST_RATES.reduce((sum, r) => sum + r.perSecond[state], 0);
  const matching = CLIENT_GO_REQUEST_RATES.filter((r) => r.code === code).reduce((sum, r) => sum + r.perSecond[state], 0);
  return matching / total;
}

/** apiserver_client_certificate_expiration_seconds buckets (protocols.md 5.3). */
export const CERT_EXPIRY_BUCKETS = [
  0, 1800, 3600, 7200, 21600, 43200, 86400, 172800, 345600, 604800, 2592000, 7776000, 15552000, 31104000,
] as const;

/** Requests per second presenting a client certificate: the long-lived ones, and the one client that may expire soon. */
export const APISERVER_CERT_REQUESTS = { longLived: 25, shortLived: 3 } as const;

const DAY = 86400;
/** Long-lived certificates (kubeadm's one-year ones, renewed kubelet ones) have about 300 days left. */
const LONG_LIVED_SECONDS = 300 * DAY;

type Labels = Record<string, string>;

function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function formatLabels(labels: Labels): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return "";
  return `{${entries.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(",")}}`;
}

function formatValue(value: number): string {
  if (value === Number.POSITIVE_INFINITY) return "+Inf";
  if (value === Number.NEGATIVE_INFINITY) return "-Inf";
  if (Number.isNaN(value)) return "NaN";
  return String(value);
}

class Counter {
  readonly labels: Labels;
  readonly perSecond: Record<ExporterState, number>;
  value: number;
  constructor(labels: Labels, perSecond: Record<ExporterState, number>, start = 0) {
    this.labels = labels;
    this.perSecond = perSecond;
    this.value = start;
  }
  advance(seconds: number, state: ExporterState): void {
    this.value += this.perSecond[state] * seconds;
  }
}

/** Cumulative buckets that take many observations of one value at once. */
class Histogram {
  readonly bounds: readonly number[];
  readonly buckets: number[];
  sum = 0;
  constructor(bounds: readonly number[]) {
    this.bounds = bounds;
    this.buckets = [...bounds.map(() => 0), 0];
  }
  observe(value: number, count: number): void {
    if (count <= 0) return;
    this.bounds.forEach((le, i) => {
      if (value <= le) this.buckets[i] = (this.buckets[i] ?? 0) + count;
    });
    this.buckets[this.bounds.length] = (this.buckets[this.bounds.length] ?? 0) + count;
    this.sum += value * count;
  }
  lines(name: string, labels: Labels = {}): string[] {
    // Counts are whole numbers, as a real histogram's are; flooring keeps the buckets cumulative.
    const lines = this.bounds.map(
      (le, i) => `${name}_bucket${formatLabels({ ...labels, le: String(le) })} ${Math.floor(this.buckets[i] ?? 0)}`,
    );
    const count = Math.floor(this.buckets[this.bounds.length] ?? 0);
    lines.push(`${name}_bucket${formatLabels({ ...labels, le: "+Inf" })} ${count}`);
    lines.push(`${name}_sum${formatLabels(labels)} ${formatValue(Math.round(this.sum))}`);
    lines.push(`${name}_count${formatLabels(labels)} ${count}`);
    return lines;
  }
}

interface Component {
  /** Moves the metrics from `from` to `to` (seconds) in `state`. */
  advance(from: number, to: number, state: ExporterState): void;
  /** Called when the state changes, after advancing to `now`. */
  switched(now: number, state: ExporterState): void;
  render(now: number, state: ExporterState): string[];
}

function header(name: string, type: "counter" | "gauge" | "histogram", help: string): string[] {
  return [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`];
}

function clientGo(options: MetricsExporterOptions): Component {
  const host = options.apiHost ?? "10.96.0.1:443";
  // The process has been up for a while: its healthy counters start well above zero.
  const counters = CLIENT_GO_REQUEST_RATES.map(
    (r) => new Counter({ code: r.code, host, method: r.method }, r.perSecond, r.perSecond.healthy * 3600),
  );
  return {
    advance(from, to, state) {
      for (const c of counters) c.advance(to - from, state);
    },
    switched() {},
    render() {
      return [
        ...header(
          "rest_client_requests_total",
          "counter",
          "[ALPHA] Number of HTTP requests, partitioned by status code, method, and host.",
        ),
        ...counters.map((c) => `rest_client_requests_total${formatLabels(c.labels)} ${Math.floor(c.value)}`),
      ];
    },
  };
}

function apiserver(options: MetricsExporterOptions, now: number, state: ExporterState): Component {
  const histogram = new Histogram(CERT_EXPIRY_BUCKETS);
  const shortLifetime = options.expiresInSeconds ?? 3000;
  // When the short-lived client's certificate expires (an absolute time), or undefined while it holds a renewed one.
  let expiresAt: number | undefined = state === "broken" ? now + shortLifetime : undefined;
  const longLivedUntil = now + LONG_LIVED_SECONDS;
  return {
    advance(from, to) {
      const seconds = to - from;
      histogram.observe(longLivedUntil - to, APISERVER_CERT_REQUESTS.longLived * seconds);
      histogram.observe((expiresAt ?? longLivedUntil + DAY) - to, APISERVER_CERT_REQUESTS.shortLived * seconds);
    },
    switched(at, next) {
      expiresAt = next === "broken" ? at + shortLifetime : undefined;
    },
    render() {
      return [
        ...header(
          "apiserver_client_certificate_expiration_seconds",
          "histogram",
          "[ALPHA] Distribution of the remaining lifetime on the certificate used to authenticate a request.",
        ),
        ...histogram.lines("apiserver_client_certificate_expiration_seconds"),
      ];
    },
  };
}

function kubelet(options: MetricsExporterOptions, now: number, state: ExporterState): Component {
  const node = options.node ?? "worker-1";
  const shortLifetime = options.expiresInSeconds ?? 3000;
  let expiresAt = state === "broken" ? now + shortLifetime : now + LONG_LIVED_SECONDS;
  // The certificate manager retries a failed renewal with backoff: one more error about every 10 s.
  const renewErrors = new Counter({}, { healthy: 0, broken: 0.1 }, state === "broken" ? 1 : 0);
  return {
    advance(from, to, s) {
      renewErrors.advance(to - from, s);
    },
    switched(at, next) {
      expiresAt = next === "broken" ? at + shortLifetime : at + LONG_LIVED_SECONDS;
      // The renewal attempt that just failed is why the certificate is this close to expiry.
      if (next === "broken") renewErrors.value += 1;
    },
    render(at) {
      return [
        ...header(
          "kubelet_certificate_manager_client_ttl_seconds",
          "gauge",
          "[ALPHA] Gauge of the TTL (time-to-live) of the Kubelet's client certificate. The value is in seconds until certificate expiry (negative if already expired). If client certificate is invalid or unused, the value will be +INF.",
        ),
        `kubelet_certificate_manager_client_ttl_seconds ${formatValue(Math.round(expiresAt - at))}`,
        ...header(
          "kubelet_certificate_manager_client_expiration_renew_errors",
          "counter",
          "[ALPHA] Counter of certificate renewal errors.",
        ),
        `kubelet_certificate_manager_client_expiration_renew_errors ${Math.floor(renewErrors.value)}`,
        ...header("kubelet_node_name", "gauge", "[ALPHA] The node's name. The count is always 1."),
        `kubelet_node_name${formatLabels({ node })} 1`,
      ];
    },
  };
}

/** Serves one component's /metrics on 127.0.0.1 on a free port. */
export async function startMetricsExporter(options: MetricsExporterOptions): Promise<MetricsExporter> {
  const clock = options.now ?? (() => Date.now() / 1000);
  let state: ExporterState = options.state ?? "healthy";
  let last = clock();
  let scrapes = 0;
  const component =
    options.component === "client-go"
      ? clientGo(options)
      : options.component === "apiserver"
        ? apiserver(options, last, state)
        : kubelet(options, last, state);

  const advance = () => {
    const now = Math.max(clock(), last);
    component.advance(last, now, state);
    last = now;
    return now;
  };
  const render = () => {
    const now = advance();
    return [...component.render(now, state), ""].join("\n");
  };
  const switchTo = (next: ExporterState) => {
    if (next === state) return;
    const now = advance();
    state = next;
    component.switched(now, next);
  };

  const server = await listenOnLoopback((request, response) => {
    const path = new URL(request.url ?? "/", "http://exporter").pathname;
    if (request.method !== "GET" || path !== "/metrics") {
      response.writeHead(404, { "Content-Type": "text/plain" });
      response.end("404 page not found\n");
      return;
    }
    scrapes += 1;
    response.writeHead(200, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" });
    response.end(render());
  });

  return {
    url: server.url,
    address: server.url.replace(/^http:\/\//, ""),
    metricsPath: "/metrics",
    component: options.component,
    get state() {
      return state;
    },
    get scrapes() {
      return scrapes;
    },
    setBroken: () => switchTo("broken"),
    setHealthy: () => switchTo("healthy"),
    render,
    close: () => server.close(),
  };
}
