// The report page in a real browser (Debian's Chromium via playwright-core), opened from the link of a real run.
// Needs Debian's chromium at /usr/bin/chromium (installed by .ci/install-test-deps, which `npm test` runs first).
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { createLogger } from "../../src/logger.ts";
import { type RunningService, startService } from "../../src/service.ts";
import { type DemoCluster, startDemoCluster } from "../support/demo-cluster.ts";
import type { PromSeries } from "../support/fake-prometheus.ts";
import { scenarioNamed } from "../support/kube-client-errors-scenarios.ts";
import { kubeClientErrorsPayload } from "../support/payloads.ts";
import { type SlackStandIn, startSlackStandIn } from "../support/slack-standin.ts";

const CHROMIUM = "/usr/bin/chromium";
const TOKEN = "e2e-token-0123456789abcdef";
const PUBLIC_URL = "https://enricher.example.com";
/**
 * The alert's own expression, answered by the fake Prometheus so the report has a chart of the last hour. The service
 * charts only rules it knows: this one is in a rules file given to it by ALERT_RULES_FILES.
 */
const CHART_METRIC = "job:rest_client_errors:ratio5m";
const SCREENSHOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "docs", "report.png");

let dir: string;
let cluster: DemoCluster;
let slack: SlackStandIn;
let service: RunningService;
let browser: Browser;
/** The report's path and token, as the Slack message links to it. */
let reportPath: string;

async function until(check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * What makes the page wider than the window, every collapsed part opened: the page itself, or a table, cell or code
 * block that overflows its box (a box that scrolls on its own hides its overflow from the page's width).
 */
function horizontalOverflow(page: Page): Promise<string[]> {
  return page.evaluate<string[]>(
    `(() => { const out = []; const d = document.documentElement;
      document.querySelectorAll("details").forEach((e) => { e.open = true; });
      if (d.scrollWidth > d.clientWidth) out.push("page: " + d.scrollWidth + " > " + d.clientWidth);
      for (const el of document.querySelectorAll("main table, main th, main td, main pre, main figure, main dl"))
        if (el.scrollWidth > el.clientWidth + 1) out.push(el.tagName + "." + el.className + ": " + el.scrollWidth + " > " + el.clientWidth);
      return out; })()`,
  );
}

describe("the report in a browser", () => {
  it("has Debian's Chromium to run in", () => {
    expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium`).toBe(true);
  });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "enricher-report-"));
    const scenario = scenarioNamed("credentials-rejected");
    const now = Math.floor(Date.now() / 1000);
    const ratio: PromSeries = {
      labels: { job: "kube-state-metrics" },
      values: Array.from({ length: 61 }, (_, i): [number, number] => [now - (60 - i) * 60, i > 45 ? 0.42 : 0.002]),
    };
    cluster = await startDemoCluster({
      ...scenario,
      prometheus: [{ match: new RegExp(`^${CHART_METRIC}$`), matrix: [ratio] }, ...scenario.prometheus],
    });
    slack = await startSlackStandIn();
    const alertRules = join(dir, "alert-rules.yml");
    writeFileSync(
      alertRules,
      `groups:\n  - name: e2e\n    rules:\n      - alert: KubeClientErrors\n        expr: ${CHART_METRIC} > 0.01\n`,
    );
    service = await startService(
      loadConfig({
        ...cluster.env,
        PORT: "0",
        HOST: "127.0.0.1",
        WEBHOOK_BEARER_TOKEN: TOKEN,
        DATABASE_URL: `sqlite:${join(dir, "enricher.db")}`,
        ALERT_RULES_FILES: alertRules,
        SLACK_WEBHOOK_URL: slack.webhookUrl,
        PUBLIC_URL,
        REPORT_SIGNING_SECRET: "an-e2e-report-secret-of-32-chars-or-more",
      }),
      { logger: createLogger("silent"), pollIntervalMs: 50, deliveryBackoff: { baseMs: 50, maxMs: 200 } },
    );
    const payload = kubeClientErrorsPayload(scenario.alertLabels);
    for (const alert of payload.alerts) {
      alert.generatorURL = `http://prometheus.demo:9090/graph?g0.expr=${encodeURIComponent(`${CHART_METRIC} > 0.01`)}&g0.tab=1`;
      alert.startsAt = new Date((now - 14 * 60) * 1000).toISOString();
    }
    const response = await fetch(`${service.url}/alerts`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify(payload),
    });
    expect(response.status).toBe(200);
    await until(() => slack.messages.length === 1);
    const link = new RegExp(`${PUBLIC_URL.replace(/\./g, "\\.")}(/reports/[^"?\\s|>]+\\?token=[A-Za-z0-9_-]+)`).exec(
      JSON.stringify(slack.messages[0]),
    )?.[1];
    if (link === undefined) throw new Error("the Slack message carries no signed report link");
    reportPath = link;
    // launch() gives every run a fresh, temporary --user-data-dir of its own (and refuses one passed in args).
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await service?.stop();
    await cluster?.close();
    await slack?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("shows the verdict, the chart and a working copy button, with no console errors, on a phone-sized screen", async () => {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 1, timezoneId: "Europe/Berlin" });
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: service.url });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on("console", (message) => {
      if (message.type() === "error") problems.push(message.text());
    });
    page.on("pageerror", (error) => problems.push(error.message));

    const response = await page.goto(`${service.url}${reportPath}`);
    expect(response?.status()).toBe(200);
    await expect(page.locator("h1").innerText()).resolves.toContain("KubeClientErrors");
    await expect(page.locator("ol.causes > li").first().innerText()).resolves.toContain("Client credentials rejected (401)");
    await expect(page.locator("figure.chart svg").count()).resolves.toBe(1);

    // The README's picture: what a phone shows first.
    mkdirSync(dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT });

    const copy = page.locator("button[data-copy]").first();
    await expect(copy.isVisible()).resolves.toBe(true);
    const command = await page.locator(`#${await copy.getAttribute("data-copy")}`).innerText();
    await copy.click();
    // Page-side code as strings: the test's TypeScript has no DOM types.
    await page.waitForFunction(`document.querySelector("button[data-copy]").textContent !== "Copy"`);
    await expect(copy.innerText()).resolves.toBe("Copied");
    await expect(page.evaluate<string>("navigator.clipboard.readText()")).resolves.toBe(command);

    await expect(horizontalOverflow(page)).resolves.toEqual([]);
    expect(problems).toEqual([]);
    await context.close();
  }, 60_000);

  it("puts the verdict, its confidence, the first thing to do and the links on the first screen of a 1280 × 800 window", async () => {
    const context = await browser.newContext({
      viewport: { width: 1280, height: 800 },
      locale: "en-US",
      timezoneId: "America/New_York",
    });
    const page = await context.newPage();
    await page.goto(`${service.url}${reportPath}`);
    const summary = page.locator("section .summary").first();
    for (const part of [".verdict", ".confidence", ".not-checked", ".first-step", ".links"]) {
      const box = await summary.locator(part).first().boundingBox({ timeout: 5_000 });
      expect(box, part).not.toBeNull();
      expect((box?.y ?? Infinity) + (box?.height ?? 0), `${part} ends within the first 800 px`).toBeLessThanOrEqual(800);
    }
    await expect(summary.locator(".verdict").innerText()).resolves.toContain("Probable cause");
    await expect(summary.locator(".confidence").innerText()).resolves.toMatch(/\d+%/);
    const links = await summary.locator(".links a").allInnerTexts();
    expect(links).toEqual(expect.arrayContaining(["Runbook", "Graph", "Silence", "Alertmanager"]));
    // The first thing to do is the top cause's first command, with its Copy button.
    const first = summary.locator(".first-step");
    await expect(first.locator("code").innerText()).resolves.toBe(
      await page.locator("ol.causes > li").first().locator("pre code").first().innerText(),
    );
    await expect(first.locator("button[data-copy]").isVisible()).resolves.toBe(true);
    // The labels are shown once.
    await expect(page.locator("table.labels").count()).resolves.toBe(1);
    await expect(horizontalOverflow(page)).resolves.toEqual([]);

    // Times in the reader's zone (New York here) with how long ago; the exact instant stays in the attribute.
    const times = await page.locator("time[datetime]").allInnerTexts();
    expect(times.length).toBeGreaterThan(0);
    for (const time of times) {
      expect(time).toMatch(/\b(EST|EDT)\b/);
      expect(time).toMatch(/(ago|just now)\)$/);
      expect(time).not.toContain("UTC");
    }
    await expect(page.locator("time[datetime]").first().getAttribute("datetime")).resolves.toMatch(/^\d{4}-\d\d-\d\dT.*Z$/);
    await expect(page.locator("header time").innerText()).resolves.toMatch(/\((just now|\d+ min ago)\)$/);

    // Copy buttons sit only beside commands; advice is prose without one.
    const copied = await page.evaluate<string[]>(
      `[...document.querySelectorAll("button[data-copy]")].map((b) => document.getElementById(b.getAttribute("data-copy")).textContent)`,
    );
    expect(copied.length).toBeGreaterThan(0);
    for (const text of copied) expect(text).toMatch(/^(kubectl|ssh|# command withheld) /);
    await expect(page.locator(".advice button").count()).resolves.toBe(0);
    await context.close();
  }, 30_000);

  it("reads the same without JavaScript, the copy buttons hidden and the times in UTC", async () => {
    const context = await browser.newContext({ javaScriptEnabled: false, timezoneId: "America/New_York" });
    const page = await context.newPage();
    await page.goto(`${service.url}${reportPath}`);
    await expect(page.locator("ol.causes > li").first().innerText()).resolves.toContain("Client credentials rejected (401)");
    await expect(page.locator("button[data-copy]").first().isVisible()).resolves.toBe(false);
    await expect(page.locator("header time").innerText()).resolves.toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
    await context.close();
  }, 30_000);
});
