import { describe, expect, it } from "vitest";
import { redact, redactDeep } from "../../src/sources/redact.ts";

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

// Issue #11 item 6: every shape of credential a cluster's text may carry (Events, object fields, logs, audit rows,
// label values), each with the part that must disappear, and texts that look close but must stay as they are.
describe("redact: every secret shape", () => {
  const AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
  it.each([
    [
      "an RSA private key",
      "key: -----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7b9Qz\n-----END RSA PRIVATE KEY-----",
      "MIIEpAIBAAKCAQEA7b9Qz",
    ],
    [
      "an EC private key",
      "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg4LVWM9nuwNSk3yBy\n-----END EC PRIVATE KEY-----",
      "MHcCAQEEIBkg4LVWM9nuwNSk3yBy",
    ],
    [
      "an OpenSSH private key",
      "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----",
      "b3BlbnNzaC1rZXktdjEAAAAA",
    ],
    [
      "an encrypted private key",
      "-----BEGIN ENCRYPTED PRIVATE KEY-----MIIFHDBOBgkqhkiG9w0BBQ0w-----END ENCRYPTED PRIVATE KEY-----",
      "MIIFHDBOBgkqhkiG9w0BBQ0w",
    ],
    [
      "a PGP private key block",
      "-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQOYBF0AAAABCADX\n-----END PGP PRIVATE KEY BLOCK-----",
      "lQOYBF0AAAABCADX",
    ],
    ["a JWT", `serviceaccount token ${JWT} rejected`, "c2lnbmF0dXJlLXBhcnQ"],
    ["a bare Bearer token", "retrying with Bearer 8f14e45fceea167a5a36dedd4bea2543", "8f14e45fceea167a5a36dedd4bea2543"],
    ["a bare Basic credential", "sent Basic YWxhZGRpbjpvcGVuc2VzYW1l", "YWxhZGRpbjpvcGVuc2VzYW1l"],
    ["Authorization: Bearer", "Authorization: Bearer abc.def-ghi", "abc.def-ghi"],
    ["Authorization: Basic", "authorization: basic dXNlcjpwYXNz", "dXNlcjpwYXNz"],
    ["Authorization: Token", "Authorization: Token 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b", "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"],
    ["Authorization: Token, a short one", "Authorization: Token abcdef", "abcdef"],
    [
      "Authorization: Digest",
      'Authorization: Digest username="admin", realm="api", nonce="dcd98b", response="6629fae49393a05397450978507c4ef1"',
      "6629fae49393a05397450978507c4ef1",
    ],
    ["Proxy-Authorization", "Proxy-Authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA=="],
    ["an Authorization header in JSON", '{"headers": {"Authorization": "Bearer abcdef", "Accept": "*/*"}}', "abcdef"],
    ["an Authorization header in escaped JSON", String.raw`body="{\"Authorization\":\"Token zz9secret\"}"`, "zz9secret"],
    ["a Cookie header", "Cookie: session=4f1c2a9e7b; csrftoken=Xy7pQ", "4f1c2a9e7b"],
    ["every pair of a Cookie header", "Cookie: session=4f1c2a9e7b; csrftoken=Xy7pQ", "Xy7pQ"],
    ["a Set-Cookie header", "Set-Cookie: sid=s%3Aabc123.def; Path=/; HttpOnly", "s%3Aabc123.def"],
    ["a Slack bot token", "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOp", "AbCdEfGhIjKlMnOp"],
    ["a Slack app-level token", "socket mode with xapp-1-A0123456789-1234567890123-abcdef0123456789", "abcdef0123456789"],
    ["a Slack webhook URL", "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX", "XXXXXXXXXXXXXXXXXXXXXXXX"],
    ["an AWS access key id", "AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"],
    ["an AWS temporary access key id", "assumed role with ASIAY34FZKBOKMUTVV7A", "ASIAY34FZKBOKMUTVV7A"],
    ["aws_secret_access_key =", `aws_secret_access_key = ${AWS_SECRET}`, AWS_SECRET],
    ["AWS_SECRET_ACCESS_KEY=", `AWS_SECRET_ACCESS_KEY=${AWS_SECRET}`, AWS_SECRET],
    ["a GitHub OAuth token", "gho_16C7e42F292c6912E7710c838347Ae178B4a", "gho_16C7e42F292c6912E7710c838347Ae178B4a"],
    [
      "a GitHub fine-grained token",
      "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEF",
      "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEF",
    ],
    ["a GitLab token", "PRIVATE-TOKEN glpat-AbCdEf0123456789xYzW", "glpat-AbCdEf0123456789xYzW"],
    ["a Google API key", "maps key AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY", "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY"],
    ["a password in a URL", "redis://default:s3cr3t-pw@redis:6379/0", "s3cr3t-pw"],
    ["a password in a URL without a user", "redis://:s3cr3t-pw@redis:6379/0", "s3cr3t-pw"],
    ["password=", "login user=app password=hunter2", "hunter2"],
    ["password: a word without digits", "password: correcthorse", "correcthorse"],
    ["secret=", "webhook secret=whsec_5f4dcc3b5aa765d6", "whsec_5f4dcc3b5aa765d6"],
    ["token=", "?access_token=ya29.a0AfH6SMBx&expires=3600", "ya29.a0AfH6SMBx"],
    ["api_key:", "api_key: abcdefgh", "abcdefgh"],
    ["X-API-Key:", "X-API-Key: abcdef", "abcdef"],
    ['JSON "password" with spaces', '{"password": "two words"}', "two words"],
    ['JSON "password" with spaces, second word', '{"password": "two words"}', "words"],
    ['JSON "token" with an escaped quote', String.raw`{"token": "ab\"cd ef"}`, "cd ef"],
    ["JSON inside a JSON string", String.raw`msg="{\"password\":\"hunter 2\"}"`, "hunter 2"],
    ["YAML password in single quotes", "password: 'two words'", "two words"],
    ["a quoted value after =", 'DB_PASSWORD="pass word 1"', "pass word 1"],
    ["an env var holding a credential", "env API_TOKEN=tok_0123456789abcdef", "tok_0123456789abcdef"],
  ])("removes %s", (_form, line, secret) => {
    const redacted = redact(line);
    expect(redacted).not.toContain(secret);
    expect(redacted).toContain("[REDACTED");
  });

  it("redacts the whole JSON value, not only its first word, and keeps the rest of the object", () => {
    expect(redact('{"password": "two words", "user": "app"}')).toBe('{"password": "[REDACTED]", "user": "app"}');
  });

  it("keeps the header names and schemes, so a line still says what was sent", () => {
    expect(redact("Authorization: Token 9944b09199c62bcf")).toBe("Authorization: Token [REDACTED]");
    expect(redact("Cookie: session=4f1c2a9e7b; csrftoken=Xy7pQ")).toBe("Cookie: [REDACTED]");
    expect(redact("using ASIAY34FZKBOKMUTVV7A")).toBe("using [REDACTED aws key]");
  });

  it.each([
    ["client-go's 401 on Secrets", "failed to list *v1.Secret: Unauthorized"],
    ["client-go's watch error on Secrets", "Failed to watch *v1.Secret: failed to list *v1.Secret: Unauthorized"],
    ["a dynamic informer on Secrets", "failed to list /v1, Kind=Secret: Unauthorized"],
    ["the automount field as YAML", "automountServiceAccountToken: false"],
    ["the automount field as JSON", '{"automountServiceAccountToken":false,"serviceAccountName":"web"}'],
    ["a token Secret's name", "default-token-abcde"],
    [
      "a volume whose Secret is missing",
      'MountVolume.SetUp failed for volume "default-token-abcde" : secret "default-token-abcde" not found',
    ],
    [
      "a projected token that cannot be fetched",
      'MountVolume.SetUp failed for volume "aws-iam-token" : failed to fetch token: rpc error: code = Unavailable',
    ],
    ["kube-state-metrics naming a Secret", 'kube_secret_info{namespace="kube-system",secret="bootstrap-token-07401b"} 1'],
    ["a Secret's type", "type: kubernetes.io/service-account-token"],
    ["the basic-auth Secret type", "type=kubernetes.io/basic-auth"],
    ["a missing Secret", 'Error: secret "db-credentials" not found'],
    ["a Secret key reference printed by Go", "secretKeyRef: &SecretKeySelector{LocalObjectReference:{Name:db-credentials},Key:password}"],
    ["an expired token", "token: expired"],
    ["a token that is invalid", "the token is invalid"],
    ["PostgreSQL refusing a password", 'FATAL: password authentication failed for user "app"'],
    ["basic authentication in prose", "basic authentication failed"],
    ["Bearer in prose", "Bearer token expired"],
    ["an authorization failure", "authorization failed for user system:anonymous"],
    ["an audit annotation", '"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":"RBAC: allowed"'],
    ["a Cookie mentioned without a value", "failed to set cookie: invalid domain"],
    [
      "API server flags naming key files",
      "--service-account-key-file=/etc/kubernetes/pki/sa.pub --tls-private-key-file=/etc/kubernetes/pki/apiserver.key",
    ],
    ["the working directory", "PWD=/root"],
    ["a region", "topology.kubernetes.io/region=asia-east1"],
    ["a URL with a port and no credentials", "http://otel-collector.observability:4317"],
    ["a Pod uid", "uid: 123e4567-e89b-12d3-a456-426614174000"],
  ])("leaves %s alone", (_what, line) => {
    expect(redact(line)).toBe(line);
  });

  it("gives the same text when run again, so a second pass (an excerpt, then the engine) changes nothing", () => {
    const lines = [
      `token: ${JWT}`,
      "Authorization: Bearer abc.def-ghi",
      'Authorization: Digest username="admin", response="6629fae4"',
      "Cookie: session=4f1c2a9e7b",
      "password=hunter2 and api_key: abcdefgh",
      '{"password": "two words"}',
      "postgres://app:hunter2@db:5432/app",
      "-----BEGIN PRIVATE KEY-----\nMIIEvQ\n-----END PRIVATE KEY-----",
      "https://hooks.slack.com/services/T0/B0/XXXX",
    ];
    for (const line of lines) expect(redact(redact(line))).toBe(redact(line));
  });
});

describe("redactDeep", () => {
  const event = {
    apiVersion: "v1",
    kind: "Event",
    metadata: { name: "kube-apiserver-node-1.17f3a9c2e4b1d0a8", namespace: "kube-system" },
    involvedObject: { kind: "Pod", name: "kube-apiserver-node-1", namespace: "kube-system" },
    reason: "Unhealthy",
    type: "Warning",
    message: `Readiness probe failed: Authorization: Bearer 8f14e45fceea167a5a36dedd4bea2543 token ${JWT} password=hunter2, then: Unauthorized`,
    count: 3,
  };

  it("redacts every string of an object and keeps keys, numbers and untouched strings", () => {
    const redacted = redactDeep({ items: [event], count: 1 });
    const text = JSON.stringify(redacted);
    for (const secret of ["8f14e45fceea167a5a36dedd4bea2543", "c2lnbmF0dXJlLXBhcnQ", "hunter2"]) expect(text).not.toContain(secret);
    expect(redacted.items[0]).toEqual({
      ...event,
      message: "Readiness probe failed: Authorization: Bearer [REDACTED] token [REDACTED jwt] password=[REDACTED], then: Unauthorized",
    });
  });

  it("changes nothing it is given, and gives back the very same value when there is nothing to redact", () => {
    const before = JSON.stringify(event);
    redactDeep({ items: [event] });
    expect(JSON.stringify(event)).toBe(before);
    const clean = { items: [{ metadata: { name: "default-token-abcde" }, automountServiceAccountToken: false }], count: 1 };
    expect(redactDeep(clean)).toBe(clean);
  });

  it("redacts the value of an environment variable whose name says it is a credential", () => {
    const env = [
      { name: "DB_PASSWORD", value: "correcthorse" },
      { name: "GITHUB_TOKEN", value: "abc" },
      { name: "DB_HOST", value: "db.svc" },
      { name: "DB_PASSWORD", valueFrom: { secretKeyRef: { name: "db-credentials", key: "password" } } },
    ];
    expect(redactDeep(env)).toEqual([
      { name: "DB_PASSWORD", value: "[REDACTED]" },
      { name: "GITHUB_TOKEN", value: "[REDACTED]" },
      { name: "DB_HOST", value: "db.svc" },
      { name: "DB_PASSWORD", valueFrom: { secretKeyRef: { name: "db-credentials", key: "password" } } },
    ]);
  });

  it("redacts Prometheus label values", () => {
    const series = [{ labels: { url: "https://user:s3cr3t@registry.internal/v2/", job: "kubelet" }, value: 1 }];
    expect(redactDeep(series)).toEqual([{ labels: { url: "https://[REDACTED]@registry.internal/v2/", job: "kubelet" }, value: 1 }]);
  });
});
