// Removes credentials from text taken out of a cluster (pod logs) before it is stored or forwarded anywhere.

const RULES: Array<[RegExp, string]> = [
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g, "[REDACTED private key]"],
  [/\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g, "[REDACTED jwt]"],
  [/\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi, "$1 [REDACTED]"],
  [/\bxox[abposr]-[A-Za-z0-9-]{10,}/g, "[REDACTED slack token]"],
  [/hooks\.slack\.com\/services\/[A-Za-z0-9/]+/g, "hooks.slack.com/services/[REDACTED]"],
  [/\bAKIA[0-9A-Z]{16}\b/g, "[REDACTED aws key]"],
  [/\bgh[pousr]_[A-Za-z0-9]{20,}\b/g, "[REDACTED github token]"],
  [/(:\/\/)[^/\s:@]+:[^/\s@]+@/g, "$1[REDACTED]@"],
  // Not a Kubernetes type name: client-go logs "failed to list *v1.Secret: Unauthorized", where the error is no secret.
  [
    /(?<!\bv\d+(?:(?:alpha|beta)\d+)?\.)\b((?:[A-Za-z0-9_-]*?)(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credentials?))(["']?\s*[=:]\s*["']?)[^\s"',;&}]+/gi,
    "$1$2[REDACTED]",
  ],
];

export function redact(text: string): string {
  let result = text;
  for (const [pattern, replacement] of RULES) result = result.replace(pattern, replacement);
  return result;
}
