// The requests the playbooks make, collected rather than listed by hand: every case of rules/tests is run on the fake
// API server, and what it was asked is reduced to shapes (method, path with its names, query keys and values; a
// continue token is the server's own, so it is left out and the shape's pages are followed instead).
import { type ClusterState, type RecordedKubeRequest, startFakeKubeApi } from "../../testkit/fixture-cluster.ts";
import { type LoadedTestFile, runCasesOn } from "../../testkit/run-playbook-tests.ts";

export interface RequestShape {
  method: string;
  path: string;
  query: Record<string, string>;
}

export interface CollectedCase {
  at: Date;
  state: ClusterState;
}

export interface CollectedShapes {
  shapes: RequestShape[];
  /** Every case's cluster and clock, as served. */
  cases: CollectedCase[];
  /** How many requests the cases made in all. */
  requests: number;
}

export function shapeOf(request: Pick<RecordedKubeRequest, "method" | "path" | "query">): RequestShape {
  const query = Object.fromEntries(Object.entries(request.query).filter(([key]) => key !== "continue"));
  return { method: request.method, path: request.path, query };
}

/** "GET /api/v1/pods?labelSelector=app%3Dweb&limit=20": the query in key order, as a URL would carry it. */
export function shapeText(shape: RequestShape): string {
  return `${shape.method} ${pathAndQuery(shape.path, shape.query)}`;
}

export function pathAndQuery(path: string, query: Record<string, string>): string {
  const search = new URLSearchParams(Object.entries(query).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))).toString();
  return search === "" ? path : `${path}?${search}`;
}

/** Runs every case on a fake of its own (the files side by side, each file's cases in turn) and keeps what they asked. */
export async function collectRequestShapes(files: LoadedTestFile[]): Promise<CollectedShapes> {
  const byText = new Map<string, RequestShape>();
  const cases: CollectedCase[] = [];
  let requests = 0;
  await Promise.all(
    files.map((file) =>
      runCasesOn([file], async (state, at) => {
        const fake = await startFakeKubeApi(state, { now: () => at });
        cases.push({ at, state });
        return {
          kubeconfigPath: fake.kubeconfigPath,
          writes: () => [],
          close: async () => {
            for (const request of fake.requests) {
              requests++;
              const shape = shapeOf(request);
              byText.set(shapeText(shape), shape);
            }
            await fake.close();
          },
        };
      }),
    ),
  );
  const shapes = [...byText.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, shape]) => shape);
  return { shapes, cases, requests };
}
