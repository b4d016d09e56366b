// Every kind of playbook step, by the key a rule file's step uses for it.
import type { StepKind as StepKindName } from "../../model/diagnosis.ts";
import { auditStep } from "./audit.ts";
import { kubernetesStep } from "./kubernetes.ts";
import { logsStep } from "./logs.ts";
import { prometheusStep } from "./prometheus.ts";
import type { StepKind } from "./step-kind.ts";

/**
 * A kind with its spec and request types erased: each module is typed in full, and the engine only ever hands a kind
 * the spec its schema validated and the request it built itself.
 */
export type AnyStepKind = StepKind<unknown, unknown>;

function erased<Spec, Request>(kind: StepKind<Spec, Request>): AnyStepKind {
  return kind as unknown as AnyStepKind;
}

export const STEP_KINDS: Readonly<Record<StepKindName, AnyStepKind>> = {
  kubernetes: erased(kubernetesStep),
  logs: erased(logsStep),
  prometheus: erased(prometheusStep),
  audit: erased(auditStep),
};

export const STEP_KIND_NAMES = Object.keys(STEP_KINDS) as StepKindName[];
