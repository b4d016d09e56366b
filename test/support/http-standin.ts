// The HTTP plumbing both service stand-ins share: a loopback server, scripted failures (status, Retry-After, hang) and clean shutdown.
import type { IncomingMessage } from "node:http";
import { listenOnLoopback } from "../../testkit/loopback-server.ts";

export interface ScriptedFailure {
  /** The HTTP status to answer with (429, 500, 400…). Ignored when `hang` is set. */
  status?: number;
  /** The body to send; the stand-in picks the service's usual body for the status when left out. */
  body?: string;
  /** Sent as the Retry-After header, in seconds. */
  retryAfterSeconds?: number;
  /** Accept the request and never answer, to exercise client timeouts. */
  hang?: boolean;
}

export interface StandInReply {
  status: number;
  body: string;
  contentType: string;
  headers?: Record<string, string>;
}

export interface HttpStandIn {
  url: string;
  failNext(count: number, failure: ScriptedFailure): void;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 2 * 1024 * 1024;

/**
 * Runs `handle` for every request that no scripted failure claims. Bodies over 2 MB are cut off,
 * which is far above what either service accepts, so the handler still sees "too big".
 */
export async function startHttpStandIn(
  handle: (request: IncomingMessage, body: Buffer) => StandInReply,
  defaultFailureBody: (status: number) => { body: string; contentType: string },
): Promise<HttpStandIn> {
  const script: ScriptedFailure[] = [];

  const server = await listenOnLoopback((request, response) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    request.on("end", () => {
      const failure = script.shift();
      if (failure?.hang === true) {
        server.hold(response);
        return;
      }
      const reply: StandInReply =
        failure !== undefined
          ? {
              status: failure.status ?? 500,
              ...(failure.body !== undefined
                ? { body: failure.body, contentType: "text/plain" }
                : defaultFailureBody(failure.status ?? 500)),
              headers: failure.retryAfterSeconds !== undefined ? { "Retry-After": String(failure.retryAfterSeconds) } : undefined,
            }
          : handle(request, Buffer.concat(chunks));
      response.writeHead(reply.status, { "Content-Type": reply.contentType, ...reply.headers });
      response.end(reply.body);
    });
  });

  return {
    url: server.url,
    failNext(count, failure) {
      for (let i = 0; i < count; i += 1) script.push(failure);
    },
    close: () => server.close(),
  };
}

/** A loopback URL nothing listens on, for "connection refused". */
export async function refusedUrl(path = "/"): Promise<string> {
  const server = await listenOnLoopback(() => {});
  await server.close();
  return `${server.url}${path}`;
}
