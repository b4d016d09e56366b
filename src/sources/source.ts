// What every source returns to the engine, and the error it throws when a read fails in a way a person should see.

export interface SourceOutput {
  /** What conditions and templates see as `steps.<id>`. */
  data: Record<string, unknown>;
  /** The call, as a person would write it. */
  request: string;
  /** One line on the result. */
  summary: string;
}

/**
 * A failed read, with a message fit for the diagnosis ("API server answered 403 Forbidden: …"). `backendTrouble`
 * says the backend itself is failing (no answer, 5xx, 429) rather than refusing this one request (403, 404, a bad
 * query): only that counts towards the circuit breaker. `retryAfterMs` is the backend's own Retry-After.
 */
export class SourceError extends Error {
  readonly backendTrouble: boolean;
  readonly retryAfterMs: number | undefined;

  constructor(message: string, options: { backendTrouble?: boolean; retryAfterMs?: number } = {}) {
    super(message);
    this.backendTrouble = options.backendTrouble ?? false;
    this.retryAfterMs = options.retryAfterMs;
  }
}
