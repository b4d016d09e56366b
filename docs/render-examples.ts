// `npm run docs:examples`: the README's pictures of the real output for the KubeClientErrors demo case: the Slack message (its Block Kit drawn as Slack would, in headless Chromium), the alert chart, and the PagerDuty note.
// Needs Debian's chromium (and, for Slack's look, fonts-lato and fonts-noto-color-emoji); writes docs/slack-message.png, docs/alert-chart.png, docs/pagerduty-note.txt,
// and docs/storm-message.png (a storm of 41 alert groups as its one Slack message).
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { chromium } from "playwright-core";
import { alertChartQuery } from "../src/diagnosis/alert-chart-query.ts";
import { fetchAlertChart } from "../src/diagnosis/alert-chart.ts";
import { KnownAlertRules } from "../src/diagnosis/alert-rules.ts";
import type { AlertChart } from "../src/model/diagnosis.ts";
import { diagnose } from "../src/diagnosis/diagnose.ts";
import { loadPlaybooks } from "../src/engine/load-playbooks.ts";
import type { Alert } from "../src/model/alertmanager.ts";
import type { Diagnosis, GroupVerdict } from "../src/model/diagnosis.ts";
import type { StoredStorm, StormMember } from "../src/model/storm.ts";
import { loadTestFiles, payloadFor, prepareCase } from "../testkit/run-playbook-tests.ts";
import { renderChartPng } from "../src/render/chart.ts";
import { renderSlackMessage, type SlackBlock, type SlackMessage, type SlackTextObject } from "../src/render/slack-blocks.ts";
import { renderSlackStormMessage } from "../src/render/slack-storm.ts";
import { renderText } from "../src/render/text.ts";
import { reportLinkFor } from "../src/server/report-links.ts";
import type { PromQuery } from "../src/sources/prometheus.ts";
import type { SourceOutput } from "../src/sources/source.ts";
import { runLimitsFrom } from "../src/engine/run-limits.ts";

const OUT = new URL("./", import.meta.url);
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
/** What node.md says Chromium needs on these machines: no sandbox as root, and no calls home on a closed network. */
const CHROMIUM_FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/**
 * The KubeClientErrors rule as the kubernetes-mixin wrote it before it gained a job selector, counting 4xx as well as
 * 5xx as the runbook's "over 1% error rate" does, so the demo's 401s are what it sees.
 */
const RULE_EXPR =
  '(sum(rate(rest_client_requests_total{code=~"4..|5.."}[5m])) by (cluster, instance, job, namespace) / sum(rate(rest_client_requests_total[5m])) by (cluster, instance, job, namespace)) > 0.01';

// ---------------------------------------------------------------------------------------------------------------
// The diagnosis: the real playbook against the demo case's cluster.

async function demoDiagnosis(): Promise<{ diagnosis: Diagnosis; alert: Alert }> {
  const playbooks = loadPlaybooks(new URL("../rules", import.meta.url).pathname);
  const tests = loadTestFiles(new URL("../rules/tests", import.meta.url).pathname, playbooks);
  // The file with the demo case: the playbook also has a file of series cases (KubeClientErrors.series.yaml).
  const file = tests.find((t) => t.playbook.alertNames.includes("KubeClientErrors") && t.spec.cases.some((c) => c.demo === true));
  const testCase = file?.spec.cases.find((c) => c.demo === true);
  if (file === undefined || testCase === undefined) throw new Error("rules/tests/KubeClientErrors.yaml has no demo: true case");
  const prepared = await prepareCase(file.playbook, file.spec, testCase, "alert-enricher/docs");
  try {
    const alert: Alert = {
      ...prepared.alert,
      // Fired 14 minutes ago, so the chart shows the hour around it.
      startsAt: new Date(Date.now() - 14 * 60_000).toISOString(),
      generatorURL: `http://prometheus.example.com:9090/graph?g0.expr=${encodeURIComponent(RULE_EXPR)}&g0.tab=1`,
      annotations: {
        summary: "Kubernetes API server client is experiencing errors.",
        description: "Kubernetes API server client 'kube-state-metrics/10.244.1.17:8443' is experiencing 42% errors.",
        runbook_url: "https://github.com/alert-enricher/alert-enricher/blob/main/rules/runbooks/KubeClientErrors.md",
        ...prepared.alert.annotations,
      },
      fingerprint: "8c1f2e6a4d3b5f70",
    };
    const payload = { ...payloadFor(alert), receiver: "slack-platform", externalURL: "http://alertmanager.example.com:9093" };
    const diagnosis = await diagnose("01J9Z6X4T3K8W2", payload, {
      playbooks: [file.playbook],
      sources: prepared.sources,
      limits: runLimitsFrom({ stepTimeoutMs: 5000, playbookDeadlineMs: 20_000 }),
      maxPlaybookRuns: 1,
      publicUrl: "https://alert-enricher.example.com",
    });
    return { diagnosis, alert };
  } finally {
    await prepared.close();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The chart: fetchAlertChart against a Prometheus stand-in answering an hour of the rule's left side.

/** The hour before now at one-minute steps: the failing client jumps to 42% errors when its ServiceAccount goes, the others stay low. */
function chartPrometheus(alert: Alert): { query(request: PromQuery, signal: AbortSignal): Promise<SourceOutput> } {
  const started = Date.parse(alert.startsAt) - 3 * 60_000;
  const now = Math.floor(Date.now() / 60_000) * 60_000;
  const wobble = (i: number, seed: number) => 0.5 + 0.5 * Math.sin(i * 0.7 + seed) * Math.cos(i * 0.23 + seed * 2);
  const clients = [
    {
      job: "kube-state-metrics",
      instance: "10.244.1.17:8443",
      namespace: "monitoring",
      value: (t: number, i: number) => (t >= started ? 0.38 + 0.06 * wobble(i, 1) : 0.002 * wobble(i, 1)),
    },
    {
      job: "cert-manager",
      instance: "10.244.2.9:9402",
      namespace: "cert-manager",
      value: (_t: number, i: number) => 0.004 + 0.004 * wobble(i, 2),
    },
    {
      job: "argocd-application-controller",
      instance: "10.244.3.4:8082",
      namespace: "argocd",
      value: (_t: number, i: number) => 0.012 * wobble(i, 3),
    },
    {
      job: "prometheus-operator",
      instance: "10.244.1.5:8080",
      namespace: "monitoring",
      value: (_t: number, i: number) => 0.001 * wobble(i, 4),
    },
  ];
  return {
    async query(request) {
      const steps = Math.round((request.rangeMs ?? 0) / (request.stepMs ?? 60_000));
      const series = clients.map((c) => ({
        labels: { cluster: "prod", instance: c.instance, job: c.job, namespace: c.namespace },
        points: Array.from({ length: steps + 1 }, (_, i) => {
          const t = now - (steps - i) * (request.stepMs ?? 60_000);
          return { t: new Date(t).toISOString(), v: c.value(t, i) };
        }),
      }));
      return { data: { series, count: series.length }, request: request.query, summary: `${series.length} series` };
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The storm: 41 alert groups of prod-eu as the store keeps them, each with the one-line verdict its playbook gave.

/** The causes as rules/KubernetesApiClientErrors.yaml and rules/shared/client-go-client.yaml name them. */
const API_SERVER_FAILING = { id: "apiserver_side_errors", title: "The API server is failing the requests" };
const RBAC_FORBIDDEN = { id: "authorization_failure", title: "Client not allowed by RBAC (403)" };

/** The clients the API server fails: apps, controllers and operators of a typical production cluster. */
const STORM_CLIENTS = [
  "frontend-api",
  "checkout",
  "cart",
  "payments",
  "orders",
  "inventory",
  "search-api",
  "recommendations",
  "notifications",
  "user-profile",
  "auth-gateway",
  "shipping",
  "pricing",
  "catalog",
  "reviews",
  "cert-manager",
  "cert-manager-cainjector",
  "cert-manager-webhook",
  "argocd-application-controller",
  "argocd-repo-server",
  "argocd-server",
  "external-dns",
  "external-secrets",
  "ingress-nginx-controller",
  "kube-state-metrics",
  "prometheus-operator",
  "grafana-agent",
  "fluent-bit",
  "velero",
  "cluster-autoscaler",
  "metrics-server",
  "keda-operator",
  "istiod",
  "kyverno",
  "sealed-secrets-controller",
  "vpa-recommender",
  "node-problem-detector",
  "loki-distributor",
];
/** Of those, the groups whose alerts have resolved since. */
const STORM_RESOLVED = new Set(["cart", "external-dns"]);
const STORM_OPENED = Date.parse("2026-12-04T09:41:02Z");

/** A notification id as the service makes them (a UUID), fixed per group so the picture only changes when the renderer does. */
function notificationId(job: string): string {
  const hex = createHash("sha256").update(`docs-storm/${job}`).digest("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

function stormMember(job: string, index: number, diagnosed: { cause: { id: string; title: string }; summary: string } | null): StormMember {
  const groupKey = `{}:{alertname="KubeClientErrors", cluster="prod-eu", job="${job}"}`;
  const joined = new Date(STORM_OPENED + index * 2_300).toISOString();
  if (diagnosed === null) return { groupKey, firstReceivedAt: joined, latest: null };
  const verdict: GroupVerdict = { verdict: "cause", cause: { ...diagnosed.cause, summary: diagnosed.summary }, name: job };
  return {
    groupKey,
    firstReceivedAt: joined,
    latest: { notificationId: notificationId(job), receivedAt: joined, firing: !STORM_RESOLVED.has(job), verdict },
  };
}

function demoStorm(): StoredStorm {
  const members = [
    ...STORM_CLIENTS.map((job, i) =>
      stormMember(job, i, {
        cause: API_SERVER_FAILING,
        summary: `The API server is failing the requests of ${job} (31% answered 5xx or not at all).`,
      }),
    ),
    stormMember("report-exporter", STORM_CLIENTS.length, {
      cause: RBAC_FORBIDDEN,
      summary: "RBAC refuses report-exporter: 64% of its requests are answered 403 Forbidden.",
    }),
    stormMember("loki-gateway", STORM_CLIENTS.length + 1, null),
    stormMember("tempo-distributor", STORM_CLIENTS.length + 2, null),
  ];
  return {
    id: "storm-prod-eu-1",
    cluster: "prod-eu",
    openedAt: members[0]!.firstReceivedAt,
    lastSeenAt: members.at(-1)!.firstReceivedAt,
    members,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Block Kit as Slack draws it.

function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** Bold, italic, strike, links and line breaks of one stretch of mrkdwn without code; its &, < and > are already escaped. */
function mrkdwnInline(text: string): string {
  return text
    .replace(/<([^<>|]+)(?:\|([^<>]+))?>/g, (_m, url: string, label: string | undefined) => {
      // <!date^…|fallback>: Slack shows the time in the reader's zone; the fallback is what a picture can show.
      if (url.startsWith("!date^")) return label ?? url;
      const href = url.replace(/"/g, "&quot;");
      return /^(https?:|mailto:)/.test(href) ? `<a href="${href}">${label ?? url}</a>` : escapeHtml(`<${url}${label ? `|${label}` : ""}>`);
    })
    .replace(/(^|[\s(])\*([^*\n]+)\*(?=$|[\s).,:;!?])/g, "$1<b>$2</b>")
    .replace(/(^|[\s(])_([^_\n]+)_(?=$|[\s).,:;!?])/g, "$1<i>$2</i>")
    .replace(/(^|[\s(])~([^~\n]+)~(?=$|[\s).,:;!?])/g, "$1<s>$2</s>")
    .replace(/\n/g, "<br>");
}

/** Slack's mrkdwn to HTML: ```code blocks```, `code`, *bold*, _italic_, ~strike~, <url|text> links, <!date^…|fallback> times. */
function mrkdwnToHtml(text: string): string {
  return text
    .split(/```([\s\S]*?)```/)
    .map((part, i) => {
      if (i % 2 === 1) return `<pre>${part.replace(/^\n/, "")}</pre>`;
      return part
        .split(/`([^`\n]+)`/)
        .map((piece, j) => (j % 2 === 1 ? `<code>${piece}</code>` : mrkdwnInline(piece)))
        .join("");
    })
    .join("");
}

function textHtml(t: SlackTextObject): string {
  return t.type === "mrkdwn" ? mrkdwnToHtml(t.text) : escapeHtml(t.text);
}

function blockHtml(block: SlackBlock): string {
  switch (block.type) {
    case "header":
      return `<div class="header">${escapeHtml(block.text.text)}</div>`;
    case "section": {
      const text = block.text !== undefined ? `<div class="text">${textHtml(block.text)}</div>` : "";
      const fields = block.fields?.length
        ? `<div class="fields">${block.fields.map((f) => `<div>${textHtml(f)}</div>`).join("")}</div>`
        : "";
      return `<div class="section">${text}${fields}</div>`;
    }
    case "context":
      return `<div class="context">${block.elements.map((e) => `<span>${textHtml(e)}</span>`).join("")}</div>`;
    case "divider":
      return `<hr>`;
    case "actions":
      return `<div class="actions">${block.elements.map((b) => `<a class="button" href="${escapeHtml(b.url)}">${escapeHtml(b.text.text)}</a>`).join("")}</div>`;
  }
}

const SLACK_CSS = `
  * { box-sizing: border-box; }
  body { margin: 0; background: #fff; font-family: Lato, "Noto Color Emoji", sans-serif; color: #1d1c1d; -webkit-font-smoothing: antialiased; }
  .channel { width: 760px; padding: 14px 0 10px; }
  .channel-name { font-weight: 900; font-size: 18px; padding: 0 20px 12px; border-bottom: 1px solid #e8e8e8; }
  .message { display: flex; gap: 8px; padding: 10px 20px 8px; }
  .avatar { flex: none; width: 36px; height: 36px; border-radius: 6px; background: #4a154b; color: #fff; font-weight: 900; font-size: 14px;
            display: flex; align-items: center; justify-content: center; margin-top: 3px; }
  .body { flex: 1; min-width: 0; font-size: 15px; line-height: 1.46668; }
  .meta { display: flex; align-items: baseline; gap: 6px; }
  .name { font-weight: 900; }
  .app { font-size: 10px; font-weight: 700; color: #616061; background: rgba(29,28,29,.13); border-radius: 2px; padding: 1px 3px; }
  .time { font-size: 12px; color: #616061; }
  .header { font-size: 18px; font-weight: 900; line-height: 1.33; margin: 6px 0 4px; }
  .section { margin: 4px 0; }
  .text { white-space: normal; word-wrap: break-word; }
  .fields { display: grid; grid-template-columns: 1fr 1fr; gap: 8px 16px; margin-top: 4px; }
  .context { display: flex; flex-wrap: wrap; gap: 4px 12px; font-size: 12px; line-height: 1.5; color: #616061; margin: 4px 0; }
  .context b { color: #1d1c1d; }
  a { color: #1264a3; text-decoration: none; }
  code { font-family: Monaco, Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size: 12px; color: #e01e5a;
         background: rgba(29,28,29,.04); border: 1px solid rgba(29,28,29,.13); border-radius: 3px; padding: 2px 3px 1px; }
  pre { font-family: Monaco, Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size: 12px; line-height: 1.5; margin: 4px 0 0;
        background: rgba(29,28,29,.04); border: 1px solid rgba(29,28,29,.13); border-radius: 4px; padding: 8px; white-space: pre-wrap; word-break: break-all; }
  hr { border: 0; border-top: 1px solid #dddddd; margin: 12px 0; }
  .attachment { display: flex; margin-top: 6px; }
  .bar { flex: none; width: 4px; border-radius: 8px; }
  .attachment-blocks { flex: 1; min-width: 0; padding: 0 0 0 12px; }
  .actions { display: flex; flex-wrap: wrap; gap: 8px; margin: 8px 0 4px; }
  .button { display: inline-flex; align-items: center; height: 28px; padding: 0 12px; border: 1px solid rgba(29,28,29,.3); border-radius: 4px;
            color: #1d1c1d; font-size: 13px; font-weight: 700; background: #fff; }
`;

function slackHtml(message: SlackMessage, createdAt: string): string {
  const time = new Date(createdAt).toLocaleTimeString("en-US", { hour: "numeric", minute: "2-digit", timeZone: "UTC" });
  const [attachment] = message.attachments;
  return `<!doctype html><html><head><meta charset="utf-8"><style>${SLACK_CSS}</style></head><body>
<div class="channel" id="message">
  <div class="channel-name"># platform-alerts</div>
  <div class="message">
    <div class="avatar">AE</div>
    <div class="body">
      <div class="meta"><span class="name">alert-enricher</span><span class="app">APP</span><span class="time">${escapeHtml(time)}</span></div>
      ${message.blocks.map(blockHtml).join("\n")}
      <div class="attachment"><div class="bar" style="background:${escapeHtml(attachment.color)}"></div>
        <div class="attachment-blocks">${attachment.blocks.map(blockHtml).join("\n")}</div></div>
    </div>
  </div>
</div></body></html>`;
}

async function screenshot(html: string, file: URL): Promise<void> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS, headless: true });
  try {
    const page = await browser.newPage({ viewport: { width: 760, height: 400 }, deviceScaleFactor: 2 });
    await page.setContent(html, { waitUntil: "load" });
    // The page's own fonts (Lato, the emoji) must have loaded before the picture is taken.
    await page.evaluate("document.fonts.ready.then(() => undefined)");
    await page.locator("#message").screenshot({ path: file.pathname });
  } finally {
    await browser.close();
  }
}

// ---------------------------------------------------------------------------------------------------------------

const { diagnosis, alert } = await demoDiagnosis();

const parsed = alertChartQuery(alert.generatorURL);
// The demo's rule is the service's own here: a chart is only ever drawn for a rule it knows.
const rules = new KnownAlertRules([{ alert: alert.labels.alertname ?? "KubeClientErrors", expr: RULE_EXPR }]);
const chart: AlertChart | undefined = await fetchAlertChart(alert, chartPrometheus(alert), { rules });
if (parsed === undefined || chart === undefined) throw new Error("the demo alert's expression gave no chart");
const chartFile = new URL("alert-chart.png", OUT);
writeFileSync(chartFile, renderChartPng(chart, { width: 800, height: 400 }));

const message = renderSlackMessage(diagnosis);
const slackFile = new URL("slack-message.png", OUT);
await screenshot(slackHtml(message, diagnosis.createdAt), slackFile);

const storm = demoStorm();
// Signed the way the service signs them, with a secret only this script knows.
const reportLink = reportLinkFor({ publicUrl: "https://enricher.example.com", secret: "docs-example-secret", ttlHours: 72 });
const stormFile = new URL("storm-message.png", OUT);
await screenshot(slackHtml(renderSlackStormMessage(storm, { reportLink }), storm.lastSeenAt), stormFile);

const noteFile = new URL("pagerduty-note.txt", OUT);
writeFileSync(noteFile, `${renderText(diagnosis)}\n`);

for (const file of [slackFile, stormFile, chartFile, noteFile]) process.stdout.write(`wrote ${file.pathname}\n`);
