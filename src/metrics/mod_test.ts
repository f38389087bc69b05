import { register } from "prom-client";
import { assert, assertEquals } from "../progress/testing.ts";
import { createMetrics } from "./mod.ts";

Deno.test("createMetrics uses a registry of its own, so two sets of metrics never collide", async () => {
  const a = createMetrics();
  const b = createMetrics();
  a.wsMessagesSent.inc({ type: "pong" });
  assert((await a.registry.metrics()).includes('biogpu_ws_messages_sent_total{type="pong"} 1'));
  assert(!(await b.registry.metrics()).includes('type="pong"'));
  assertEquals(register.getSingleMetric("biogpu_jobs_total"), undefined);
});

Deno.test("every metric name starts with biogpu_", async () => {
  const names = (await createMetrics().registry.getMetricsAsJSON()).map((m) => m.name);
  assert(names.length >= 14);
  for (const n of names) assert(n.startsWith("biogpu_"), n);
});
