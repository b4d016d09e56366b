// How the fake API server fails: a KubeError carries the HTTP code, and the Status body says it as the real server does.
import { LabelSelectorError } from "./label-selectors.ts";
import { QueryParameterError } from "./query-parameters.ts";

export interface KubeStatus {
  kind: "Status";
  apiVersion: "v1";
  metadata: Record<string, string>;
  status: "Failure";
  message: string;
  reason: string;
  details?: Record<string, unknown>;
  code: number;
}

export class KubeError extends Error {
  readonly code: number;
  readonly details: Record<string, unknown> | undefined;
  readonly statusMetadata: Record<string, string> | undefined;

  constructor(code: number, message: string, details?: Record<string, unknown>, statusMetadata?: Record<string, string>) {
    super(message);
    this.code = code;
    this.details = details;
    this.statusMetadata = statusMetadata;
  }
}

export const REASON_BY_CODE: Record<number, string> = {
  400: "BadRequest",
  401: "Unauthorized",
  403: "Forbidden",
  404: "NotFound",
  405: "MethodNotAllowed",
  409: "Conflict",
  410: "Expired",
  422: "Invalid",
  429: "TooManyRequests",
  500: "InternalError",
  503: "ServiceUnavailable",
  504: "Timeout",
};

export const NOT_FOUND_MESSAGE = "the server could not find the requested resource";

/** A path the API server has no such resource, version or subresource under: a Status with empty details. */
export function noSuchResource(): KubeError {
  return new KubeError(404, NOT_FOUND_MESSAGE, {});
}

export function statusBody(error: KubeError): KubeStatus {
  const reason = REASON_BY_CODE[error.code] ?? (error.code >= 500 ? "InternalError" : "BadRequest");
  const body: KubeStatus = {
    kind: "Status",
    apiVersion: "v1",
    metadata: error.statusMetadata ?? {},
    status: "Failure",
    message: error.message,
    reason,
    code: error.code,
  };
  if (error.details) body.details = error.details;
  return body;
}

/** What a request failed with, as the API server would answer it. */
export function knownError(error: unknown): KubeError {
  if (error instanceof KubeError) return error;
  if (error instanceof QueryParameterError || error instanceof LabelSelectorError) return new KubeError(400, error.message);
  return new KubeError(500, error instanceof Error ? error.message : String(error));
}
