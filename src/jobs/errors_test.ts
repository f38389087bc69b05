import assert from "node:assert/strict";
import {
  CancelledError,
  DatabaseError,
  DeviceError,
  EngineError,
  InputError,
  Status,
} from "../../ffi/errors.ts";
import { classify, type ErrorClass, InvalidJobError, JobTimeoutError } from "./errors.ts";

Deno.test("classification table: engine statuses map to permanent, transient, unknown or cancelled", () => {
  const expected: Record<keyof typeof Status, ErrorClass | null> = {
    OK: null,
    INVALID_ARGUMENT: "permanent",
    FILE_NOT_FOUND: "permanent",
    PERMISSION_DENIED: "permanent",
    IO: "unknown",
    CORRUPT_GZIP: "permanent",
    MALFORMED_FASTQ: "permanent",
    PAIR_MISMATCH: "permanent",
    EMPTY_INPUT: "permanent",
    BAD_DATABASE: "permanent",
    BAD_INDEX: "permanent",
    HOST_OOM: "unknown",
    DEVICE_OOM: "transient",
    DEVICE_UNAVAILABLE: "transient",
    CANCELLED: "cancelled",
    INTERNAL: "unknown",
  };
  for (const [name, cls] of Object.entries(expected)) {
    if (cls === null) continue;
    const status = Status[name as keyof typeof Status];
    const c = classify(new EngineError(status, `failure ${name}`));
    assert.equal(c.errorClass, cls, name);
    assert.equal(c.code, `BG_ERR_${name}`);
    assert.equal(c.message, `failure ${name}`);
  }
});

Deno.test("typed engine errors classify by their status", () => {
  assert.equal(classify(new InputError(Status.FILE_NOT_FOUND, "Cannot read R1")).errorClass, "permanent");
  assert.equal(classify(new DatabaseError(Status.BAD_INDEX, "bad")).errorClass, "permanent");
  assert.equal(classify(new DeviceError(Status.DEVICE_UNAVAILABLE, "no GPU")).errorClass, "transient");
  assert.equal(classify(new CancelledError()).errorClass, "cancelled");
});

Deno.test("connection losses and timeouts are transient", () => {
  const kafka = Object.assign(new Error("Connection error"), { name: "KafkaJSConnectionError" });
  assert.deepEqual(classify(kafka), {
    errorClass: "transient",
    code: "BROKER_CONNECTION",
    message: "Connection error",
  });
  const redis = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:6379"), { code: "ECONNREFUSED" });
  assert.equal(classify(redis).errorClass, "transient");
  assert.equal(classify(new Deno.errors.TimedOut("slow")).code, "TIMEOUT");
  assert.equal(classify(new JobTimeoutError(10)).errorClass, "transient");
});

Deno.test("invalid jobs are permanent and anything else is unknown", () => {
  assert.equal(classify(new InvalidJobError("Invalid job: x")).errorClass, "permanent");
  const other = classify(new TypeError("boom"));
  assert.equal(other.errorClass, "unknown");
  assert.equal(other.code, "TYPEERROR");
  assert.equal(classify("a string").errorClass, "unknown");
});
