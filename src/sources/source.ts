// What every source returns to the engine, and the error it throws when a read fails in a way a person should see.

export interface SourceOutput {
  /** What conditions and templates see as `steps.<id>`. */
  data: Record<string, unknown>;
  /** The call, as a person would write it. */
  request: string;
  /** One line on the result. */
  summary: string;
}

/** A failed read, with a message fit for the diagnosis ("API server answered 403 Forbidden: …"). */
export class SourceError extends Error {}
