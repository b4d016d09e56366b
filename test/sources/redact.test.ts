import { describe, expect, it } from "vitest";
import { redact } from "../../src/sources/redact.ts";

const JWT = "eyJhbGciOiJSUzI1NiIsImtpZCI6IkFCQyJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQifQ.c2lnbmF0dXJlLXBhcnQ";

describe("redact", () => {
  it.each([
    ["a Bearer token", "GET /api/v1/pods Authorization: Bearer 8f14e45fceea167a5a36dedd4bea2543", "8f14e45fceea167a5a36dedd4bea2543"],
    ["a lowercase bearer token", "sending header authorization=bearer abcdefgh12345678", "abcdefgh12345678"],
    ["a Basic credential", "Authorization: Basic YWxlcnRtYW5hZ2VyOmNoYW5nZS1tZQ==", "YWxlcnRtYW5hZ2VyOmNoYW5nZS1tZQ=="],
    ["a JWT", `failed to list *v1.Node: Unauthorized (token ${JWT})`, "eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQifQ"],
    ["a Slack bot token", "posting with xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOp", "AbCdEfGhIjKlMnOp"],
    ["a Slack user token", "token=xoxp-1234567890-abcdefghij", "abcdefghij"],
    [
      "a Slack webhook URL",
      "POST https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX failed",
      "XXXXXXXXXXXXXXXXXXXXXXXX",
    ],
    ["an AWS access key id", "using credentials AKIAIOSFODNN7EXAMPLE from the environment", "AKIAIOSFODNN7EXAMPLE"],
    ["a GitHub token", "cloning with ghp_16C7e42F292c6912E7710c838347Ae178B4a", "ghp_16C7e42F292c6912E7710c838347Ae178B4a"],
    ["a GitHub app token", "ghs_abcdefghijklmnopqrstuvwxyz0123456789 expired", "ghs_abcdefghijklmnopqrstuvwxyz0123456789"],
    ["user:password@ in a URL", "dial postgres://enricher:hunter2-pw@db.internal:5432/enricher failed", "hunter2-pw"],
    ["user:password@ in an https URL", "fetching https://deploy:s3cr3tp4ss@registry.example.com/v2/", "s3cr3tp4ss"],
    ["password=", "connecting with user=app password=hunter2 host=db", "hunter2"],
    ["token:", "refreshing token: abc123def456", "abc123def456"],
    ["api_key=", "request failed api_key=AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY status=403", "AIzaSyD-9tSrke72PouQMnMX"],
    ["api-key: in a header", "X-Api-Key: 5f4dcc3b5aa765d61d8327deb882cf99", "5f4dcc3b5aa765d61d8327deb882cf99"],
    ["client_secret=", "oauth client_secret=Zm9vYmFyYmF6 rejected", "Zm9vYmFyYmF6"],
    ['a JSON "password"', '{"user":"admin","password": "correct-horse-battery"}', "correct-horse-battery"],
    ['a JSON "token" without a space', '{"token":"tok_live_abcdef"}', "tok_live_abcdef"],
    ["a dotted config key", "spring.datasource.password=hunter2", "hunter2"],
  ])("removes %s", (_form, line, secret) => {
    const redacted = redact(line);
    expect(redacted).not.toContain(secret);
    expect(redacted).toContain("[REDACTED");
  });

  it("keeps the words around a removed credential, so the line still says what happened", () => {
    expect(redact(`failed to list *v1.Node: Unauthorized (token ${JWT})`)).toBe(
      "failed to list *v1.Node: Unauthorized (token [REDACTED jwt])",
    );
    expect(redact("connecting with user=app password=hunter2 host=db")).toBe("connecting with user=app password=[REDACTED] host=db");
    expect(redact("dial postgres://enricher:hunter2-pw@db.internal:5432/enricher failed")).toBe(
      "dial postgres://[REDACTED]@db.internal:5432/enricher failed",
    );
    expect(redact('{"user":"admin","password": "correct-horse-battery"}')).toBe('{"user":"admin","password": "[REDACTED]"}');
  });

  it("removes a PEM private key on one line", () => {
    const line = "loaded key -----BEGIN RSA PRIVATE KEY-----MIIEpAIBAAKCAQEA7b9Qz-----END RSA PRIVATE KEY----- ok";
    expect(redact(line)).toBe("loaded key [REDACTED private key] ok");
  });

  it("removes a multi-line PEM private key and keeps the lines after it", () => {
    const text = [
      "config dump:",
      "-----BEGIN PRIVATE KEY-----",
      "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj",
      "MzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvu",
      "-----END PRIVATE KEY-----",
      "next line",
    ].join("\n");
    const redacted = redact(text);
    expect(redacted).toBe("config dump:\n[REDACTED private key]\nnext line");
  });

  it("removes a private key cut off by the log tail, up to the end of the text", () => {
    const text = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5oDhR0PjvZAx";
    expect(redact(text)).toBe("[REDACTED private key]");
  });

  it("removes every credential on a line that holds several", () => {
    const line = "retry with Bearer abcdefgh12345678 and AKIAIOSFODNN7EXAMPLE via https://u:pw123456@proxy:3128";
    const redacted = redact(line);
    expect(redacted).not.toMatch(/abcdefgh12345678|AKIAIOSFODNN7EXAMPLE|pw123456/);
  });

  it.each([
    ["a klog line with a timestamp", 'I1123 09:00:01.000000       1 server.go:180] "Starting kube-state-metrics"'],
    ["an RFC3339 timestamp", "2025-01-15T09:00:00.123456789Z level=info msg=ready"],
    ["a pod name", "Failed to watch pod monitoring/kube-state-metrics-6d4b9c7f8-x2x9q"],
    ["connection refused", 'Get "https://10.96.0.1:443/api/v1/pods?limit=500": dial tcp 10.96.0.1:443: connect: connection refused'],
    ["a metric about tokens", "tokens_total 5"],
    ["a metric with token in its labels", 'token_cache_hits_total{cache="sa"} 12'],
    ["a URL without credentials", "GET https://10.96.0.1:443/apis/apps/v1/deployments?labelSelector=app%3Dweb 200"],
    ["a Slack channel id", "posted to C0123456789"],
    ["an image digest", "image registry.k8s.io/kube-state-metrics@sha256:0a1b2c3d4e5f60718293a4b5c6d7e8f9"],
    ["a 401 message", "failed to list *v1.Pod: Unauthorized"],
    ["a short word after Bearer", "missing Bearer token"],
    ["client-go's error about listing Secrets", "Failed to watch *v1.Secret: failed to list *v1.Secret: Unauthorized"],
    [
      "client-go's RBAC refusal for Secrets",
      'reflector.go:147] failed to list *v1.Secret: secrets is forbidden: User "system:serviceaccount:monitoring:ksm" cannot list resource "secrets"',
    ],
    ["a beta API type", "Failed to watch *v1beta1.TokenReview: the server could not find the requested resource"],
  ])("leaves %s alone", (_what, line) => {
    expect(redact(line)).toBe(line);
  });
});
