// Objects in the fake kube-apiserver read back with the defaults a v1.36 server fills in on create.
import { describe, expect, it } from "vitest";
import type { KubeObject } from "../../testkit/kube-object.ts";
import { list, names, read, serve } from "./fake-api-reads.ts";

/** A pod as a fixture author writes it: no defaults at all. */
function barePod(name: string, containers: Array<{ name: string; image: string }>, extra: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: "shop" },
    spec: { containers, ...extra },
    status: { phase: "Running", podIP: "10.244.1.9" },
  };
}

describe("API defaults in the fake kube-apiserver", () => {
  it("fills in a pod's spec defaults, so selectors on them match as on a real server", async () => {
    const fake = await serve([
      barePod("web", [{ name: "web", image: "registry.example.com/web:1.2.3" }]),
      barePod("batch", [{ name: "batch", image: "batch:1" }], { restartPolicy: "OnFailure", schedulerName: "volcano" }),
    ]);
    const web = (await read(fake, "/api/v1/namespaces/shop/pods/web")).body;
    expect(web.spec).toMatchObject({
      restartPolicy: "Always",
      schedulerName: "default-scheduler",
      dnsPolicy: "ClusterFirst",
      terminationGracePeriodSeconds: 30,
      securityContext: {},
      enableServiceLinks: true,
    });
    expect(names(await list(fake, "/api/v1/namespaces/shop/pods", { fieldSelector: "spec.restartPolicy=Always" }))).toEqual(["web"]);
    expect(names(await list(fake, "/api/v1/pods", { fieldSelector: "spec.schedulerName=default-scheduler" }))).toEqual(["web"]);
    // A value the fixture gives is kept.
    expect(names(await list(fake, "/api/v1/pods", { fieldSelector: "spec.schedulerName=volcano" }))).toEqual(["batch"]);
  });

  it("pulls :latest and untagged images Always and others IfNotPresent, with the default termination message", async () => {
    const fake = await serve([
      barePod("mixed", [
        { name: "tagged", image: "registry.example.com:5000/shop/web:1.2.3" },
        { name: "latest", image: "busybox:latest" },
        { name: "untagged", image: "registry.example.com:5000/shop/web" },
        { name: "pinned", image: "registry.example.com/shop/web@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" },
      ]),
    ]);
    const containers = (
      (await read(fake, "/api/v1/namespaces/shop/pods/mixed")).body.spec as { containers: Array<Record<string, unknown>> }
    ).containers;
    expect(containers.map((c) => [c.name, c.imagePullPolicy])).toEqual([
      ["tagged", "IfNotPresent"],
      ["latest", "Always"],
      ["untagged", "Always"],
      ["pinned", "IfNotPresent"],
    ]);
    expect(containers[0]).toMatchObject({ terminationMessagePath: "/dev/termination-log", terminationMessagePolicy: "File" });
  });

  it("serves a pod's service account under both names and its IP in both podIP and podIPs", async () => {
    const fake = await serve([barePod("web", [{ name: "web", image: "web:1" }], { serviceAccountName: "web" })]);
    const web = (await read(fake, "/api/v1/namespaces/shop/pods/web")).body as {
      spec: Record<string, unknown>;
      status: Record<string, unknown>;
    };
    expect(web.spec).toMatchObject({ serviceAccountName: "web", serviceAccount: "web" });
    expect(web.status).toMatchObject({ podIP: "10.244.1.9", podIPs: [{ ip: "10.244.1.9" }] });
  });

  it("fills in a Deployment's rollout defaults and its pod template's", async () => {
    const fake = await serve([
      {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "web", namespace: "shop" },
        spec: { selector: { matchLabels: { app: "web" } }, template: { spec: { containers: [{ name: "web", image: "web:2" }] } } },
      },
    ]);
    const deployment = (await read(fake, "/apis/apps/v1/namespaces/shop/deployments/web")).body as { spec: Record<string, unknown> };
    expect(deployment.spec).toMatchObject({
      replicas: 1,
      strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: "25%", maxSurge: "25%" } },
      revisionHistoryLimit: 10,
      progressDeadlineSeconds: 600,
      template: { spec: { restartPolicy: "Always", schedulerName: "default-scheduler" } },
    });
    // SetDefaults_Pod is for Pods only: a template gets no enableServiceLinks.
    expect(deployment.spec.template).not.toHaveProperty("spec.enableServiceLinks");
  });

  it("fills in the defaults playbooks read on Jobs, Secrets, webhooks and API Priority and Fairness objects", async () => {
    const fake = await serve([
      {
        apiVersion: "batch/v1",
        kind: "Job",
        metadata: { name: "nightly", namespace: "ci" },
        spec: {
          template: {
            metadata: { labels: { app: "nightly" } },
            spec: { containers: [{ name: "job", image: "job:1" }], restartPolicy: "Never" },
          },
        },
      },
      { apiVersion: "v1", kind: "Secret", metadata: { name: "token", namespace: "ci" }, data: {} },
      {
        apiVersion: "admissionregistration.k8s.io/v1",
        kind: "ValidatingWebhookConfiguration",
        metadata: { name: "policy" },
        webhooks: [{ name: "check.policy.example.com", clientConfig: { service: { name: "policy", namespace: "policy" } }, rules: [{}] }],
      },
      {
        apiVersion: "flowcontrol.apiserver.k8s.io/v1",
        kind: "PriorityLevelConfiguration",
        metadata: { name: "batch" },
        spec: { type: "Limited", limited: { limitResponse: { type: "Queue", queuing: {} } } },
      },
    ]);
    expect((await read(fake, "/apis/batch/v1/namespaces/ci/jobs/nightly")).body).toMatchObject({
      metadata: { labels: { app: "nightly" } },
      spec: { completions: 1, parallelism: 1, backoffLimit: 6, completionMode: "NonIndexed", suspend: false },
    });
    expect((await read(fake, "/api/v1/namespaces/ci/secrets/token")).body).toMatchObject({ type: "Opaque" });
    expect((await read(fake, "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/policy")).body).toMatchObject({
      webhooks: [
        {
          failurePolicy: "Fail",
          matchPolicy: "Equivalent",
          timeoutSeconds: 10,
          namespaceSelector: {},
          clientConfig: { service: { port: 443 } },
          rules: [{ scope: "*" }],
        },
      ],
    });
    expect((await read(fake, "/apis/flowcontrol.apiserver.k8s.io/v1/prioritylevelconfigurations/batch")).body).toMatchObject({
      spec: {
        limited: {
          nominalConcurrencyShares: 30,
          lendablePercent: 0,
          limitResponse: { queuing: { handSize: 8, queues: 64, queueLengthLimit: 50 } },
        },
      },
    });
  });
});
