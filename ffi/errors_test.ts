import assert from "node:assert/strict";
import {
  CancelledError,
  checkPath,
  checkPaths,
  DatabaseError,
  DeviceError,
  EngineError,
  errorFor,
  InputError,
  Status,
  statusCode,
  unwrap,
} from "./errors.ts";

Deno.test("Status mirrors every bg_status_t value in cuda/include/biogpu.h", async () => {
  const header = await Deno.readTextFile(new URL("../cuda/include/biogpu.h", import.meta.url));
  const fromHeader = Object.fromEntries(
    [...header.matchAll(/\bBG_(?:ERR_)?(OK|[A-Z_]+) = (\d+)/g)]
      .filter(([full]) => full.startsWith("BG_OK") || full.startsWith("BG_ERR_"))
      .map(([, name, value]) => [name, Number(value)]),
  );
  assert.deepEqual(fromHeader, { ...Status });
});

Deno.test("statusCode gives the C names and BG_UNKNOWN for other values", () => {
  assert.equal(statusCode(0), "BG_OK");
  assert.equal(statusCode(5), "BG_ERR_CORRUPT_GZIP");
  assert.equal(statusCode(10), "BG_ERR_BAD_INDEX");
  assert.equal(statusCode(99), "BG_UNKNOWN");
});

Deno.test("errorFor maps each status to the family callers catch", () => {
  const family = (status: number, context?: "run" | "database") => errorFor(status, "m", context).constructor;
  for (
    const s of [
      Status.INVALID_ARGUMENT,
      Status.FILE_NOT_FOUND,
      Status.PERMISSION_DENIED,
      Status.CORRUPT_GZIP,
      Status.MALFORMED_FASTQ,
      Status.PAIR_MISMATCH,
      Status.EMPTY_INPUT,
    ]
  ) assert.equal(family(s), InputError, statusCode(s));
  assert.equal(family(Status.BAD_DATABASE), DatabaseError);
  assert.equal(family(Status.BAD_INDEX), DatabaseError);
  assert.equal(family(Status.FILE_NOT_FOUND, "database"), DatabaseError);
  assert.equal(family(Status.DEVICE_OOM), DeviceError);
  assert.equal(family(Status.DEVICE_UNAVAILABLE), DeviceError);
  assert.equal(family(Status.CANCELLED), CancelledError);
  assert.equal(family(Status.IO), EngineError);
  assert.equal(family(Status.HOST_OOM), EngineError);
  assert.equal(family(Status.INTERNAL), EngineError);
});

Deno.test("errorFor keeps the engine message and code, and falls back to the status name", () => {
  const e = errorFor(Status.CORRUPT_GZIP, "R1: truncated gzip stream at byte 1024");
  assert.ok(e instanceof InputError && e instanceof EngineError && e instanceof Error);
  assert.equal(e.message, "R1: truncated gzip stream at byte 1024");
  assert.equal(e.code, "BG_ERR_CORRUPT_GZIP");
  assert.equal(e.status, 5);
  assert.equal(e.name, "InputError");
  assert.equal(errorFor(Status.INTERNAL, "  ").message, "Engine failed with BG_ERR_INTERNAL");
});

Deno.test("unwrap returns on OK without reading the message and throws the typed error otherwise", () => {
  let read = 0;
  unwrap(Status.OK, () => {
    read++;
    return "";
  });
  assert.equal(read, 0);
  assert.throws(() => unwrap(Status.BAD_INDEX, () => "index checksum mismatch", "database"), (e) => {
    return e instanceof DatabaseError && e.code === "BG_ERR_BAD_INDEX" &&
      e.message === "index checksum mismatch";
  });
});

Deno.test("checkPath says what was expected and what was found, with the path", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(checkPath(`${dir}/x_R1.fastq.gz`, "file", "R1"), (e) => {
      assert.ok(e instanceof InputError);
      assert.equal(e.code, "BG_ERR_FILE_NOT_FOUND");
      assert.equal(e.message, `Cannot read R1: file does not exist (${dir}/x_R1.fastq.gz)`);
      return true;
    });
    await assert.rejects(checkPath(dir, "file", "R2"), (e) => {
      assert.ok(e instanceof InputError);
      assert.equal(e.message, `Cannot read R2: expected a file, found a directory (${dir})`);
      return true;
    });
    await Deno.writeTextFile(`${dir}/f`, "x");
    await assert.rejects(
      checkPath(`${dir}/f`, "directory", "ResFinder folder", DatabaseError),
      DatabaseError,
    );
    await checkPath(`${dir}/f`, "file", "R1");
    await checkPath(`${dir}/f`, "regular file", "R1");
    await checkPath(dir, "directory", "ResFinder folder");
    // a FIFO passes as a file (a command line's `<(zcat …)`), not as the regular file a job needs
    assert.equal((await new Deno.Command("mkfifo", { args: [`${dir}/p`] }).output()).code, 0);
    await checkPath(`${dir}/p`, "file", "R1");
    await assert.rejects(checkPath(`${dir}/p`, "regular file", "R1"), (e) => {
      assert.ok(e instanceof InputError);
      assert.equal(e.code, "BG_ERR_INVALID_ARGUMENT");
      assert.equal(
        e.message,
        `Cannot read R1: expected a regular file, found a FIFO (named pipe) (${dir}/p)`,
      );
      return true;
    });
    await assert.rejects(checkPath(dir, "regular file", "R2"), /expected a file, found a directory/);
    await assert.rejects(checkPath("/dev/null", "regular file", "R2"), /found a character device/);
    await assert.rejects(checkPath(`${dir}/none`, "regular file", "R2"), /file does not exist/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("checkPaths checks together and reports the first failing path in the order given", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/r1`, "x");
    await Deno.writeTextFile(`${dir}/r2`, "x");
    await checkPaths([[`${dir}/r1`, "file", "R1"], [`${dir}/r2`, "regular file", "R2"]]);
    // both wrong: R1's error, whichever check finishes first (the folder's stat is the quicker one here)
    for (let i = 0; i < 5; i++) {
      await assert.rejects(
        checkPaths([[`${dir}/gone/x_R1.fastq.gz`, "file", "R1"], [dir, "file", "R2"]]),
        (e) => {
          assert.ok(e instanceof InputError);
          assert.equal(e.message, `Cannot read R1: file does not exist (${dir}/gone/x_R1.fastq.gz)`);
          return true;
        },
      );
    }
    await assert.rejects(checkPaths([[`${dir}/r1`, "file", "R1"], [dir, "file", "R2"]]), (e) => {
      assert.ok(e instanceof InputError);
      assert.equal(e.message, `Cannot read R2: expected a file, found a directory (${dir})`);
      return true;
    });
    await assert.rejects(
      checkPaths([[`${dir}/none`, "directory", "ResFinder folder"]], DatabaseError),
      DatabaseError,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
