// Writes each Diagnosis as plain text to a stream: the sink for local runs, demos and logs.
import type { Diagnosis } from "../model/diagnosis.ts";
import { renderText } from "../render/text.ts";
import type { Sink, SinkOutcome } from "./sink.ts";

export class ConsoleSink implements Sink {
  readonly name = "console";
  readonly #stream: NodeJS.WritableStream;

  constructor(stream: NodeJS.WritableStream = process.stdout) {
    this.#stream = stream;
  }

  deliver(diagnosis: Diagnosis): Promise<SinkOutcome> {
    const text = `${renderText(diagnosis)}\n`;
    return new Promise((resolve) => {
      // Waiting for the callback respects back-pressure; a broken pipe will not heal on retry, so it is a failure.
      this.#stream.write(text, (error) => {
        resolve(error ? { status: "failed", error: `console write failed: ${error.message}` } : { status: "delivered" });
      });
    });
  }
}
