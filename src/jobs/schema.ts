/**
 * The job record consumed from `new_jobs`. This file is the only one of `src/jobs/` that other folders
 * (progress, ws, http) import.
 *
 * @example
 * ```ts
 * const r = parseJob(new TextDecoder().decode(message.value));
 * if (!r.ok) deadLetter(r.error); else run(r.job);
 * ```
 *
 * @module
 */

import { z } from "zod";

const nonEmpty = (what: string) =>
  z.string({ required_error: `${what} is required` }).trim().min(1, `${what} is empty`);

/** Schema of a job: the seed's required fields plus optional ownership, priority, metadata and species. */
/** What a job id may hold (also checked where an id comes from a URL). */
const JOB_ID_PATTERN = /^[A-Za-z0-9._:@-]+$/;
const JOB_ID_MAX = 200;

/** Whether `id` is a job id a job record could carry: 1 to 200 of A-Z a-z 0-9 . _ : @ -. */
export function isJobId(id: string): boolean {
  return id.length > 0 && id.length <= JOB_ID_MAX && JOB_ID_PATTERN.test(id);
}

export const JobSchema = z.object({
  job_id: nonEmpty("job_id").max(JOB_ID_MAX).regex(
    JOB_ID_PATTERN,
    "job_id may hold only A-Z a-z 0-9 . _ : @ -",
  ),
  sample_id: nonEmpty("sample_id").max(200),
  path_to_r1: nonEmpty("path_to_r1"),
  path_to_r2: nonEmpty("path_to_r2"),
  output_path: nonEmpty("output_path"),
  owner: z.string().min(1).optional(),
  tenant: z.string().min(1).optional(),
  priority: z.number().int().optional(),
  metadata: z.record(z.unknown()).optional(),
  /** PointFinder species to call (the database's names, e.g. `escherichia_coli`); absent: all of them. */
  species: z.array(
    z.string().regex(/^[A-Za-z0-9_.-]+$/, "species names hold only A-Z a-z 0-9 _ . -"),
  ).min(1, "species is empty (leave it out to call every species)").max(32).optional(),
}).passthrough();

/** A validated job. */
export type Job = z.infer<typeof JobSchema>;

/** Result of {@link parseJob}. */
export type ParseJobResult = { ok: true; job: Job } | { ok: false; error: string };

/** Formats zod issues as "field: message; field: message", naming every offending field. */
export function formatIssues(error: z.ZodError): string {
  return error.issues
    .map((i) => `${i.path.length ? i.path.join(".") : "(root)"}: ${i.message}`)
    .join("; ");
}

/** Validates an already parsed value as a job. */
export function validateJob(value: unknown): ParseJobResult {
  const r = JobSchema.safeParse(value);
  if (r.success) return { ok: true, job: r.data };
  return { ok: false, error: `Invalid job: ${formatIssues(r.error)}` };
}

/** Parses job JSON text; invalid JSON and schema violations come back as an error message. */
export function parseJob(text: string | null | undefined): ParseJobResult {
  if (text === null || text === undefined || text.trim() === "") {
    return { ok: false, error: "Invalid job: expected a JSON object, found an empty message" };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, error: `Invalid job JSON: ${(err as Error).message}` };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return {
      ok: false,
      error: `Invalid job: expected a JSON object, found ${
        Array.isArray(value) ? "an array" : String(value === null ? "null" : typeof value)
      }`,
    };
  }
  return validateJob(value);
}
