// `npm start` as a user runs it: `node src/main.ts` with configuration from the environment (and .env), judged by its
// exit code, its messages and what it serves. Each child runs in an empty temporary directory, so no developer's
// .env or ./data leaks in.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type DemoCluster, startDemoCluster } from "./support/demo-cluster.ts";
import { scenarioNamed } from "./support/kube-client-errors-scenarios.ts";
import { killChildren, REPO_ROOT, runNode, startNode } from "./support/node-process.ts";
import { kubeClientErrorsPayload } from "./support/payloads.ts";

const MAIN = join(REPO_ROOT, "src", "main.ts");
const RULES = join(REPO_ROOT, "rules");
const TOKEN = "main-test-token-0123456789abcdef";

let dir: string;
let home: string;
let cluster: DemoCluster | undefined;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "enricher-main-"));
  home = join(dir, "home");
  mkdirSync(home);
});

afterEach(async () => {
  await killChildren();
  await cluster?.close();
  cluster = undefined;
  rmSync(dir, { recursive: true, force: true });
});

/** The environment of a fresh shell: an empty HOME (no ~/.kube/config), a scratch database, the shipped rules. */
function env(extra: Record<string, string> = {}): Record<string, string> {
  return { HOME: home, DATABASE_URL: `sqlite:${join(dir, "enricher.db")}`, RULES_DIR: RULES, HOST: "127.0.0.1", PORT: "0", ...extra };
}

const service = (environment: Record<string, string>) => runNode([MAIN], { cwd: dir, env: environment });

describe("npm start", () => {
  it("refuses to start without webhook auth and names WEBHOOK_BEARER_TOKEN", async () => {
    const result = await service(env());
    expect(result.stderr).toContain("WEBHOOK_BEARER_TOKEN");
    expect(result.stderr).toContain("ALLOW_UNAUTHENTICATED");
    expect(result.code).toBe(2);
  });

  it("refuses to start without a Kubernetes configuration instead of falling back to a demo cluster", async () => {
    const result = await service(env({ WEBHOOK_BEARER_TOKEN: TOKEN, PROMETHEUS_URL: "http://127.0.0.1:9" }));
    expect(result.stderr).toContain("KUBECONFIG");
    expect(result.stderr).toContain("~/.kube/config");
    expect(result.stdout).not.toContain("alert-enricher ready");
    expect(result.code).toBe(2);
  });

  it("refuses to start with a broken rule and names its file and line", async () => {
    const rules = join(dir, "rules");
    mkdirSync(rules);
    writeFileSync(
      join(rules, "broken.yaml"),
      "alert: Example\ntitle: Example\nrunbook: example.md\nsteps:\n  - id: pods\n    title: Pods\n    kubernetes:\n      apiVersion: v1\n      kind: Pod\n      labelSelektor: app=x\n",
    );
    const result = await service(env({ WEBHOOK_BEARER_TOKEN: TOKEN, RULES_DIR: rules }));
    expect(result.stderr).toContain(`${join(rules, "broken.yaml")}:10: steps.0.kubernetes: unknown field "labelSelektor"`);
    expect(result.code).toBe(2);
  });

  it("serves health and readiness, diagnoses an alert to the console, and exits 0 on SIGTERM", async () => {
    const scenario = scenarioNamed("credentials-rejected");
    cluster = await startDemoCluster(scenario);
    // The token comes from .env in the working directory, as a user who copied .env.example would have it.
    writeFileSync(join(dir, ".env"), `# from .env.example\nWEBHOOK_BEARER_TOKEN=${TOKEN}\n`);
    const child = startNode([MAIN], { cwd: dir, env: env(cluster.env), timeoutMs: 20_000 });

    const ready = JSON.parse(await child.waitForLine((line) => line.includes('"alert-enricher ready"'))) as {
      address: string;
      playbooks: string[];
      sinks: string[];
    };
    expect(ready.playbooks).toContain("KubeClientErrors");
    expect(ready.sinks).toEqual(["console"]);
    const url = ready.address;

    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const readyz = await fetch(`${url}/readyz`);
    expect(readyz.status).toBe(200);
    // Ready, with each backend's state and the start-time check (running or done) shown beside it.
    const readiness = (await readyz.json()) as { status: string; backends: Record<string, { state: string }>; check: unknown };
    expect(readiness.status).toBe("ready");
    expect(Object.keys(readiness.backends).sort()).toEqual(["console", "kubernetes", "prometheus"]);
    expect(readiness.backends.console).toEqual({ state: "idle" });
    expect(readiness.check).toBeDefined();

    const body = JSON.stringify(kubeClientErrorsPayload(scenario.alertLabels));
    const headers = { "content-type": "application/json" };
    expect((await fetch(`${url}/alerts`, { method: "POST", headers, body })).status).toBe(401);
    const accepted = await fetch(`${url}/alerts`, { method: "POST", headers: { ...headers, authorization: `Bearer ${TOKEN}` }, body });
    expect(accepted.status).toBe(200);
    await child.waitForLine((line) => line.includes("authentication fails"));

    child.process.kill("SIGTERM");
    const exit = await child.exited;
    expect(exit.stderr).toContain("SIGTERM received");
    expect(exit.timedOut).toBe(false);
    expect(exit.code).toBe(0);
  });
});
