// Which chart the Slack thread shows, as a PNG: the first diagnosed alert's that has one.
import type { Diagnosis } from "../model/diagnosis.ts";

export async function slackChartImage(diagnosis: Diagnosis): Promise<{ png: Buffer; title: string; altText: string } | undefined> {
  const alert = diagnosis.alerts.find((a) => a.chart !== undefined);
  if (alert?.chart === undefined) return undefined;
  const name = alert.alert.labels.alertname ?? "alert";
  // The chart renderer is loaded with the first chart: a service whose alerts never have one never loads it.
  const { renderChartPng } = await import("./chart.ts");
  return { png: renderChartPng(alert.chart), title: `${name}: the last hour`, altText: `${alert.chart.query} over the last hour` };
}
