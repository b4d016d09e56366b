// Tests for the console sink: plain text on a terminal; one JSON log record per diagnosis when stdout is a pipe, so a
// pod's log stream stays one JSON object per line.
import { PassThrough } from "node:stream";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { ConsoleSink, consoleFormat } from "../../src/sinks/console.ts";
import {
  FIXTURE_CAUSE,
  FIXTURE_GROUP_KEY,
  FIXTURE_REMEDIATION,
  makeAlertDiagnosis,
  makeDiagnosis,
  makeResolvedDiagnosis,
} from "../support/diagnosis-fixtures.ts";

function capture(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: string[] = [];
  stream.on("data", (chunk: Buffer) => chunks.push(chunk.toString("utf8")));
  return { stream, text: () => chunks.join("") };
}

/** A logger like the service's (createLogger in logger.ts), writing into a buffer. */
function serviceLogger(level: string) {
  const out = capture();
  const logger = pino({ level, base: { service: "alert-enricher" } }, out.stream);
  const records = () =>
    out
      .text()
      .split("\n")
      .filter((line) => line !== "")
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  return {
    logger,
    lines: () =>
      out
        .text()
        .split("\n")
        .filter((line) => line !== ""),
    records,
  };
}

const diagnosedWithCause = () => makeDiagnosis({ alerts: [makeAlertDiagnosis({ verdict: "cause" })] });

describe("ConsoleSink on a terminal", () => {
  it("writes the cause and the remediation as plain text to its stream and reports delivered", async () => {
    const out = capture();
    const log = serviceLogger("info");
    const sink = new ConsoleSink({ stream: out.stream, isTTY: true, logger: log.logger });
    expect(sink.name).toBe("console");
    expect(sink.format).toBe("text");
    expect(await sink.deliver(diagnosedWithCause())).toEqual({ status: "delivered" });
    expect(out.text()).toContain(FIXTURE_CAUSE);
    expect(out.text()).toContain(FIXTURE_REMEDIATION);
    expect(out.text().split("\n").length).toBeGreaterThan(10);
    expect(log.lines()).toEqual([]);
  });

  it("reports failed when the stream cannot be written", async () => {
    const stream = new PassThrough();
    stream.on("error", () => {});
    stream.destroy();
    const outcome = await new ConsoleSink({ stream, isTTY: true }).deliver(makeDiagnosis());
    expect(outcome.status).toBe("failed");
  });
});

describe("ConsoleSink when stdout is not a terminal", () => {
  it("writes one JSON record per diagnosis through the service's logger: the headline fields and the text as one string", async () => {
    const out = capture();
    const log = serviceLogger("info");
    const sink = new ConsoleSink({ stream: out.stream, isTTY: false, logger: log.logger });
    expect(sink.format).toBe("json");
    expect(await sink.deliver(diagnosedWithCause())).toEqual({ status: "delivered" });
    expect(await sink.deliver(makeResolvedDiagnosis())).toEqual({ status: "delivered" });

    expect(out.text()).toBe("");
    expect(log.lines()).toHaveLength(2);
    const [firing, resolved] = log.records();
    expect(firing).toMatchObject({
      level: 30,
      service: "alert-enricher",
      component: "console",
      msg: "diagnosis",
      notification: "n-0001",
      group: FIXTURE_GROUP_KEY,
      status: "firing",
      verdict: "cause",
      cause: { id: "credentials-rejected", title: "Client credentials rejected" },
    });
    expect(firing?.text).toEqual(expect.stringContaining(FIXTURE_CAUSE));
    expect(firing?.text).toEqual(expect.stringContaining(FIXTURE_REMEDIATION));
    expect(String(firing?.text).split("\n").length).toBeGreaterThan(10);
    // No playbook verdict on the resolved fixture: no cause field rather than an empty one.
    expect(resolved).toMatchObject({ msg: "diagnosis", status: "resolved", verdict: "none" });
    expect(resolved).not.toHaveProperty("cause");
  });

  it("still writes the diagnosis when LOG_LEVEL is warn: it is the sink's output, not a log line", async () => {
    const log = serviceLogger("warn");
    await new ConsoleSink({ isTTY: false, logger: log.logger }).deliver(diagnosedWithCause());
    log.logger.info("an info line the level filters out");
    expect(log.records().map((record) => record.msg)).toEqual(["diagnosis"]);
  });

  it("without the service's logger (a CLI), writes the same record to its stream", async () => {
    const out = capture();
    await new ConsoleSink({ stream: out.stream, isTTY: false }).deliver(diagnosedWithCause());
    const lines = out
      .text()
      .split("\n")
      .filter((line) => line !== "");
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] ?? "")).toMatchObject({ msg: "diagnosis", verdict: "cause", service: "alert-enricher" });
  });

  it("writes plain text when asked to, as the demo does when its output is piped", async () => {
    const out = capture();
    const log = serviceLogger("info");
    await new ConsoleSink({ stream: out.stream, isTTY: false, format: "text", logger: log.logger }).deliver(diagnosedWithCause());
    expect(out.text()).toContain(FIXTURE_REMEDIATION);
    expect(log.lines()).toEqual([]);
  });
});

describe("consoleFormat", () => {
  it("is text on a terminal, JSON elsewhere, and what was asked for when forced", () => {
    expect(consoleFormat({ isTTY: true })).toBe("text");
    expect(consoleFormat({ isTTY: false })).toBe("json");
    expect(consoleFormat({ isTTY: false, format: "text" })).toBe("text");
    expect(consoleFormat({ isTTY: true, format: "json" })).toBe("json");
    expect(consoleFormat({})).toBe(process.stdout.isTTY === true ? "text" : "json");
  });
});
