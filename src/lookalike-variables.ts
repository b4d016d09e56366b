// Environment variables that look like settings of this service but are none. A typo (SLACK_WEBHOOK) or another
// tool's name (PAGERDUTY_INTEGRATION_KEY) is otherwise ignored without a word, and the sink it meant stays off.
import { CONFIG_VARIABLES } from "./config.ts";

export interface LookalikeVariable {
  /** The name as set; its value is never read, let alone shown: it may be a secret. */
  variable: string;
  /** The setting it most likely meant, when one is close enough to suggest. */
  suggestion?: string;
  message: string;
}

/** Names starting with these (in any case) are taken to be meant for this service. */
const OUR_PREFIXES = [
  "SLACK_",
  "PAGERDUTY_",
  "PROMETHEUS_",
  "KUBE",
  "STORM_",
  "DELIVERY_",
  "REPORT_",
  "CLUSTER",
  "AUDIT_LOG",
  "WEBHOOK_",
  "ALERTMANAGER_",
  "ALERT_RULES",
  "PLAYBOOK_",
  "WORK_LEASE",
  "CIRCUIT_BREAKER",
  "READ_CACHE",
  "MAX_INFLIGHT",
  "DEDUP_",
];

/** Names other tools give for the same thing, where spelling alone would not lead to ours. */
const ALIASES: Readonly<Record<string, string>> = {
  PAGERDUTY_INTEGRATION_KEY: "PAGERDUTY_ROUTING_KEY",
  PAGERDUTY_SERVICE_KEY: "PAGERDUTY_ROUTING_KEY",
  PAGERDUTY_EVENTS_KEY: "PAGERDUTY_ROUTING_KEY",
  SLACK_URL: "SLACK_WEBHOOK_URL",
  SLACK_HOOK: "SLACK_WEBHOOK_URL",
  SLACK_API_TOKEN: "SLACK_BOT_TOKEN",
  PROMETHEUS_ADDRESS: "PROMETHEUS_URL",
  PROMETHEUS_ENDPOINT: "PROMETHEUS_URL",
  PROMETHEUS_HOST: "PROMETHEUS_URL",
  AUDIT_LOG_FILE: "AUDIT_LOG_PATH",
};

/**
 * Names that are not ours although they share a prefix: the variables Kubernetes sets in every pod for each Service
 * of the namespace (PROMETHEUS_SERVICE_HOST, SLACK_PORT_443_TCP_ADDR, KUBERNETES_SERVICE_PORT_HTTPS, …), and
 * kubectl's own.
 */
const NOT_OURS = [
  /_(SERVICE_HOST|SERVICE_PORT(_[A-Z0-9_]+)?|PORT(_\d+_(TCP|UDP|SCTP)(_(PROTO|PORT|ADDR))?)?)$/,
  /^KUBECTL_/,
  /^(KUBE_EDITOR|KUBECACHEDIR|KUBERC)$/,
];

/** One warning per variable of `env` that has one of our prefixes but is no setting, sorted by name. */
export function lookalikeVariables(env: NodeJS.ProcessEnv, known: readonly string[] = CONFIG_VARIABLES): LookalikeVariable[] {
  const knownNames = new Set(known);
  const found: LookalikeVariable[] = [];
  for (const variable of Object.keys(env).sort()) {
    if (knownNames.has(variable)) continue;
    const upper = variable.toUpperCase();
    if (!OUR_PREFIXES.some((prefix) => upper.startsWith(prefix))) continue;
    if (NOT_OURS.some((pattern) => pattern.test(upper))) continue;
    const suggestion = closestSetting(upper, known);
    found.push({
      variable,
      ...(suggestion !== undefined ? { suggestion } : {}),
      message:
        suggestion !== undefined
          ? `${variable} is not a setting; did you mean ${suggestion}?`
          : `${variable} is not a setting of alert-enricher and is ignored`,
    });
  }
  return found;
}

/**
 * The setting an unknown (upper-cased) name most likely meant: its own spelling in another case, an alias, a setting
 * with all of its words (SLACK_TOKEN → SLACK_BOT_TOKEN), or the nearest by edit distance if near enough.
 */
function closestSetting(name: string, known: readonly string[]): string | undefined {
  if (known.includes(name)) return name;
  const alias = ALIASES[name];
  if (alias !== undefined && known.includes(alias)) return alias;
  const words = name.split("_").filter(Boolean);
  const containing = known.filter((candidate) => words.every((word) => candidate.split("_").includes(word)));
  const nearest = (candidates: readonly string[]) =>
    candidates
      .map((candidate) => ({ candidate, distance: editDistance(name, candidate) }))
      .sort((a, b) => a.distance - b.distance || a.candidate.localeCompare(b.candidate))[0];
  if (containing.length > 0) return nearest(containing)?.candidate;
  const best = nearest(known);
  return best !== undefined && best.distance <= Math.max(2, Math.floor(name.length / 4)) ? best.candidate : undefined;
}

/** Edits (insert, delete, replace, swap two neighbours) from `a` to `b`: the optimal string alignment distance. */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const columns = b.length + 1;
  const d: number[] = new Array<number>(rows * columns).fill(0);
  const at = (i: number, j: number) => d[i * columns + j] as number;
  for (let i = 0; i < rows; i++) d[i * columns] = i;
  for (let j = 0; j < columns; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < columns; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) value = Math.min(value, at(i - 2, j - 2) + 1);
      d[i * columns + j] = value;
    }
  }
  return at(a.length, b.length);
}
