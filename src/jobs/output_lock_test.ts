import assert from "node:assert/strict";
import { classify } from "./errors.ts";
import { LOCK_FILE, lockOutput, OutputBusyError } from "./output_lock.ts";

const owner = (job_id: string) => ({ job_id, worker_id: `w-${job_id}` });

Deno.test("an output folder's lock is exclusive, names its holder to a waiter that gives up, and is released", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const a = await lockOutput(dir, owner("a"));
    const held = JSON.parse(await Deno.readTextFile(`${dir}/${LOCK_FILE}`));
    assert.equal(held.job_id, "a");
    assert.equal(held.worker_id, "w-a");
    assert.equal(held.pid, Deno.pid);
    const t0 = Date.now();
    await assert.rejects(lockOutput(dir, owner("b"), { waitMs: 300 }), (e) => {
      assert.ok(e instanceof OutputBusyError);
      assert.match(
        e.message,
        /^Output folder is in use by job a on worker w-a \(host .+, since .+\); waited 0 s \(/,
      );
      assert.ok(e.message.endsWith(`(${dir})`));
      return true;
    });
    assert.ok(Date.now() - t0 >= 300);
    await a.release();
    await a.release(); // idempotent
    await assert.rejects(Deno.stat(`${dir}/${LOCK_FILE}`), Deno.errors.NotFound);
    const b = await lockOutput(dir, owner("b"), { waitMs: 0 });
    await b.release();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a waiter takes the lock as soon as its holder releases it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const a = await lockOutput(dir, owner("a"));
    setTimeout(() => a.release(), 200);
    const b = await lockOutput(dir, owner("b"), { waitMs: 5000 });
    assert.equal(JSON.parse(await Deno.readTextFile(b.path)).job_id, "b");
    await b.release();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a lock its holder stopped touching is stale and taken over; the old holder then leaves it alone", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const crashed = await lockOutput(dir, owner("a"), { heartbeatMs: 60_000 });
    const past = new Date(Date.now() - 120_000);
    await Deno.utime(crashed.path, past, past);
    const b = await lockOutput(dir, owner("b"), { waitMs: 0, staleMs: 60_000 });
    assert.equal(JSON.parse(await Deno.readTextFile(b.path)).job_id, "b");
    await crashed.release(); // not its lock any more
    assert.equal(JSON.parse(await Deno.readTextFile(b.path)).job_id, "b");
    await b.release();
    // a lock file left empty by a crash is judged by its age alone
    await Deno.writeTextFile(`${dir}/${LOCK_FILE}`, "");
    await Deno.utime(`${dir}/${LOCK_FILE}`, past, past);
    const c = await lockOutput(dir, owner("c"), { waitMs: 0 });
    await c.release();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a live holder keeps its lock fresh: it is not taken as stale however long it runs", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const a = await lockOutput(dir, owner("a"), { staleMs: 300, heartbeatMs: 50 });
    await new Promise((r) => setTimeout(r, 700));
    await assert.rejects(lockOutput(dir, owner("b"), { waitMs: 100, staleMs: 300 }), OutputBusyError);
    await a.release();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("aborting a wait for the lock rejects with the signal's reason", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const a = await lockOutput(dir, owner("a"));
    const ac = new AbortController();
    setTimeout(() => ac.abort("shutdown"), 100);
    await assert.rejects(
      lockOutput(dir, owner("b"), { waitMs: 10_000, signal: ac.signal }),
      (e) => e === "shutdown",
    );
    await a.release();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a busy output folder is a transient failure (retried)", () => {
  assert.deepEqual(classify(new OutputBusyError("Output folder is in use")), {
    errorClass: "transient",
    code: "OUTPUT_BUSY",
    message: "Output folder is in use",
  });
});

Deno.test("a lock left by an ended process of this host, or by this pid's predecessor, is taken at once", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const lockUrl = new URL("./output_lock.ts", import.meta.url).href;
    // a process that takes the lock and dies without releasing it (as under SIGKILL)
    const child = await new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `import { lockOutput } from "${lockUrl}"; await lockOutput(${
          JSON.stringify(dir)
        }, { job_id: "dead", worker_id: "w" }); Deno.exit(0);`,
      ],
    }).output();
    assert.equal(child.code, 0, new TextDecoder().decode(child.stderr));
    assert.equal(JSON.parse(await Deno.readTextFile(`${dir}/${LOCK_FILE}`)).job_id, "dead");
    const a = await lockOutput(dir, owner("a"), { waitMs: 0 });
    assert.equal(JSON.parse(await Deno.readTextFile(a.path)).job_id, "a");
    await a.release();
    // this pid and host, but not a lock this process holds: a restarted container's predecessor
    await Deno.writeTextFile(
      `${dir}/${LOCK_FILE}`,
      JSON.stringify({
        token: "old",
        job_id: "before",
        worker_id: "w",
        host: Deno.hostname(),
        pid: Deno.pid,
      }),
    );
    const b = await lockOutput(dir, owner("b"), { waitMs: 0 });
    await b.release();
    // another host's fresh lock is not judged by pid: it waits
    await Deno.writeTextFile(
      `${dir}/${LOCK_FILE}`,
      JSON.stringify({ token: "x", job_id: "far", worker_id: "w", host: "elsewhere", pid: Deno.pid }),
    );
    await assert.rejects(lockOutput(dir, owner("c"), { waitMs: 0 }), /in use by job far/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a holder whose lock is taken over is told, once, and stops touching the file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    let told = 0;
    const a = await lockOutput(dir, owner("a"), { staleMs: 600, heartbeatMs: 50, onLost: () => told++ });
    await Deno.writeTextFile(a.path, JSON.stringify({ token: "other", job_id: "b", worker_id: "w-b" }));
    const past = new Date(Date.now() - 10_000);
    await Deno.utime(a.path, past, past);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(told, 1);
    assert.ok((await Deno.stat(a.path)).mtime!.getTime() < Date.now() - 5_000, "the other lock was touched");
    await a.release();
    assert.equal(JSON.parse(await Deno.readTextFile(a.path)).job_id, "b"); // not its own: left in place
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
