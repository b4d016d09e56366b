// Shows each Diagnosis on the console: plain text for a person at a terminal; on a pipe (a pod's stdout, a log
// collector) one JSON log record per diagnosis, so the log stream stays one JSON object per line.
import { type Logger, pino } from "pino";
import { groupVerdictOf } from "../diagnosis/group-verdict.ts";
import type { Diagnosis } from "../model/diagnosis.ts";
import { renderText } from "../render/text.ts";
import type { Sink, SinkOutcome } from "./sink.ts";

/** `text`: the plain-text view; `json`: a `diagnosis` log record through the service's logger. */
export type ConsoleFormat = "text" | "json";

export interface ConsoleSinkOptions {
  /** Where plain text goes; default stdout. */
  stream?: NodeJS.WritableStream;
  /** Forces a format (the demo asks for text even when piped); otherwise text on a terminal, JSON elsewhere. */
  format?: ConsoleFormat;
  /** Whether stdout is a terminal; default `process.stdout.isTTY`. */
  isTTY?: boolean;
  /** The service's logger, which writes the JSON records. */
  logger?: Logger;
}

/** The format a console sink with these options writes. */
export function consoleFormat(options: Pick<ConsoleSinkOptions, "format" | "isTTY"> = {}): ConsoleFormat {
  return options.format ?? ((options.isTTY ?? process.stdout.isTTY === true) ? "text" : "json");
}

export class ConsoleSink implements Sink {
  readonly name = "console";
  readonly format: ConsoleFormat;
  readonly #stream: NodeJS.WritableStream;
  readonly #logger: Logger;

  constructor(options: ConsoleSinkOptions = {}) {
    this.format = consoleFormat(options);
    this.#stream = options.stream ?? process.stdout;
    // A diagnosis is this sink's output, not a log line to filter: LOG_LEVEL=warn must not silence it. Without the
    // service's logger (a CLI), a logger of its own writes the same records to the stream.
    const logger = options.logger ?? pino({ base: { service: "alert-enricher" } }, this.#stream);
    this.#logger = logger.child({ component: "console" }, { level: "info" });
  }

  deliver(diagnosis: Diagnosis): Promise<SinkOutcome> {
    if (this.format === "json") {
      this.#logger.info(diagnosisRecord(diagnosis), "diagnosis");
      return Promise.resolve({ status: "delivered" });
    }
    const text = `${renderText(diagnosis)}\n`;
    return new Promise((resolve) => {
      // Waiting for the callback respects back-pressure; a broken pipe will not heal on retry, so it is a failure.
      this.#stream.write(text, (error) => {
        resolve(error ? { status: "failed", error: `console write failed: ${error.message}` } : { status: "delivered" });
      });
    });
  }
}

/** The headline a log search filters on, and the whole plain-text diagnosis as one string. */
export function diagnosisRecord(diagnosis: Diagnosis): Record<string, unknown> {
  const { verdict, cause } = groupVerdictOf(diagnosis);
  return {
    notification: diagnosis.notificationId,
    group: diagnosis.groupKey,
    status: diagnosis.status,
    verdict,
    ...(cause !== undefined ? { cause: { id: cause.id, title: cause.title } } : {}),
    text: renderText(diagnosis),
  };
}
