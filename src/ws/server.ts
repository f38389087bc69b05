/**
 * WebSocket server for live job progress (default port 8765), on Deno.serve and Deno.upgradeWebSocket.
 *
 * Client → server (JSON text frames):
 * - `{"type":"auth","token":"<JWT>"}`: must be the first message, within `authTimeoutMs` (default 5 s);
 * - `{"type":"subscribe","job_id":"…","since":"<event id>"?}`;
 * - `{"type":"unsubscribe","job_id":"…"}`;
 * - `{"type":"cancel","job_id":"…"}`;
 * - `{"type":"ping"}`.
 *
 * Server → client:
 * - `auth_success {user_id}`, `auth_error {message}` (then the socket closes with code 4401); when the token's
 *   `exp` passes, `auth_error {"message":"Token expired"}` and the socket closes with 4401 too;
 * - `status_update {data, id}`: on subscribe the job's latest state, then each stored event after `since`;
 * - `job_update {data, id}`: live updates; `id` is the stream event id to pass as `since` after a reconnect;
 * - `unsubscribed {job_id}`, `cancel_requested {job_id}`, `pong`, `error {message}`.
 *
 * A job the user may not see answers exactly like a job that does not exist: `error {"message":"Job not found: …"}`.
 * @module
 */
import { canAccess, createVerifier } from "./auth.ts";
import type { AuthConfig, User } from "./auth.ts";
import { compareEventIds, isEventId } from "../progress/bus.ts";
import type { JobEvent, ProgressBus, Unsubscribe } from "../progress/bus.ts";
import type { Metrics } from "../metrics/mod.ts";

/** Per-connection limits. */
export interface WsLimits {
  /** Largest accepted client message in bytes (default 65536); larger ones get an error, the socket stays. */
  maxMessageBytes?: number;
  /** Subscriptions one connection may hold (default 100). */
  maxSubscriptions?: number;
  /** Ping interval and pong deadline; a peer silent that long is closed (default 60000 ms, 0 disables). */
  idleTimeoutMs?: number;
  /** Time allowed for the auth message (default 5000 ms). */
  authTimeoutMs?: number;
  /** Send-buffer bound in bytes (default 1 MiB): past it a client gets only the latest state per job. */
  maxBufferedBytes?: number;
}

/** Options of {@link startWsServer}. */
export interface WsServerOptions {
  port: number;
  hostname?: string;
  /** PEM certificate and key (contents, or paths to files holding them): the server then speaks wss://. */
  tls?: { cert: string; key: string };
  auth: AuthConfig;
  bus: ProgressBus;
  metrics: Metrics;
  limits?: WsLimits;
  log?: (level: string, msg: string, fields?: object) => void;
}

/** A running WebSocket server. */
export interface WsServer {
  /** Closes every connection (code 1001) and stops listening; idempotent. */
  close(): Promise<void>;
  port: number;
  /** Open connections, authenticated or not. */
  connections(): number;
  /** Subscriptions held by all connections. */
  subscriptions(): number;
}

/** Close code sent after `auth_error`, including when the session's token expires. */
export const CLOSE_UNAUTHORIZED = 4401;

/** The longest delay setTimeout honours (larger ones fire at once). */
const MAX_TIMER_MS = 2 ** 31 - 1;

const JOB_ID_MAX = 256;

/**
 * Starts the server. Throws when no JWT secret or key is configured, or when the port cannot be bound.
 *
 * @example
 * ```ts
 * const ws = await startWsServer({ port: 8765, auth: { secret }, bus, metrics });
 * // later
 * await ws.close();
 * ```
 */
export async function startWsServer(o: WsServerOptions): Promise<WsServer> {
  const verify = await createVerifier(o.auth);
  const limits: Required<WsLimits> = {
    maxMessageBytes: 64 * 1024,
    maxSubscriptions: 100,
    idleTimeoutMs: 60_000,
    authTimeoutMs: 5000,
    maxBufferedBytes: 1024 * 1024,
    ...stripUndefined(o.limits ?? {}),
  };
  const tls = o.tls ? await readTls(o.tls) : undefined;
  const conns = new Set<Connection>();
  const ctx: Ctx = { verify, limits, bus: o.bus, metrics: o.metrics, conns, log: o.log ?? (() => {}) };
  const server = Deno.serve({
    port: o.port,
    hostname: o.hostname,
    ...(tls ?? {}),
    onListen() {},
    onError(e) {
      ctx.log("error", "WebSocket server request failed", { error: String(e) });
      return new Response("Internal server error", { status: 500 });
    },
  }, (req) => {
    if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response('WebSocket endpoint: connect and send {"type":"auth","token":"…"}\n', {
        status: 426,
        headers: { upgrade: "websocket" },
      });
    }
    const { socket, response } = Deno.upgradeWebSocket(req, {
      idleTimeout: limits.idleTimeoutMs > 0 ? Math.max(1, Math.ceil(limits.idleTimeoutMs / 1000)) : 0,
    });
    new Connection(socket, ctx);
    return response;
  });
  let closing: Promise<void> | null = null;
  return {
    port: server.addr.port,
    connections: () => conns.size,
    subscriptions: () => {
      let n = 0;
      for (const c of conns) n += c.subscriptionCount();
      return n;
    },
    close() {
      closing ??= (async () => {
        const done = [...conns].map((c) => c.close(1001, "Server shutting down"));
        await withTimeout(Promise.all(done), 2000, "WebSocket clients to close").catch(() => {});
        for (const c of conns) c.release();
        await server.shutdown();
      })();
      return closing;
    },
  };
}

interface Ctx {
  verify: (token: string) => Promise<User>;
  limits: Required<WsLimits>;
  bus: ProgressBus;
  metrics: Metrics;
  conns: Set<Connection>;
  log: (level: string, msg: string, fields?: object) => void;
}

interface Subscription {
  unsub: Unsubscribe | null;
  lastId: string | null;
  /** Live events that arrive while the snapshot and replay are read; null once live. */
  early: JobEvent[] | null;
}

/** Serialized live messages, shared by every connection that receives the same event. */
const liveText = new WeakMap<JobEvent, string>();

class Connection {
  #socket: WebSocket;
  #ctx: Ctx;
  #user: User | null = null;
  #authenticating = false;
  #subs = new Map<string, Subscription>();
  /** Latest message per job held back while the client's send buffer is over its bound. */
  #held = new Map<string, string>();
  #authTimer: ReturnType<typeof setTimeout> | null = null;
  /** Closes the session when the token expires. */
  #expiryTimer: ReturnType<typeof setTimeout> | null = null;
  /** The token expired: the socket is closing and takes no more messages. */
  #expired = false;
  #drainTimer: ReturnType<typeof setInterval> | null = null;
  #released = false;
  #closed: Promise<void>;
  #resolveClosed!: () => void;

  constructor(socket: WebSocket, ctx: Ctx) {
    this.#socket = socket;
    this.#ctx = ctx;
    this.#closed = new Promise((r) => this.#resolveClosed = r);
    ctx.conns.add(this);
    ctx.metrics.wsConnections.inc();
    this.#authTimer = setTimeout(() => {
      this.#authTimer = null;
      if (this.#user || this.#authenticating) return;
      this.#send("auth_error", {
        message: `Authentication timeout: no auth message within ${ctx.limits.authTimeoutMs} ms`,
      });
      this.close(CLOSE_UNAUTHORIZED, "Authentication timeout");
    }, ctx.limits.authTimeoutMs);
    socket.onmessage = (ev) => this.#onMessage(ev.data);
    socket.onclose = () => {
      this.release();
      this.#resolveClosed();
    };
    socket.onerror = () => {};
  }

  subscriptionCount(): number {
    return this.#subs.size;
  }

  /** Closes the socket and waits for its close event. */
  close(code: number, reason: string): Promise<void> {
    try {
      if (this.#socket.readyState === WebSocket.OPEN || this.#socket.readyState === WebSocket.CONNECTING) {
        this.#socket.close(code, reason);
      }
    } catch { /* already closing */ }
    return this.#closed;
  }

  /** Frees every subscription and timer; idempotent. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    if (this.#authTimer !== null) clearTimeout(this.#authTimer);
    this.#authTimer = null;
    if (this.#expiryTimer !== null) clearTimeout(this.#expiryTimer);
    this.#expiryTimer = null;
    if (this.#drainTimer !== null) clearInterval(this.#drainTimer);
    this.#drainTimer = null;
    for (const sub of this.#subs.values()) sub.unsub?.();
    this.#subs.clear();
    this.#held.clear();
    this.#ctx.conns.delete(this);
    this.#ctx.metrics.wsConnections.dec();
  }

  #onMessage(data: unknown): void {
    if (this.#released || this.#expired) return;
    if (typeof data !== "string") {
      this.#error("Binary messages are not supported: send JSON text");
      return;
    }
    const max = this.#ctx.limits.maxMessageBytes;
    const bytes = data.length > max / 3 ? new TextEncoder().encode(data).length : data.length;
    if (bytes > max) {
      this.#error(`Message too large: ${bytes} bytes, at most ${max}`);
      return;
    }
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(data);
    } catch {
      this.#error("Invalid JSON: expected an object with a type field");
      return;
    }
    if (msg === null || typeof msg !== "object" || Array.isArray(msg) || typeof msg.type !== "string") {
      this.#error("Invalid message: expected an object with a string type field");
      return;
    }
    if (!this.#user) {
      if (msg.type === "auth") void this.#auth(msg.token);
      else if (!this.#authenticating) {
        this.#send("auth_error", {
          message: 'Authentication required: send {"type":"auth","token":…} first',
        });
        this.close(CLOSE_UNAUTHORIZED, "Authentication required");
      }
      return;
    }
    switch (msg.type) {
      case "auth":
        this.#error("Already authenticated");
        return;
      case "ping":
        this.#send("pong", {});
        return;
      case "subscribe":
        void this.#subscribe(msg.job_id, msg.since);
        return;
      case "unsubscribe":
        this.#unsubscribe(msg.job_id);
        return;
      case "cancel":
        void this.#cancel(msg.job_id);
        return;
      default:
        this.#error(`Unknown message type: ${String(msg.type).slice(0, 64)}`);
    }
  }

  async #auth(token: unknown): Promise<void> {
    if (this.#authenticating) return;
    this.#authenticating = true;
    try {
      const user = await this.#ctx.verify(typeof token === "string" ? token : "");
      if (this.#released) return;
      this.#user = user;
      if (this.#authTimer !== null) clearTimeout(this.#authTimer);
      this.#authTimer = null;
      this.#send("auth_success", { user_id: user.id });
      this.#expireAt(user.expiresAt);
    } catch (e) {
      if (this.#released) return;
      this.#send("auth_error", { message: e instanceof Error ? e.message : "Cannot verify the token" });
      this.close(CLOSE_UNAUTHORIZED, "Unauthorized");
    } finally {
      this.#authenticating = false;
    }
  }

  /** Ends the session when its token expires (re-armed in steps, as setTimeout cannot wait past ~24.8 days). */
  #expireAt(expiresAt: number): void {
    if (this.#released) return;
    const left = expiresAt - Date.now();
    if (left > 0) {
      this.#expiryTimer = setTimeout(() => {
        this.#expiryTimer = null;
        this.#expireAt(expiresAt);
      }, Math.min(left, MAX_TIMER_MS));
      return;
    }
    this.#expired = true;
    this.#send("auth_error", { message: "Token expired" });
    this.close(CLOSE_UNAUTHORIZED, "Token expired");
  }

  async #subscribe(jobIdIn: unknown, since: unknown): Promise<void> {
    const jobId = this.#jobId(jobIdIn);
    if (jobId === null) return;
    if (since !== undefined && since !== null && !isEventId(since)) {
      this.#error('Invalid since: expected a stream event id like "1700000000000-0"');
      return;
    }
    if (this.#subs.has(jobId)) {
      this.#error(`Already subscribed: ${jobId}`);
      return;
    }
    if (this.#subs.size >= this.#ctx.limits.maxSubscriptions) {
      this.#error(`Subscription limit reached: at most ${this.#ctx.limits.maxSubscriptions} per connection`);
      return;
    }
    const sub: Subscription = { unsub: null, lastId: null, early: [] };
    this.#subs.set(jobId, sub);
    const mine = () => !this.#released && this.#subs.get(jobId) === sub;
    const drop = () => {
      sub.unsub?.();
      if (this.#subs.get(jobId) === sub) this.#subs.delete(jobId);
    };
    try {
      const acl = await this.#ctx.bus.acl(jobId);
      if (!mine()) return drop();
      if (!canAccess(this.#user!, acl)) {
        drop();
        this.#notFound(jobId);
        return;
      }
      sub.unsub = this.#ctx.bus.subscribe(jobId, (ev) => this.#onEvent(jobId, sub, ev));
      await withTimeout(sub.unsub.ready, 5000, "Redis subscription");
      const latest = await this.#ctx.bus.latest(jobId);
      if (!mine()) return drop();
      if (!acl && !latest) {
        drop();
        this.#notFound(jobId);
        return;
      }
      if (latest) {
        this.#deliver(jobId, statusText(latest.update, latest.id), "status_update");
        sub.lastId = latest.id;
      }
      if (typeof since === "string") {
        const events = await this.#ctx.bus.events(jobId, since);
        if (!mine()) return drop();
        for (const ev of events) {
          this.#deliver(jobId, statusText(ev.update, ev.id), "status_update");
          if (sub.lastId === null || compareEventIds(ev.id, sub.lastId) > 0) sub.lastId = ev.id;
        }
      }
      const early = sub.early ?? [];
      sub.early = null;
      for (const ev of early) this.#onEvent(jobId, sub, ev);
    } catch (e) {
      const wasMine = mine();
      drop();
      if (!wasMine) return;
      this.#ctx.log("warn", "Subscribe failed", { job_id: jobId, error: String(e) });
      this.#error(`Cannot subscribe to ${jobId}: progress service unavailable, try again`);
    }
  }

  #onEvent(jobId: string, sub: Subscription, ev: JobEvent): void {
    if (sub.early) {
      sub.early.push(ev);
      return;
    }
    if (this.#released || this.#subs.get(jobId) !== sub) return;
    if (sub.lastId !== null && compareEventIds(ev.id, sub.lastId) <= 0) return;
    sub.lastId = ev.id;
    let text = liveText.get(ev);
    if (text === undefined) {
      text = `{"type":"job_update","id":${JSON.stringify(ev.id)},"data":${
        ev.raw ?? JSON.stringify(ev.update)
      }}`;
      liveText.set(ev, text);
    }
    this.#deliver(jobId, text, "job_update");
  }

  #unsubscribe(jobIdIn: unknown): void {
    const jobId = this.#jobId(jobIdIn);
    if (jobId === null) return;
    const sub = this.#subs.get(jobId);
    if (!sub) {
      this.#error(`Not subscribed: ${jobId}`);
      return;
    }
    sub.unsub?.();
    this.#subs.delete(jobId);
    this.#held.delete(jobId);
    this.#send("unsubscribed", { job_id: jobId });
  }

  async #cancel(jobIdIn: unknown): Promise<void> {
    const jobId = this.#jobId(jobIdIn);
    if (jobId === null) return;
    try {
      const acl = await this.#ctx.bus.acl(jobId);
      if (this.#released) return;
      if (!canAccess(this.#user!, acl) || (!acl && !(await this.#ctx.bus.snapshot(jobId)))) {
        this.#notFound(jobId);
        return;
      }
      await this.#ctx.bus.requestCancel(jobId);
      this.#ctx.log("info", "Cancel requested", { job_id: jobId, user_id: this.#user!.id });
      this.#send("cancel_requested", { job_id: jobId });
    } catch (e) {
      this.#ctx.log("warn", "Cancel failed", { job_id: jobId, error: String(e) });
      this.#error(`Cannot cancel ${jobId}: progress service unavailable, try again`);
    }
  }

  #jobId(v: unknown): string | null {
    if (typeof v === "string" && v.length > 0 && v.length <= JOB_ID_MAX) return v;
    this.#error(`Invalid job_id: expected a non-empty string of at most ${JOB_ID_MAX} characters`);
    return null;
  }

  #notFound(jobId: string): void {
    this.#error(`Job not found: ${jobId}`);
  }

  #error(message: string): void {
    this.#send("error", { message });
  }

  #send(type: string, body: Record<string, unknown>): void {
    this.#sendText(JSON.stringify({ type, ...body }), type);
  }

  /** Sends a job message, or holds only the latest one per job while the client's buffer is over its bound. */
  #deliver(jobId: string, text: string, type: string): void {
    if (this.#held.has(jobId) || this.#socket.bufferedAmount > this.#ctx.limits.maxBufferedBytes) {
      if (this.#held.has(jobId)) this.#ctx.metrics.wsUpdatesCoalesced.inc();
      this.#held.set(jobId, text);
      this.#drainTimer ??= setInterval(() => this.#drainHeld(), 25);
      return;
    }
    this.#sendText(text, type);
  }

  #drainHeld(): void {
    if (this.#released) return;
    for (const [jobId, text] of this.#held) {
      if (this.#socket.bufferedAmount > this.#ctx.limits.maxBufferedBytes) return;
      this.#held.delete(jobId);
      this.#sendText(text, text.startsWith('{"type":"job_update"') ? "job_update" : "status_update");
    }
    if (this.#drainTimer !== null) clearInterval(this.#drainTimer);
    this.#drainTimer = null;
  }

  #sendText(text: string, type: string): void {
    if (this.#socket.readyState !== WebSocket.OPEN) return;
    try {
      this.#socket.send(text);
      this.#ctx.metrics.wsMessagesSent.inc({ type });
    } catch (e) {
      this.#ctx.log("debug", "WebSocket send failed", { error: String(e) });
    }
  }
}

function statusText(update: unknown, id: string | null): string {
  return JSON.stringify({ type: "status_update", id, data: update });
}

/** Reads PEM contents, or the files they name. */
export async function readTls(t: { cert: string; key: string }): Promise<{ cert: string; key: string }> {
  const read = async (v: string, what: string) => {
    if (v.includes("-----BEGIN")) return v;
    try {
      return await Deno.readTextFile(v);
    } catch (e) {
      throw new Error(`Cannot read the TLS ${what} (${v})`, { cause: e });
    }
  };
  return { cert: await read(t.cert, "certificate"), key: await read(t.key, "key") };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms waiting for ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
