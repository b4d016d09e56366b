// Plain HTTP reads of the fake kube-apiserver, for tests that check the exact JSON it answers, as a real one would.
import { afterEach } from "vitest";
import type { KubeObject } from "../../testkit/kube-object.ts";
import { type ClusterState, type FakeKubeApi, startFakeKubeApi } from "../../testkit/fixture-cluster.ts";

export interface Answer {
  status: number;
  body: Record<string, unknown>;
}

export interface ListBody {
  metadata: { continue?: string; remainingItemCount?: number; resourceVersion?: string };
  items: KubeObject[];
}

let running: FakeKubeApi | undefined;

afterEach(async () => {
  await running?.close();
  running = undefined;
});

/** Starts the fake with these objects; it is closed after the test. */
export async function serve(objects: KubeObject[], logs: ClusterState["logs"] = {}): Promise<FakeKubeApi> {
  running = await startFakeKubeApi({ objects, logs });
  return running;
}

/** GET `path` with the query parameters given, e.g. `{ fieldSelector: "type=Warning", limit: "2" }`. */
export async function read(fake: FakeKubeApi, path: string, query: Record<string, string> = {}): Promise<Answer> {
  const search = new URLSearchParams(query).toString();
  const response = await fetch(`${fake.url}${path}${search ? `?${search}` : ""}`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** A list that must succeed. */
export async function list(fake: FakeKubeApi, path: string, query: Record<string, string> = {}): Promise<ListBody> {
  const answer = await read(fake, path, query);
  if (answer.status !== 200) throw new Error(`GET ${path} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  return answer.body as unknown as ListBody;
}

export function names(body: ListBody): string[] {
  return body.items.map((o) => o.metadata.name);
}
