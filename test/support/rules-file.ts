// The shape of a Prometheus rules file, as the tests of the shipped and self-monitoring rules read it.

export interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface RuleGroup {
  name: string;
  rules: Rule[];
}

export interface RulesFile {
  groups: RuleGroup[];
}
