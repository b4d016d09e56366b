// PromQL instant and range queries against the Prometheus HTTP API (/api/v1/query, /api/v1/query_range).
import { readFile } from "node:fs/promises";
import axios, { type AxiosInstance, isAxiosError } from "axios";
import { SourceError, type SourceOutput } from "./source.ts";

export interface PromQuery {
  query: string;
  /** Range window in ms ending at `now`; instant query when absent. */
  rangeMs?: number;
  stepMs?: number;
  /** The most bytes of Prometheus' answer read; past it the read stops and fails. 16 MiB unless told. */
  maxBytes?: number;
  /** The most series kept; more fail the query rather than being cut, so no series is silently missing. */
  maxSeries?: number;
  /** Evaluate at this time (ms since the epoch) instead of now: an instant query's `time`, a range query's end. */
  at?: number;
}

/** The most of an answer read when a query names no bound of its own. */
export const MAX_PROMETHEUS_BYTES = 16 * 1024 * 1024;

export interface PrometheusSample {
  labels: Record<string, string>;
  value: number;
}

export interface PrometheusPoint {
  t: string;
  v: number;
}

export interface PrometheusRangeSeries {
  labels: Record<string, string>;
  points: PrometheusPoint[];
  min: number;
  max: number;
  avg: number;
  last: number;
}

interface PromEnvelope {
  status: "success" | "error";
  data?: { resultType: "vector" | "matrix" | "scalar" | "string"; result: unknown };
  errorType?: string;
  error?: string;
}

type VectorResult = Array<{ metric: Record<string, string>; value: [number, string] }>;
type MatrixResult = Array<{ metric: Record<string, string>; values: Array<[number, string]> }>;

/** How messages name the read: "a query", "a range query over 30m". */
export function describePromQuery(request: PromQuery): string {
  return request.rangeMs ? `a range query over ${Math.round(request.rangeMs / 60_000)}m` : "a query";
}

export class PrometheusSource {
  private readonly http: AxiosInstance;
  private readonly baseUrl: string;

  private readonly bearerTokenFile: string | undefined;

  /**
   * `headers` go with every query (X-Scope-OrgID for a Mimir/Cortex tenant); `bearerTokenFile` is read again for each
   * query, as Prometheus reads its own credentials_file, so a rotated token is used as soon as it is written.
   */
  constructor(options: {
    url: string;
    bearerToken?: string;
    bearerTokenFile?: string;
    headers?: Record<string, string>;
    userAgent: string;
  }) {
    this.baseUrl = options.url.replace(/\/+$/, "");
    const headers: Record<string, string> = { ...options.headers, "User-Agent": options.userAgent, Accept: "application/json" };
    if (options.bearerToken) headers.Authorization = `Bearer ${options.bearerToken}`;
    this.bearerTokenFile = options.bearerTokenFile;
    this.http = axios.create({ baseURL: this.baseUrl, headers, validateStatus: () => true, maxContentLength: MAX_PROMETHEUS_BYTES });
  }

  async query(request: PromQuery, signal: AbortSignal, now = new Date()): Promise<SourceOutput> {
    const nowSeconds = (request.at ?? now.getTime()) / 1000;
    const isRange = request.rangeMs !== undefined;
    const stepSeconds = Math.max(1, Math.round((request.stepMs ?? 60_000) / 1000));
    const params = new URLSearchParams({ query: request.query });
    if (isRange) {
      params.set("start", String(nowSeconds - (request.rangeMs ?? 0) / 1000));
      params.set("end", String(nowSeconds));
      params.set("step", String(stepSeconds));
    } else {
      params.set("time", String(nowSeconds));
    }
    const path = isRange ? "/api/v1/query_range" : "/api/v1/query";
    let envelope: PromEnvelope;
    let status: number;
    const maxBytes = request.maxBytes ?? MAX_PROMETHEUS_BYTES;
    try {
      // axios counts the bytes as they arrive and stops reading past maxContentLength: a huge answer is never held whole.
      const response = await this.http.post<PromEnvelope>(path, params.toString(), {
        signal,
        headers: { "Content-Type": "application/x-www-form-urlencoded", ...(await this.tokenFileAuthorization()) },
        maxContentLength: maxBytes,
      });
      envelope = response.data;
      status = response.status;
    } catch (error) {
      if (signal.aborted) throw error;
      // The query asked for too much (its own fault), not Prometheus failing: it does not count towards the breaker.
      if (error instanceof SourceError) throw error;
      if (isAxiosError(error) && /maxContentLength/.test(error.message)) {
        throw new SourceError(`Prometheus answered more than ${formatBytes(maxBytes)}, the most this query may read`);
      }
      throw new SourceError(
        `Prometheus at ${new URL(this.baseUrl).host} could not be reached: ${isAxiosError(error) ? (error.code ?? error.message) : String(error)}`,
        { backendTrouble: true },
      );
    }
    if (status >= 400 || envelope?.status !== "success" || !envelope.data) {
      const detail = envelope?.error ? `${envelope.errorType ?? "error"}: ${envelope.error}` : `HTTP ${status}`;
      // 4xx is this query's fault (bad_data); 5xx, 503 "too many queries" and 429 are Prometheus in trouble.
      throw new SourceError(`Prometheus rejected the query (${detail})`, { backendTrouble: status === 429 || status >= 500 });
    }
    const requestText = isRange
      ? `${request.query}  [range ${Math.round((request.rangeMs ?? 0) / 60_000)}m, step ${stepSeconds}s]`
      : request.query;
    const { resultType, result } = envelope.data;
    const seriesResult = resultType === "vector" || resultType === "matrix";
    if (request.maxSeries !== undefined && seriesResult && Array.isArray(result) && result.length > request.maxSeries) {
      throw new SourceError(`Prometheus answered ${result.length} series, more than the ${request.maxSeries} this query may keep`);
    }
    if (resultType === "scalar") {
      const [, value] = result as [number, string];
      return { data: { value: Number(value), series: [], count: 0 }, request: requestText, summary: `scalar ${value}` };
    }
    if (resultType === "matrix") {
      const series = (result as MatrixResult).map(toRangeSeries);
      return {
        data: { series, count: series.length },
        request: requestText,
        summary: series.length === 0 ? "no series" : `${series.length} series`,
      };
    }
    const samples = (result as VectorResult).map((r) => ({ labels: r.metric, value: Number(r.value[1]) }));
    return {
      data: { series: samples, count: samples.length, value: samples[0]?.value ?? null },
      request: requestText,
      summary:
        samples.length === 0
          ? "no series"
          : samples.length === 1
            ? `1 series, value ${formatValue(samples[0]?.value)}`
            : `${samples.length} series`,
    };
  }

  private async tokenFileAuthorization(): Promise<Record<string, string>> {
    if (this.bearerTokenFile === undefined) return {};
    let token: string;
    try {
      token = (await readFile(this.bearerTokenFile, "utf8")).trim();
    } catch (error) {
      throw new SourceError(
        `Prometheus bearer token file ${this.bearerTokenFile} could not be read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
      );
    }
    if (token === "") throw new SourceError(`Prometheus bearer token file ${this.bearerTokenFile} is empty`);
    return { Authorization: `Bearer ${token}` };
  }
}

function toRangeSeries(raw: MatrixResult[number]): PrometheusRangeSeries {
  const points = raw.values.map(([t, v]) => ({ t: new Date(t * 1000).toISOString(), v: Number(v) }));
  const values = points.map((p) => p.v).filter((v) => Number.isFinite(v));
  const sum = values.reduce((a, b) => a + b, 0);
  return {
    labels: raw.metric,
    points,
    min: values.length ? Math.min(...values) : 0,
    max: values.length ? Math.max(...values) : 0,
    avg: values.length ? sum / values.length : 0,
    last: values.at(-1) ?? 0,
  };
}

function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${Math.round((bytes / (1024 * 1024)) * 10) / 10} MiB`;
  if (bytes >= 1024) return `${Math.round(bytes / 1024)} KiB`;
  return `${bytes} bytes`;
}

function formatValue(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return String(value);
  return Number(value.toPrecision(4)).toString();
}
