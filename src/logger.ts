// The service's logger: pino, JSON lines, credentials redacted wherever they appear in a record.
import { type Logger, pino } from "pino";

export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: "alert-enricher" },
    redact: {
      paths: ["req.headers.authorization", "headers.authorization", "*.token", "*.password", "*.routingKey", "*.webhookUrl"],
      censor: "[REDACTED]",
    },
  });
}
