// The Dockerfile cannot be built here (no Docker engine), so its promises are checked where they can be: the
// image runs as an unprivileged user with Deno's cache baked in, starts without the network, can write its
// index cache, and pins the Deno that CI tests.
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url).pathname;
const dockerfile = await Deno.readTextFile(`${ROOT}Dockerfile`);

interface Instruction {
  op: string;
  args: string;
}

/** Dockerfile instructions in order, continuation lines joined and comments dropped. */
function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  const logical = text.replace(/\\\n/g, " ").split("\n");
  for (const line of logical) {
    const t = line.trim();
    if (t === "" || t.startsWith("#")) continue;
    const m = /^(\S+)\s+(.*)$/.exec(t);
    if (m) out.push({ op: m[1].toUpperCase(), args: m[2] });
  }
  return out;
}

/** `ENV` values set before instruction `before` (all when undefined). */
function envBefore(list: Instruction[], before = list.length): Map<string, string> {
  const env = new Map<string, string>();
  for (const ins of list.slice(0, before)) {
    if (ins.op !== "ENV") continue;
    for (const m of ins.args.matchAll(/(\w+)=(\S+)/g)) env.set(m[1], m[2]);
  }
  return env;
}

const list = instructions(dockerfile);

Deno.test("Dockerfile: Deno's cache is a fixed folder set before the packages are cached", () => {
  const cacheStep = list.findIndex((i) => i.op === "RUN" && /deno install --frozen/.test(i.args));
  assert.ok(cacheStep >= 0, "no RUN step caches the npm packages with `deno install --frozen`");
  const denoDir = envBefore(list, cacheStep).get("DENO_DIR");
  assert.ok(denoDir, "DENO_DIR is not set before `deno install`: the runtime user would not find the cache");
  assert.match(list[cacheStep].args, new RegExp(`chmod -R a\\+rX ${denoDir}`));
});

Deno.test("Dockerfile: the service starts without the network, as an unprivileged user", () => {
  const user = list.filter((i) => i.op === "USER").at(-1)?.args;
  assert.ok(user && user !== "root" && user !== "0", `the image runs as ${user ?? "root"}`);
  const entry = list.filter((i) => i.op === "ENTRYPOINT").at(-1)?.args ?? "";
  assert.deepEqual(JSON.parse(entry).slice(0, 4), ["deno", "run", "-A", "--cached-only"]);
});

Deno.test("Dockerfile: the index cache folder exists and belongs to the runtime user", () => {
  const user = list.filter((i) => i.op === "USER").at(-1)?.args;
  const cacheDir = envBefore(list).get("DB_CACHE_DIR");
  assert.ok(cacheDir, "DB_CACHE_DIR is not set in the image");
  const runs = list.filter((i) => i.op === "RUN").map((i) => i.args).join("\n");
  assert.match(runs, new RegExp(`mkdir -p [^\\n]*${cacheDir}`));
  assert.match(runs, new RegExp(`chown ${user}(:\\w+)? ${cacheDir}`));
});

Deno.test("Dockerfile: the image pins the Deno version that CI installs", async () => {
  const ci = await Deno.readTextFile(`${ROOT}.ci/run`);
  const ciVersion = /DENO_VERSION=\$?\{?[^0-9]*([0-9]+\.[0-9]+\.[0-9]+)/.exec(ci)?.[1];
  const imageVersion = /ARG DENO_VERSION=([0-9.]+)/.exec(dockerfile)?.[1];
  assert.ok(ciVersion, "no DENO_VERSION in .ci/run");
  assert.equal(imageVersion, ciVersion);
  assert.equal(Deno.version.deno, ciVersion, "this Deno is not the one CI pins");
});

Deno.test("the program starts from Deno's cache alone (--cached-only, as the image's entry point runs it)", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--cached-only", "--quiet", `${ROOT}main.ts`, "version"],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  assert.match(new TextDecoder().decode(out.stdout), /^biogpu-stream \d+\.\d+\.\d+\n/);
});
