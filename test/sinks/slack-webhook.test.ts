// Tests for what is particular to the Slack webhook sink: Slack's error codes, the "ok" body, resolved messages.
import { afterEach, describe, expect, it } from "vitest";
import { SlackWebhookSink } from "../../src/sinks/slack-webhook.ts";
import { makeDiagnosis, makeResolvedDiagnosis } from "../support/diagnosis-fixtures.ts";
import { type SlackStandIn, startSlackStandIn } from "../support/slack-standin.ts";

describe("SlackWebhookSink", () => {
  let standIn: SlackStandIn;

  afterEach(async () => {
    await standIn.close();
  });

  it("posts the rendered message, then a short one when the group resolves", async () => {
    standIn = await startSlackStandIn();
    const sink = new SlackWebhookSink({ webhookUrl: standIn.webhookUrl });
    expect(sink.name).toBe("slack");
    await sink.deliver(makeDiagnosis());
    await sink.deliver(makeResolvedDiagnosis());
    expect(standIn.messages.map((m) => m.attachments[0].color)).toEqual(["#ECB22E", "#2EB67D"]);
  });

  it.each([
    [400, "invalid_payload"],
    [403, "action_prohibited"],
    [404, "channel_not_found"],
    [410, "channel_is_archived"],
  ])("gives up on %i with Slack's error code %s", async (status, code) => {
    standIn = await startSlackStandIn();
    standIn.failNext(1, { status });
    const outcome = await new SlackWebhookSink({ webhookUrl: standIn.webhookUrl }).deliver(makeDiagnosis());
    expect(outcome).toEqual({ status: "failed", code, error: expect.stringContaining(`${status} ${code}`) });
  });

  it("quotes, in the resolve message, the cause it diagnosed while the group fired (a webhook message cannot be edited)", async () => {
    standIn = await startSlackStandIn();
    const sink = new SlackWebhookSink({ webhookUrl: standIn.webhookUrl });
    let state: unknown = null;
    const context = {
      get state() {
        return state;
      },
      saveState: async (next: unknown) => {
        state = next;
      },
    };
    await sink.deliver(makeDiagnosis(), context);
    await sink.deliver(makeResolvedDiagnosis(), context);
    const resolved = JSON.stringify(standIn.messages[1]);
    expect(resolved).toContain("Diagnosed while firing: Client credentials rejected");
  });

  it("gives up with no_service when the webhook path is unknown, without naming the path", async () => {
    standIn = await startSlackStandIn();
    const outcome = await new SlackWebhookSink({ webhookUrl: `${standIn.url}/services/T000/B000/REVOKEDTOKEN` }).deliver(makeDiagnosis());
    expect(outcome).toEqual({ status: "failed", code: "no_service", error: expect.stringContaining("404 no_service") });
    expect(outcome.status === "failed" ? outcome.error : "").not.toContain("REVOKEDTOKEN");
    expect(outcome.status === "failed" ? outcome.error : "").toContain(standIn.url);
  });

  it("does not count a 200 without the body ok as delivered", async () => {
    standIn = await startSlackStandIn();
    standIn.failNext(1, { status: 200, body: "<html>captive portal</html>" });
    const outcome = await new SlackWebhookSink({ webhookUrl: standIn.webhookUrl }).deliver(makeDiagnosis());
    expect(outcome.status).toBe("failed");
  });

  it("gives up at once when the configured webhook URL is not an http(s) URL", async () => {
    standIn = await startSlackStandIn();
    const outcome = await new SlackWebhookSink({ webhookUrl: "hooks.slack.com/services/T1/B2/SECRETTOKEN" }).deliver(makeDiagnosis());
    expect(outcome).toEqual({ status: "failed", code: "invalid_url", error: expect.stringContaining("not an http(s) URL") });
    expect(outcome.status === "failed" ? outcome.error : "").not.toContain("SECRETTOKEN");
  });
});
