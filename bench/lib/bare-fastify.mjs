// A child of `npm run bench -- idle`: fastify with one route on 127.0.0.1:$PORT, what a web service on this framework
// costs before it does anything of its own. JavaScript, as the service's bundle is: no type stripper loaded.
import Fastify from "fastify";

const port = Number(process.env.PORT);
if (!Number.isInteger(port) || port <= 0) throw new Error("bare-fastify.mjs: set PORT to the port to listen on");
const app = Fastify({ logger: false });
app.get("/readyz", async () => "ok");
await app.listen({ port, host: "127.0.0.1" });
process.on("SIGTERM", () => {
  app.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
