// Tests for what the HTTP sinks share below the outcome table: how a failed connection is named, origins, and masking.
import { describe, expect, it } from "vitest";
import { describeTransportFailure, originOf, sendHttp, serviceText } from "../../src/sinks/http-delivery.ts";

/** An error as axios hands it on: Node's code, and a message that may carry the URL. */
function axiosError(code: string, name = "AxiosError"): Error {
  return Object.assign(new Error(`request to https://hooks.slack.com/services/T1/B2/SECRET failed, reason: ${code}`), { code, name });
}

describe("describeTransportFailure", () => {
  it.each([
    ["ECONNREFUSED", "network", "connection failed (ECONNREFUSED)"],
    ["ECONNRESET", "network", "connection failed (ECONNRESET)"],
    ["ENOTFOUND", "network", "connection failed (ENOTFOUND)"],
    ["ECONNABORTED", "timeout", "no response within 2500 ms"],
    ["ETIMEDOUT", "timeout", "no response within 2500 ms"],
    ["CERT_HAS_EXPIRED", "tls", "TLS handshake failed (CERT_HAS_EXPIRED)"],
    ["DEPTH_ZERO_SELF_SIGNED_CERT", "tls", "TLS handshake failed (DEPTH_ZERO_SELF_SIGNED_CERT)"],
    ["UNABLE_TO_VERIFY_LEAF_SIGNATURE", "tls", "TLS handshake failed (UNABLE_TO_VERIFY_LEAF_SIGNATURE)"],
    ["ERR_TLS_CERT_ALTNAME_INVALID", "tls", "TLS handshake failed (ERR_TLS_CERT_ALTNAME_INVALID)"],
    ["EPROTO", "tls", "TLS handshake failed (EPROTO)"],
    ["ERR_BAD_RESPONSE", "bad_response", "response too large or malformed"],
  ])("names %s as %s", (code, kind, text) => {
    expect(describeTransportFailure(axiosError(code), 2500)).toEqual({ kind, text });
  });

  it("names an abort by the timeout signal a timeout", () => {
    expect(describeTransportFailure(Object.assign(new Error("canceled"), { name: "CanceledError" }), 300).kind).toBe("timeout");
  });

  it("keeps nothing of the error's message, which may carry the URL", () => {
    expect(JSON.stringify(describeTransportFailure(axiosError("ECONNREFUSED"), 300))).not.toContain("SECRET");
    expect(describeTransportFailure(new Error("getaddrinfo https://hooks.slack.com/services/T1/B2/SECRET"), 300)).toEqual({
      kind: "network",
      text: "connection failed",
    });
  });
});

describe("sendHttp", () => {
  it("sends nothing to a URL that is not http(s)", async () => {
    const exchange = await sendHttp({
      method: "POST",
      url: "hooks.slack.com/services/T1/B2/SECRET",
      headers: {},
      timeoutMs: 100,
      maxResponseBytes: 10,
    });
    expect(exchange).toEqual({ transportFailure: { kind: "invalid_url", text: "the configured URL is not an http(s) URL" } });
  });
});

describe("originOf", () => {
  it("keeps scheme and host and drops the path, query and credentials", () => {
    expect(originOf("https://user:pw@hooks.slack.com/services/T1/B2/secret?x=1")).toBe("https://hooks.slack.com");
  });
});

describe("serviceText", () => {
  it("masks secrets, flattens control characters and bounds the length", () => {
    expect(serviceText("bad key abcd1234\nretry", ["abcd1234"])).toBe("bad key [redacted] retry");
    expect(serviceText("x".repeat(2000), []).length).toBeLessThanOrEqual(501);
  });
});
