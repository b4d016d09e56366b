// Tests for the console sink: it writes the plain-text diagnosis to the stream it was given.
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { ConsoleSink } from "../../src/sinks/console.ts";
import { FIXTURE_CAUSE, FIXTURE_REMEDIATION, makeDiagnosis } from "../support/diagnosis-fixtures.ts";

describe("ConsoleSink", () => {
  it("writes the cause and the remediation to its stream and reports delivered", async () => {
    const stream = new PassThrough();
    const chunks: string[] = [];
    stream.on("data", (chunk: Buffer) => chunks.push(chunk.toString("utf8")));
    const sink = new ConsoleSink(stream);
    expect(sink.name).toBe("console");
    expect(await sink.deliver(makeDiagnosis())).toEqual({ status: "delivered" });
    const text = chunks.join("");
    expect(text).toContain(FIXTURE_CAUSE);
    expect(text).toContain(FIXTURE_REMEDIATION);
  });

  it("reports failed when the stream cannot be written", async () => {
    const stream = new PassThrough();
    stream.on("error", () => {});
    stream.destroy();
    const outcome = await new ConsoleSink(stream).deliver(makeDiagnosis());
    expect(outcome.status).toBe("failed");
  });
});
