// A SelfSubjectAccessReview answered by the fake API server: the spec echoed, the decision from the `access` option.
import { KubeError } from "./api-errors.ts";
import { json, type Reply } from "./replies.ts";

export const ACCESS_REVIEW_PATH = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";

/** A SelfSubjectAccessReview's spec.resourceAttributes, as the API defines them ("" for the core group). */
export interface ResourceAttributes {
  verb: string;
  group: string;
  resource: string;
  subresource?: string;
  name?: string;
  namespace?: string;
}

/**
 * A SelfSubjectAccessReview: the spec echoed, the decision in status, 201 as for any create (nothing is stored). A
 * spec with no resourceAttributes is refused with 422 as the real validation refuses it. Everything is allowed without
 * `access`.
 */
export function answerAccessReview(body: string, access: ((attributes: ResourceAttributes) => boolean) | undefined): Reply {
  let review: { spec?: { resourceAttributes?: Partial<ResourceAttributes>; nonResourceAttributes?: unknown } };
  try {
    review = JSON.parse(body) as typeof review;
  } catch (error) {
    throw new KubeError(400, `the body of the request was in an unknown format: ${(error as Error).message}`);
  }
  const attributes = review.spec?.resourceAttributes;
  if (attributes === undefined) {
    if (review.spec?.nonResourceAttributes !== undefined) return reviewAnswer(review.spec, true);
    throw new KubeError(
      422,
      'SelfSubjectAccessReview.authorization.k8s.io "" is invalid: spec.resourceAttributes: Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes must be specified',
      {
        group: "authorization.k8s.io",
        kind: "SelfSubjectAccessReview",
      },
    );
  }
  const asked: ResourceAttributes = {
    verb: attributes.verb ?? "",
    group: attributes.group ?? "",
    resource: attributes.resource ?? "",
    ...(attributes.subresource ? { subresource: attributes.subresource } : {}),
    ...(attributes.name ? { name: attributes.name } : {}),
    ...(attributes.namespace ? { namespace: attributes.namespace } : {}),
  };
  // Echoed as Go writes it back: empty strings (the core group "") are left out.
  const echoed = Object.fromEntries(Object.entries(asked).filter(([, value]) => value !== ""));
  return reviewAnswer({ resourceAttributes: echoed }, access?.(asked) ?? true);
}

function reviewAnswer(spec: unknown, allowed: boolean): Reply {
  return json({ kind: "SelfSubjectAccessReview", apiVersion: "authorization.k8s.io/v1", metadata: {}, spec, status: { allowed } }, 201);
}
