// Whether a remediation is a command to paste into a shell or advice to read: only commands get a Copy button.

/** Programs the playbooks' commands start with, and the ones an operator runs beside them. */
const COMMAND_PROGRAMS = new Set([
  "kubectl",
  "kubeadm",
  "ssh",
  "sudo",
  "etcdctl",
  "crictl",
  "journalctl",
  "systemctl",
  "openssl",
  "curl",
  "helm",
  "az",
  "aws",
  "gcloud",
  "eksctl",
  "amtool",
  "promtool",
]);

/**
 * True when the text starts with a known program ("kubectl -n x get pods"), not with words ("Check the …"). A shell
 * comment counts: it stands where a command was withheld (engine/template.ts) and pastes harmlessly.
 */
export function isCommand(remediation: string): boolean {
  const text = remediation.trimStart();
  if (text.startsWith("#")) return true;
  return COMMAND_PROGRAMS.has(text.split(/\s+/, 1)[0] ?? "");
}
