// What the fake API server answers: a status, a content type and a body.
import { type KubeError, statusBody } from "./api-errors.ts";

export interface Reply {
  status: number;
  /** "" sends no Content-Type header. */
  contentType: string;
  body: string;
  headers?: Record<string, string>;
}

/** http.NotFound's page, for a path outside every API. */
export const PAGE_NOT_FOUND: Reply = { status: 404, contentType: "text/plain; charset=utf-8", body: "404 page not found\n" };

export function json(body: unknown, status = 200): Reply {
  return { status, contentType: "application/json", body: JSON.stringify(body) };
}

export function failure(error: KubeError): Reply {
  const reply = json(statusBody(error), error.code);
  if (error.code === 429) reply.headers = { "Retry-After": "1" };
  return reply;
}
