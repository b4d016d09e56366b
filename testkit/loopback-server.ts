// The HTTP server every test fake runs on: 127.0.0.1 on a free port, a 500 for a handler that fails, and a shutdown that also ends responses kept open.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface LoopbackServer {
  /** `http://127.0.0.1:<port>`, without a trailing slash. */
  url: string;
  /** Keep this response open until close() (simulates a peer that never answers). */
  hold(response: ServerResponse): void;
  /** Destroys held responses, closes every connection and waits until the server has stopped; later calls return the same promise. */
  close(): Promise<void>;
}

/**
 * Listens on 127.0.0.1 on a free port and runs `handle` for every request. When an async handler
 * rejects (or a handler throws) before anything was sent, the request is answered 500 text/plain.
 */
export async function listenOnLoopback(
  handle: (request: IncomingMessage, response: ServerResponse) => void | Promise<void>,
): Promise<LoopbackServer> {
  const held = new Set<ServerResponse>();
  let closing: Promise<void> | undefined;

  const server = createServer((request, response) => {
    (async () => handle(request, response))().catch((error: unknown) => {
      if (!response.headersSent && !response.destroyed) {
        response.writeHead(500, { "Content-Type": "text/plain" });
        response.end(String(error));
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    hold(response) {
      if (closing !== undefined) response.destroy();
      else held.add(response);
    },
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        for (const response of held) response.destroy();
        held.clear();
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

/** A loopback port free at this moment (nothing listens on it once this resolves). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
