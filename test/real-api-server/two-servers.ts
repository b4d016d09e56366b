// One GET sent to the real kube-apiserver (as its admin, over HTTPS) and to the fake (plain HTTP), answered as raw
// JSON or text with the Content-Type each gave: what a client sees, before any client library reads it.
import { readFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { Agent, request as httpsRequest } from "node:https";
import type { FakeKubeApi } from "../../testkit/fixture-cluster.ts";
import type { RealKubeApi } from "../support/kube-apiserver.ts";

export interface RawAnswer {
  status: number;
  /** undefined when the server sent no Content-Type. */
  contentType: string | undefined;
  /** Parsed JSON for application/json, else the text as sent ("" for no body). */
  body: unknown;
}

export interface TwoAnswers {
  real: RawAnswer;
  fake: RawAnswer;
}

export interface TwoServers {
  /** The same request to both. */
  get(pathAndQuery: string): Promise<TwoAnswers>;
  real(pathAndQuery: string): Promise<RawAnswer>;
  fake(pathAndQuery: string): Promise<RawAnswer>;
  close(): void;
}

function adminToken(api: RealKubeApi): string {
  const config = JSON.parse(readFileSync(api.adminKubeconfig, "utf8")) as { users: Array<{ user: { token: string } }> };
  const token = config.users[0]?.user.token;
  if (!token) throw new Error(`no token in ${api.adminKubeconfig}`);
  return token;
}

function read(send: typeof httpRequest, url: string, options: { agent?: Agent; headers: Record<string, string> }): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = send(url, { method: "GET", ...options }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        const contentType = res.headers["content-type"];
        let body: unknown = text;
        if (contentType?.startsWith("application/json")) body = JSON.parse(text) as unknown;
        resolve({ status: res.statusCode ?? 0, contentType, body });
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

export function twoServers(real: RealKubeApi, fake: FakeKubeApi): TwoServers {
  const agent = new Agent({ rejectUnauthorized: false, keepAlive: true });
  // As kubectl asks: JSON where there is a choice, anything (a log's text) where there is not.
  const accept = "application/json, */*";
  const headers = { Authorization: `Bearer ${adminToken(real)}`, Accept: accept };
  const fromReal = (pathAndQuery: string) => read(httpsRequest as typeof httpRequest, `${real.url}${pathAndQuery}`, { agent, headers });
  const fromFake = (pathAndQuery: string) => read(httpRequest, `${fake.url}${pathAndQuery}`, { headers: { Accept: accept } });
  return {
    async get(pathAndQuery) {
      const [realAnswer, fakeAnswer] = await Promise.all([fromReal(pathAndQuery), fromFake(pathAndQuery)]);
      return { real: realAnswer, fake: fakeAnswer };
    },
    real: fromReal,
    fake: fromFake,
    close: () => agent.destroy(),
  };
}
