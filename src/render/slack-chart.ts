// Which chart the Slack thread shows, as a PNG: the first diagnosed alert's that has one.
import type { Diagnosis } from "../model/diagnosis.ts";
import { renderChartPng } from "./chart.ts";

export async function slackChartImage(diagnosis: Diagnosis): Promise<{ png: Buffer; title: string; altText: string } | undefined> {
  const alert = diagnosis.alerts.find((a) => a.chart !== undefined);
  if (alert?.chart === undefined) return undefined;
  const name = alert.alert.labels.alertname ?? "alert";
  return { png: renderChartPng(alert.chart), title: `${name}: the last hour`, altText: `${alert.chart.query} over the last hour` };
}
