/**
 * Operations and REST server (default port 8001), on Deno.serve:
 *
 * | route                          | answer                                                                 |
 * | ------------------------------ | ---------------------------------------------------------------------- |
 * | `GET /health`                  | 200 `{"status":"ok","uptime_seconds":…}` while the process is alive    |
 * | `GET /ready`                   | 200 or 503 `{"status":"ready"\|"not_ready","checks":{name:{ok,detail}}}` |
 * | `GET /metrics`                 | Prometheus text (`biogpu_*`)                                           |
 * | `GET /api/jobs/:id`            | the job's latest update (Bearer JWT)                                   |
 * | `GET /api/jobs/:id/events`     | `{"events":[{id,update}]}`, `?since=<event id>` for those after it      |
 * | `POST /api/jobs/:id/cancel`    | 202 `{"job_id":…,"status":"cancel_requested"}`                         |
 * | `GET /`                        | the live dashboard (one HTML page using the WebSocket server)          |
 *
 * The API applies the WebSocket server's rule: another user's job answers 404 exactly like a missing one.
 * @module
 */
import { canAccess, createVerifier } from "../ws/auth.ts";
import type { AuthConfig, User } from "../ws/auth.ts";
import { isEventId } from "../progress/bus.ts";
import type { ProgressBus } from "../progress/bus.ts";
import type { Metrics } from "../metrics/mod.ts";
import { isJobId } from "../jobs/schema.ts";
import { dashboardHtml } from "./dashboard.ts";

/** A dependency's state for /ready. */
export type Readiness = Record<string, { ok: boolean; detail?: string }>;

/** Options of {@link startHttpServer}. */
export interface HttpServerOptions {
  port: number;
  hostname?: string;
  /** PEM certificate and key (contents, or paths to files holding them): the server then speaks https://. */
  tls?: { cert: string; key: string };
  metrics: Metrics;
  /** Per-dependency state; any `ok: false` makes /ready answer 503. */
  readiness: () => Promise<Readiness>;
  /** JWT settings for the REST API; without them the API answers 503. */
  auth?: AuthConfig;
  /** Progress bus for the REST API; without it the API answers 503. */
  bus?: ProgressBus;
  /** The dashboard's default WebSocket URL, or its port on the page's host (default 8765; wss when the page is
   * https). */
  dashboard?: { wsUrl?: string; wsPort?: number };
  log?: (level: string, msg: string, fields?: object) => void;
}

/**
 * Starts the server; it is listening when this returns. Throws when the port cannot be bound or the TLS files
 * cannot be read.
 *
 * @example
 * ```ts
 * const http = startHttpServer({ port: 8001, metrics, readiness: async () => ({ redis: bus.ready() }), auth, bus });
 * await http.close();
 * ```
 */
export function startHttpServer(o: HttpServerOptions): { close(): Promise<void>; port: number } {
  const started = Date.now();
  const log = o.log ?? (() => {});
  const tls = o.tls ? readTlsSync(o.tls) : undefined;
  let verifier: Promise<(t: string) => Promise<User>> | null = null;
  if (o.auth) {
    verifier = createVerifier(o.auth);
    verifier.catch((e) => log("error", "REST API authentication is not available", { error: String(e) }));
  }
  const page = dashboardHtml({ wsUrl: o.dashboard?.wsUrl, wsPort: o.dashboard?.wsPort });

  async function handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const path = url.pathname.replace(/\/+$/, "") || "/";
    if (path === "/health") {
      return only(req, ["GET", "HEAD"]) ??
        json(200, { status: "ok", uptime_seconds: Math.round((Date.now() - started) / 1000) });
    }
    if (path === "/ready") return only(req, ["GET", "HEAD"]) ?? await ready();
    if (path === "/metrics") {
      return only(req, ["GET", "HEAD"]) ?? new Response(await o.metrics.registry.metrics(), {
        headers: { "content-type": o.metrics.registry.contentType },
      });
    }
    if (path === "/" || path === "/index.html") {
      return only(req, ["GET", "HEAD"]) ?? new Response(page, {
        headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" },
      });
    }
    const m = /^\/api\/jobs\/([^/]+)(\/events|\/cancel)?$/.exec(path);
    if (m) {
      let jobId: string;
      try {
        jobId = decodeURIComponent(m[1]);
      } catch {
        return json(400, { error: "Invalid job id: bad percent-encoding" });
      }
      if (!isJobId(jobId)) {
        return json(400, {
          error:
            `Invalid job id: expected 1 to 200 of A-Z a-z 0-9 . _ : @ -, found ${jobId.length} characters`,
        });
      }
      const action = m[2] ?? "";
      const method = action === "/cancel" ? ["POST"] : ["GET", "HEAD"];
      return only(req, method) ?? await api(req, jobId, action, url);
    }
    return json(404, { error: `Not found: ${path}` });
  }

  async function ready(): Promise<Response> {
    let checks: Readiness;
    try {
      checks = await o.readiness();
    } catch (e) {
      checks = { readiness: { ok: false, detail: `Readiness check failed: ${errorText(e)}` } };
    }
    const ok = Object.values(checks).every((c) => c.ok);
    return json(ok ? 200 : 503, { status: ok ? "ready" : "not_ready", checks });
  }

  async function api(req: Request, jobId: string, action: string, url: URL): Promise<Response> {
    if (!verifier || !o.bus) return json(503, { error: "The job API is not configured on this server" });
    const bus = o.bus;
    let verify: (t: string) => Promise<User>;
    try {
      verify = await verifier;
    } catch {
      return json(503, { error: "Authentication is not configured on this server" });
    }
    const header = req.headers.get("authorization") ?? "";
    const token = /^Bearer\s+(.+)$/i.exec(header)?.[1]?.trim() ?? "";
    let user: User;
    try {
      user = await verify(token);
    } catch (e) {
      // RFC 6750 §3.1: no error code when the request carried no credentials
      return json(401, { error: errorText(e) }, {
        "www-authenticate": token ? `Bearer realm="biogpu", error="invalid_token"` : `Bearer realm="biogpu"`,
      });
    }
    const notFound = () => json(404, { error: `Job not found: ${jobId}` });
    try {
      const acl = await bus.acl(jobId);
      if (!canAccess(user, acl)) return notFound();
      if (action === "/cancel") {
        if (!acl && !(await bus.snapshot(jobId))) return notFound();
        await bus.requestCancel(jobId);
        log("info", "Cancel requested", { job_id: jobId, user_id: user.id });
        return json(202, { job_id: jobId, status: "cancel_requested" });
      }
      if (action === "/events") {
        const since = url.searchParams.get("since") ?? undefined;
        if (since !== undefined && !isEventId(since)) {
          return json(400, { error: 'Invalid since: expected a stream event id like "1700000000000-0"' });
        }
        const events = await bus.events(jobId, since);
        if (!acl && events.length === 0 && !(await bus.snapshot(jobId))) return notFound();
        return json(200, { job_id: jobId, events });
      }
      const snap = await bus.snapshot(jobId);
      return snap ? json(200, snap) : notFound();
    } catch (e) {
      log("warn", "Job API request failed", { job_id: jobId, error: errorText(e) });
      return json(503, { error: "Progress service unavailable, try again" });
    }
  }

  const server = Deno.serve({
    port: o.port,
    hostname: o.hostname,
    ...(tls ?? {}),
    onListen() {},
    onError(e) {
      log("error", "HTTP request failed", { error: errorText(e) });
      return json(500, { error: "Internal server error" });
    },
  }, handle);
  let closing: Promise<void> | null = null;
  return {
    port: server.addr.port,
    close() {
      closing ??= server.shutdown();
      return closing;
    },
  };
}

function only(req: Request, methods: string[]): Response | null {
  if (methods.includes(req.method)) return null;
  return json(405, { error: `Method not allowed: expected ${methods.join(" or ")}, found ${req.method}` }, {
    allow: methods.join(", "),
  });
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", "cache-control": "no-store", ...headers },
  });
}

function readTlsSync(t: { cert: string; key: string }): { cert: string; key: string } {
  const read = (v: string, what: string) => {
    if (v.includes("-----BEGIN")) return v;
    try {
      return Deno.readTextFileSync(v);
    } catch (e) {
      throw new Error(`Cannot read the TLS ${what} (${v})`, { cause: e });
    }
  };
  return { cert: read(t.cert, "certificate"), key: read(t.key, "key") };
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
