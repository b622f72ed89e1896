// A TypeScript route (docs/js.md, "Serving"): `rusm serve` compiles it with
// esbuild (cached, as `rusm run app.ts` does), imports and all.
import type { ServerRequest, ServerResponse } from "rusm";
import { greet } from "./greet.ts";

export function hello(req: ServerRequest): ServerResponse {
  return { status: 200, body: { greeting: greet(req.param("name") ?? "nobody"), typed: true } };
}
