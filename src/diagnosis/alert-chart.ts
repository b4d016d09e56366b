// The last hour of an alert's own expression from Prometheus, for its chart (what to chart: alert-chart-query.ts).
// The query is bounded like any other: a range of at most 6 h, at most 360 points a series, 200 series, 2 MiB.
import { evaluationTime } from "../engine/expressions.ts";
import type { Alert } from "../model/alertmanager.ts";
import type { PromQuery } from "../sources/prometheus.ts";
import type { AlertChart, ChartComparison } from "../model/diagnosis.ts";
import type { SourceOutput } from "../sources/source.ts";
import { knownRuleChartQuery } from "./alert-chart-query.ts";
import type { KnownAlertRules } from "./alert-rules.ts";

export interface FetchAlertChartOptions {
  /** The rules whose expressions may be charted; an alert whose generatorURL carries anything else gets no chart. */
  rules: KnownAlertRules;
  /** Cancels the query (the playbook's deadline, a shutdown). */
  signal?: AbortSignal;
  /** Gives up on Prometheus after this long; 5 s unless told. */
  timeoutMs?: number;
  /** The window, ending now; 1 h unless told. */
  rangeMs?: number;
  /** 1 m unless told. */
  stepMs?: number;
  /** Series kept; 10 unless told. */
  maxSeries?: number;
  /** Told why no chart came back, for a log line: a chart is a nicety and never fails a diagnosis. */
  onError?: (error: Error) => void;
  /** Told why no query was made at all (no known rule, an expression that is not the rule's). */
  onSkip?: (reason: string) => void;
}

/** The longest window a chart covers, whatever the caller asks. */
export const MAX_CHART_RANGE_MS = 6 * 60 * 60_000;
/** The most points a charted series has: the step grows with the window. */
export const MAX_CHART_POINTS = 360;
/** The most series read for a chart (of which `maxSeries` are kept); more and there is no chart. */
export const MAX_CHART_SERIES_READ = 200;
/** The most of Prometheus' answer read for a chart. */
export const MAX_CHART_BYTES = 2 * 1024 * 1024;

/** The part of PrometheusSource the chart needs. */
export interface ChartPrometheus {
  query(request: PromQuery, signal: AbortSignal): Promise<SourceOutput>;
}

interface RawSeries {
  labels: Record<string, string>;
  points: Array<{ t: string; v: number }>;
}

function readSeries(output: SourceOutput): RawSeries[] {
  const raw = output.data.series;
  if (!Array.isArray(raw)) return [];
  const series: RawSeries[] = [];
  for (const item of raw as unknown[]) {
    if (typeof item !== "object" || item === null) continue;
    const { labels, points } = item as { labels?: unknown; points?: unknown };
    if (!Array.isArray(points)) continue;
    const clean = (points as unknown[])
      .map((p) => p as { t?: unknown; v?: unknown })
      .filter((p): p is { t: string; v: number } => typeof p.t === "string" && typeof p.v === "number" && Number.isFinite(p.v))
      .map((p) => ({ t: p.t, v: p.v }));
    if (clean.length === 0) continue;
    const labelMap: Record<string, string> = {};
    if (typeof labels === "object" && labels !== null) {
      for (const [name, value] of Object.entries(labels)) if (typeof value === "string") labelMap[name] = value;
    }
    series.push({ labels: labelMap, points: clean });
  }
  return series;
}

/** True when every label the series and the alert share has the same value: the series the alert fired for. */
function isAlertsOwn(series: RawSeries, alert: Alert): boolean {
  const shared = Object.keys(series.labels).filter((name) => alert.labels[name] !== undefined);
  return shared.length > 0 && shared.every((name) => series.labels[name] === alert.labels[name]);
}

/**
 * The series worth showing: the alert's own first, then the ones furthest into alerting territory (the highest, or the
 * lowest for `<` and `<=`).
 */
function boundSeries(series: RawSeries[], alert: Alert, comparison: ChartComparison | undefined, max: number): RawSeries[] {
  const lowIsBad = comparison === "<" || comparison === "<=";
  const score = (s: RawSeries): number => {
    const values = s.points.map((p) => p.v);
    return lowIsBad ? -Math.min(...values) : Math.max(...values);
  };
  return series
    .map((s) => ({ s, own: isAlertsOwn(s, alert), score: score(s) }))
    .sort((a, b) => Number(b.own) - Number(a.own) || b.score - a.score)
    .slice(0, max)
    .map(({ s }) => s);
}

/**
 * Runs the left side of the alert's own rule as a range query (1 h, 1 m step) and keeps at most 10 series. No chart
 * (and no query) when the generatorURL's expression is not a known rule's, or cannot be charted; no chart when
 * Prometheus fails, answers too much or nothing: the diagnosis goes out without one.
 */
export async function fetchAlertChart(
  alert: Alert,
  prometheus: ChartPrometheus,
  options: FetchAlertChartOptions,
): Promise<AlertChart | undefined> {
  const plan = knownRuleChartQuery(alert, options.rules);
  if ("skipped" in plan) {
    options.onSkip?.(plan.skipped);
    return undefined;
  }
  const parsed = plan.chart;
  const rangeMs = Math.min(Math.max(60_000, options.rangeMs ?? 60 * 60_000), MAX_CHART_RANGE_MS);
  const stepMs = Math.max(options.stepMs ?? 60_000, 15_000, Math.ceil(rangeMs / MAX_CHART_POINTS));
  const timeout = AbortSignal.timeout(options.timeoutMs ?? 5000);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  // The run's evaluation time: now, or the moment `enricher diagnose --at` replays.
  const to = new Date(evaluationTime());
  let output: SourceOutput;
  try {
    output = await prometheus.query(
      { query: parsed.query, rangeMs, stepMs, maxSeries: MAX_CHART_SERIES_READ, maxBytes: MAX_CHART_BYTES },
      signal,
    );
  } catch (error) {
    options.onError?.(error instanceof Error ? error : new Error(String(error)));
    return undefined;
  }
  const series = boundSeries(readSeries(output), alert, parsed.comparison, options.maxSeries ?? 10);
  if (series.length === 0) return undefined;
  return {
    ...parsed,
    startsAt: alert.startsAt,
    from: new Date(to.getTime() - rangeMs).toISOString(),
    to: to.toISOString(),
    series,
  };
}
