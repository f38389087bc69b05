/**
 * Progress bus: publishes job updates to Redis and reads them back for the WebSocket and HTTP servers.
 *
 * For each update, one Lua script (atomic, one round trip) writes:
 * - `job_status:{job_id}`: the latest update as JSON, with a TTL (default 7 days);
 * - `job_events:{job_id}`: a capped stream (`XADD MAXLEN ~`) of every update, field `update`, for replay;
 * - channels `job_updates:{job_id}` and `all_job_updates`: the update JSON, as the seed published it;
 * - channel `job_events_live:{job_id}`: `"{event id} {update JSON}"`, read by {@link ProgressBus.subscribe}.
 *
 * Publishing never throws and never waits for Redis: updates go to a bounded buffer that is written in order
 * while Redis is reachable. At most `maxRatePerJob` updates per second leave for each job (intermediate
 * updates are coalesced, keeping the latest); final states are sent at once.
 *
 * Cancellation: {@link ProgressBus.requestCancel} sets `job_cancel:{job_id}` (the time of the request) and publishes
 * `{"type":"cancel","job_id":…}` on channel `job_control`, which every bus hears through {@link ProgressBus.onCancel}.
 * The job consumer clears the flag ({@link ProgressBus.clearCancel}) once the job reaches a final state.
 *
 * Redis that stops answering (no reset, e.g. a partition or a frozen failover) cannot stall a caller: a command
 * fails after `commandTimeoutMs` (default 2000), and a connection that gets no answer for as long is dropped and
 * reconnected, so {@link ProgressBus.ready} reports Redis as unreachable until it answers again.
 *
 * @example
 * ```ts
 * const bus = new ProgressBus({ redisUrl: "redis://127.0.0.1:6379", statusTtlSeconds: 604800, streamMaxLen: 1000 });
 * await bus.start();
 * await bus.registerJob("job-1", { owner: "alice" });
 * bus.publish({ job_id: "job-1", sample_id: "S1", stage: "screening", progress: 0.4, message: "Screening reads" });
 * await bus.close();
 * ```
 * @module
 */
import { Redis } from "ioredis";
import type { Metrics } from "../metrics/mod.ts";

/** Every stage of a job, in pipeline order, then the final and retry states. */
export const SERVICE_STAGES = [
  "submitted",
  "validating_input",
  "loading_database",
  "screening",
  "quantifying",
  "calling_mutations",
  "writing_results",
  "completed",
  "failed",
  "retry_pending",
  "cancelled",
] as const;

/** A stage of a job as it appears in the `stage` field of an update. */
export type ServiceStage = typeof SERVICE_STAGES[number];

/** Stages that end an attempt: sent at once, never coalesced, never dropped from the buffer first. */
export const FINAL_STAGES: ReadonlySet<string> = new Set([
  "completed",
  "failed",
  "retry_pending",
  "cancelled",
]);

const STAGES: ReadonlySet<string> = new Set(SERVICE_STAGES);

/** One progress update; its JSON has exactly these fields, in this order. */
export interface JobUpdate {
  job_id: string;
  sample_id: string;
  stage: ServiceStage;
  /** 0 to 1, never decreasing within an attempt. */
  progress: number;
  message: string;
  data?: Record<string, unknown>;
  /** ISO 8601, UTC. */
  timestamp: string;
  error_details?: Record<string, unknown> | null;
}

/** A stored or live update with its stream event id (`"{ms}-{seq}"`), usable as `since` for replay. */
export interface JobEvent {
  id: string;
  update: JobUpdate;
  /** The update's JSON exactly as stored; present on live events so that fan-out does not re-serialize it. */
  raw?: string;
}

/** Who may see a job: its owner (a JWT `sub`) and its tenant. */
export interface JobAcl {
  owner?: string;
  tenant?: string;
}

/** Removes a subscription; `ready` settles once Redis confirmed the subscription (rejects if it could not). */
export type Unsubscribe = (() => void) & { ready: Promise<void> };

/** Options of {@link ProgressBus}. */
export interface ProgressBusOptions {
  redisUrl: string;
  /** TTL of `job_status:`, `job_events:` and `job_acl:` keys. */
  statusTtlSeconds: number;
  /** Approximate cap of each job's event stream. */
  streamMaxLen: number;
  /** Updates held while Redis is unreachable (default 1000); past it the oldest intermediate one is dropped. */
  bufferLimit?: number;
  /** Updates per second and job (default 10); intermediate updates in between are coalesced. */
  maxRatePerJob?: number;
  /** How long `start()` waits for Redis before going on with updates buffered (default 3000 ms). */
  connectWaitMs?: number;
  /**
   * How long a command may wait for Redis (default 2000 ms): past it the command fails and the connection is
   * dropped and opened again. Commands here never block on the server, so any longer wait means Redis is gone.
   */
  commandTimeoutMs?: number;
  metrics?: Metrics;
  log?: (level: string, msg: string, fields?: object) => void;
}

interface JobState {
  floor: number;
  lastSentAt: number;
  pending: JobUpdate | null;
  timer: ReturnType<typeof setTimeout> | null;
}

const PUBLISH_LUA = `
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'update', ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[2])
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('PUBLISH', 'job_updates:' .. ARGV[4], ARGV[1])
redis.call('PUBLISH', 'all_job_updates', ARGV[1])
redis.call('PUBLISH', 'job_events_live:' .. ARGV[4], id .. ' ' .. ARGV[1])
return id
`;

const CONTROL_CHANNEL = "job_control";
const LIVE_PREFIX = "job_events_live:";

type PublishingRedis = Redis & {
  bgPublish(
    statusKey: string,
    streamKey: string,
    json: string,
    ttl: number,
    maxLen: number,
    jobId: string,
  ): Promise<string>;
};

/** Redis progress bus; see the module documentation. */
export class ProgressBus {
  #o:
    & Required<
      Pick<ProgressBusOptions, "bufferLimit" | "maxRatePerJob" | "connectWaitMs" | "commandTimeoutMs">
    >
    & ProgressBusOptions;
  #pub: PublishingRedis;
  #sub: Redis;
  #jobs = new Map<string, JobState>();
  #outbox: JobUpdate[] = [];
  #draining = false;
  #retryTimer: ReturnType<typeof setTimeout> | null = null;
  #subs = new Map<string, Set<(ev: JobEvent) => void>>();
  #subReady = new Map<string, Promise<void>>();
  #cancelCbs = new Set<(jobId: string) => void>();
  #pendingAcls = new Map<string, JobAcl>();
  #lastError = "";
  #downLogged = false;
  #started = false;
  #closed = false;
  #closing: Promise<void> | null = null;

  constructor(o: ProgressBusOptions) {
    this.#o = {
      bufferLimit: 1000,
      maxRatePerJob: 10,
      connectWaitMs: 3000,
      commandTimeoutMs: 2000,
      ...stripUndefined(o),
    };
    if (!(this.#o.commandTimeoutMs > 0)) {
      throw new RangeError(
        `Invalid commandTimeoutMs: expected a positive number of ms, found ${o.commandTimeoutMs}`,
      );
    }
    if (!(this.#o.maxRatePerJob > 0)) {
      throw new RangeError(`Invalid maxRatePerJob: expected a positive number, found ${o.maxRatePerJob}`);
    }
    if (!(this.#o.bufferLimit >= 1)) {
      throw new RangeError(`Invalid bufferLimit: expected at least 1, found ${o.bufferLimit}`);
    }
    const common = {
      lazyConnect: true,
      enableOfflineQueue: false,
      autoResubscribe: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 2000,
      // A connection that sent a command and hears nothing back for this long is dropped and reconnected (the
      // subscriber's idle wait for messages is not a command: only its SUBSCRIBE/UNSUBSCRIBE calls are timed).
      socketTimeout: this.#o.commandTimeoutMs,
      retryStrategy: (times: number) => Math.min(100 * times, 1000),
    };
    this.#pub = new Redis(o.redisUrl, {
      ...common,
      // No command of the publishing connection blocks on the server (no XREAD BLOCK, no BLPOP).
      commandTimeout: this.#o.commandTimeoutMs,
      connectionName: "biogpu-progress",
    }) as PublishingRedis;
    this.#pub.defineCommand("bgPublish", { numberOfKeys: 2, lua: PUBLISH_LUA });
    this.#sub = new Redis(o.redisUrl, { ...common, connectionName: "biogpu-progress-sub" });
    for (const [name, r] of [["publisher", this.#pub], ["subscriber", this.#sub]] as const) {
      r.on("error", (e: Error) => this.#onRedisError(name, e));
      r.on("ready", () => this.#onRedisReady(name));
    }
    this.#sub.on("message", (channel: string, message: string) => this.#onMessage(channel, message));
  }

  /** Connects to Redis; if Redis is unreachable it logs, keeps trying in the background and resolves anyway. */
  async start(): Promise<void> {
    if (this.#started || this.#closed) return;
    this.#started = true;
    const connecting = Promise.allSettled([this.#pub.connect(), this.#sub.connect()]);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const waited = await Promise.race([
      connecting.then(() => "done"),
      new Promise<string>((resolve) => timer = setTimeout(() => resolve("timeout"), this.#o.connectWaitMs)),
    ]);
    clearTimeout(timer);
    if (waited === "timeout" || !this.ready().ok) {
      this.#log("warn", "Redis is unreachable; progress updates are buffered until it is back", {
        redis: redactUrl(this.#o.redisUrl),
        error: this.#lastError,
      });
    }
  }

  /** Records who may see the job (`job_acl:{job_id}`); if Redis is down it is written when Redis is back. */
  async registerJob(jobId: string, acl: JobAcl): Promise<void> {
    const value: JobAcl = {};
    if (acl.owner !== undefined && acl.owner !== null) value.owner = String(acl.owner);
    if (acl.tenant !== undefined && acl.tenant !== null) value.tenant = String(acl.tenant);
    this.#pendingAcls.set(jobId, value);
    await this.#flushAcls();
  }

  /**
   * Queues an update. Never throws and never blocks: an invalid stage is logged and dropped; progress is clamped
   * to [0, 1] and raised to the highest progress already sent in this attempt; `completed` has progress 1.
   */
  publish(u: Omit<JobUpdate, "timestamp"> & { timestamp?: string }): void {
    try {
      this.#publish(u);
    } catch (e) {
      this.#log("error", "Cannot publish a progress update", { job_id: u?.job_id, error: String(e) });
    }
  }

  /** Starts a new attempt for the job: progress may start again from 0. */
  resetAttempt(jobId: string): void {
    const st = this.#jobs.get(jobId);
    if (st) st.floor = 0;
  }

  /** Calls `cb(jobId)` when any service asks to cancel a job; returns a function that removes the callback. */
  onCancel(cb: (jobId: string) => void): () => void {
    this.#cancelCbs.add(cb);
    return () => this.#cancelCbs.delete(cb);
  }

  /** Sets `job_cancel:{job_id}` and announces it on `job_control`; throws if Redis cannot take it. */
  async requestCancel(jobId: string): Promise<void> {
    await this.#pub.multi()
      .set(`job_cancel:${jobId}`, new Date().toISOString(), "EX", this.#o.statusTtlSeconds)
      .publish(CONTROL_CHANNEL, JSON.stringify({ type: "cancel", job_id: jobId }))
      .exec();
  }

  /** Whether a cancel was requested for the job (also before this process started it). */
  async isCancelled(jobId: string): Promise<boolean> {
    return (await this.#pub.exists(`job_cancel:${jobId}`)) === 1;
  }

  /**
   * When a cancel of the job was requested (ms since the epoch), or null if none is pending. A flag whose time
   * cannot be read counts as requested now.
   */
  async cancelRequestedAt(jobId: string): Promise<number | null> {
    const raw = await this.#pub.get(`job_cancel:${jobId}`);
    if (raw === null) return null;
    const at = Date.parse(raw);
    return Number.isFinite(at) ? at : Date.now();
  }

  /** Removes the job's cancel flag (the job reached a final state); throws if Redis cannot take it. */
  async clearCancel(jobId: string): Promise<void> {
    await this.#pub.del(`job_cancel:${jobId}`);
  }

  /** The latest update of the job, or null if none is stored. */
  async snapshot(jobId: string): Promise<JobUpdate | null> {
    const raw = await this.#pub.get(`job_status:${jobId}`);
    return raw === null ? null : JSON.parse(raw) as JobUpdate;
  }

  /** The latest update with the id of the job's newest stream event (null if the stream has none). */
  async latest(jobId: string): Promise<{ id: string | null; update: JobUpdate } | null> {
    const res = await this.#pub.multi()
      .get(`job_status:${jobId}`)
      .xrevrange(`job_events:${jobId}`, "+", "-", "COUNT", 1)
      .exec();
    if (!res) throw new Error("Cannot read job status: Redis transaction was aborted");
    for (const [err] of res) if (err) throw err;
    const raw = res[0][1] as string | null;
    if (raw === null) return null;
    const last = res[1][1] as Array<[string, string[]]>;
    return { id: last.length > 0 ? last[0][0] : null, update: JSON.parse(raw) as JobUpdate };
  }

  /** The job's stored events after `sinceId` (exclusive), oldest first; all of them without `sinceId`. */
  async events(jobId: string, sinceId?: string): Promise<JobEvent[]> {
    if (sinceId !== undefined && !isEventId(sinceId)) {
      throw new TypeError(`Invalid event id: expected "<ms>-<seq>", found "${sinceId}"`);
    }
    const start = sinceId === undefined ? "-" : `(${sinceId}`;
    const entries = await this.#pub.xrange(
      `job_events:${jobId}`,
      start,
      "+",
      "COUNT",
      Math.max(1, this.#o.streamMaxLen * 2),
    );
    const out: JobEvent[] = [];
    for (const [id, fields] of entries) {
      const i = fields.indexOf("update");
      if (i >= 0 && i + 1 < fields.length) out.push({ id, update: JSON.parse(fields[i + 1]) as JobUpdate });
    }
    return out;
  }

  /**
   * Calls `cb` for each live update of the job. All subscriptions share one Redis connection and one Redis
   * subscription per job; the returned function removes this one (idempotent), and its `ready` promise
   * settles once Redis has confirmed the channel.
   */
  subscribe(jobId: string, cb: (ev: JobEvent) => void): Unsubscribe {
    const channel = LIVE_PREFIX + jobId;
    let set = this.#subs.get(channel);
    if (!set) {
      set = new Set();
      this.#subs.set(channel, set);
      const ready = this.#sub.subscribe(channel).then(() => {});
      ready.catch(() => {});
      this.#subReady.set(channel, ready);
    }
    set.add(cb);
    const ready = this.#subReady.get(channel) ?? Promise.resolve();
    const own = set;
    let done = false;
    const unsubscribe = () => {
      if (done) return;
      done = true;
      own.delete(cb);
      if (own.size === 0 && this.#subs.get(channel) === own) {
        this.#subs.delete(channel);
        this.#subReady.delete(channel);
        if (this.#sub.status === "ready") this.#sub.unsubscribe(channel).catch(() => {});
      }
    };
    return Object.assign(unsubscribe, { ready });
  }

  /** Who may see the job, or null if it was never registered (or its record expired). */
  async acl(jobId: string): Promise<JobAcl | null> {
    const pending = this.#pendingAcls.get(jobId);
    if (pending) return { ...pending };
    const raw = await this.#pub.get(`job_acl:${jobId}`);
    if (raw === null) return null;
    const v = JSON.parse(raw) as JobAcl;
    return { owner: v.owner, tenant: v.tenant };
  }

  /** Whether Redis is reachable, with a line saying what is buffered. */
  ready(): { ok: boolean; detail: string } {
    const ok = this.#pub.status === "ready" && this.#sub.status === "ready";
    const buffered = this.#outbox.length;
    if (ok) return { ok, detail: buffered > 0 ? `connected, ${buffered} updates buffered` : "connected" };
    const why = this.#lastError ? `: ${this.#lastError}` : "";
    return { ok, detail: `Redis unreachable (${this.#pub.status})${why}; ${buffered} updates buffered` };
  }

  /** Counts for tests and diagnostics: live subscriptions, Redis channels held, updates buffered. */
  stats(): { subscriptions: number; channels: number; buffered: number; jobs: number } {
    let subscriptions = 0;
    for (const s of this.#subs.values()) subscriptions += s.size;
    return { subscriptions, channels: this.#subs.size, buffered: this.#outbox.length, jobs: this.#jobs.size };
  }

  /**
   * Sends coalesced updates, waits up to `flushTimeoutMs` (default 2000) for the buffer to reach Redis, then
   * disconnects. Idempotent; later publishes are ignored.
   */
  close(o: { flushTimeoutMs?: number } = {}): Promise<void> {
    this.#closing ??= this.#close(o.flushTimeoutMs ?? 2000);
    return this.#closing;
  }

  async #close(flushTimeoutMs: number): Promise<void> {
    for (const st of this.#jobs.values()) {
      if (st.timer !== null) clearTimeout(st.timer);
      st.timer = null;
      if (st.pending) this.#enqueue(st.pending);
      st.pending = null;
    }
    this.#jobs.clear();
    this.#closed = true;
    const deadline = Date.now() + flushTimeoutMs;
    while (
      (this.#outbox.length > 0 || this.#draining) && this.#pub.status === "ready" && Date.now() < deadline
    ) {
      void this.#drain();
      await new Promise((r) => setTimeout(r, 10));
    }
    if (this.#outbox.length > 0) {
      this.#log("warn", "Closing the progress bus with updates not sent", { buffered: this.#outbox.length });
    }
    if (this.#retryTimer !== null) clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    this.#subs.clear();
    this.#subReady.clear();
    this.#cancelCbs.clear();
    for (const r of [this.#pub, this.#sub]) {
      try {
        if (r.status === "ready") await r.quit();
        else r.disconnect();
      } catch {
        r.disconnect();
      }
    }
  }

  #publish(u: Omit<JobUpdate, "timestamp"> & { timestamp?: string }): void {
    if (this.#closed) {
      this.#log("warn", "Progress update after close ignored", { job_id: u.job_id, stage: String(u.stage) });
      return;
    }
    const jobId = String(u.job_id ?? "");
    const stage = String(u.stage);
    if (jobId === "" || !STAGES.has(stage)) {
      this.#log("error", "Progress update refused: expected a job_id and a known stage", {
        job_id: jobId,
        stage,
      });
      return;
    }
    let st = this.#jobs.get(jobId);
    if (!st) {
      st = { floor: 0, lastSentAt: -Infinity, pending: null, timer: null };
      this.#jobs.set(jobId, st);
    }
    let progress = Number(u.progress);
    progress = Number.isFinite(progress) ? Math.min(1, Math.max(0, progress)) : 0;
    if (stage === "completed") progress = 1;
    if (progress < st.floor) progress = st.floor;
    st.floor = progress;
    const update: JobUpdate = {
      job_id: jobId,
      sample_id: String(u.sample_id ?? ""),
      stage: stage as ServiceStage,
      progress,
      message: String(u.message ?? ""),
      data: toPlainObject(u.data ?? {}),
      timestamp: typeof u.timestamp === "string" ? u.timestamp : new Date().toISOString(),
      error_details: u.error_details === undefined || u.error_details === null
        ? null
        : toPlainObject(u.error_details),
    };
    if (FINAL_STAGES.has(stage)) {
      // A final state ends the attempt: send it now, after nothing; the next attempt starts from 0.
      if (st.timer !== null) clearTimeout(st.timer);
      this.#jobs.delete(jobId);
      this.#enqueue(update);
      return;
    }
    const interval = 1000 / this.#o.maxRatePerJob;
    const now = performance.now();
    if (st.timer === null && now - st.lastSentAt >= interval) {
      st.lastSentAt = now;
      this.#enqueue(update);
      return;
    }
    st.pending = update;
    if (st.timer === null) {
      const state = st;
      state.timer = setTimeout(() => {
        state.timer = null;
        const next = state.pending;
        state.pending = null;
        if (next) {
          state.lastSentAt = performance.now();
          this.#enqueue(next);
        }
      }, Math.max(0, interval - (now - st.lastSentAt)));
    }
  }

  #enqueue(update: JobUpdate): void {
    if (this.#pub.status !== "ready") this.#o.metrics?.redisPublishFailures.inc();
    this.#outbox.push(update);
    while (this.#outbox.length > this.#o.bufferLimit) this.#dropOne();
    void this.#drain();
  }

  /** Drops an intermediate update that a later update of the same job supersedes, else the oldest intermediate. */
  #dropOne(): void {
    const last = new Map<string, number>();
    this.#outbox.forEach((u, i) => last.set(u.job_id, i));
    let victim = -1;
    let firstIntermediate = -1;
    for (let i = 0; i < this.#outbox.length; i++) {
      const u = this.#outbox[i];
      if (FINAL_STAGES.has(u.stage)) continue;
      if (firstIntermediate < 0) firstIntermediate = i;
      if (last.get(u.job_id)! > i) {
        victim = i;
        break;
      }
    }
    if (victim < 0) victim = firstIntermediate >= 0 ? firstIntermediate : 0;
    const [dropped] = this.#outbox.splice(victim, 1);
    this.#o.metrics?.progressUpdatesDropped.inc();
    this.#log("warn", "Progress buffer full: update dropped", {
      job_id: dropped.job_id,
      stage: dropped.stage,
    });
  }

  async #drain(): Promise<void> {
    if (this.#draining) return;
    this.#draining = true;
    try {
      while (this.#outbox.length > 0 && this.#pub.status === "ready") {
        const u = this.#outbox[0];
        const json = JSON.stringify(u);
        try {
          await this.#pub.bgPublish(
            `job_status:${u.job_id}`,
            `job_events:${u.job_id}`,
            json,
            this.#o.statusTtlSeconds,
            this.#o.streamMaxLen,
            u.job_id,
          );
          if (this.#outbox[0] === u) this.#outbox.shift();
          else {
            const i = this.#outbox.indexOf(u);
            if (i >= 0) this.#outbox.splice(i, 1);
          }
        } catch (e) {
          this.#o.metrics?.redisPublishFailures.inc();
          this.#lastError = errorText(e);
          this.#log("warn", "Cannot publish a progress update; it stays buffered", {
            job_id: u.job_id,
            error: this.#lastError,
          });
          this.#scheduleRetry();
          break;
        }
      }
    } finally {
      this.#draining = false;
    }
  }

  #scheduleRetry(): void {
    if (this.#retryTimer !== null || (this.#closed && this.#pub.status !== "ready")) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      void this.#drain();
    }, 500);
  }

  async #flushAcls(): Promise<void> {
    if (this.#pendingAcls.size === 0 || this.#pub.status !== "ready") return;
    const batch = [...this.#pendingAcls];
    try {
      const m = this.#pub.multi();
      for (const [id, acl] of batch) {
        m.set(`job_acl:${id}`, JSON.stringify(acl), "EX", this.#o.statusTtlSeconds);
      }
      const res = await m.exec();
      for (const [err] of res ?? []) if (err) throw err;
      for (const [id, acl] of batch) if (this.#pendingAcls.get(id) === acl) this.#pendingAcls.delete(id);
    } catch (e) {
      this.#lastError = errorText(e);
      this.#log("warn", "Cannot record job access; it is kept until Redis is back", {
        error: this.#lastError,
      });
    }
  }

  #onRedisError(name: string, e: Error): void {
    this.#lastError = errorText(e);
    if (!this.#downLogged && !this.#closed) {
      this.#downLogged = true;
      this.#log("warn", `Redis ${name} connection error`, { error: this.#lastError });
    }
  }

  #onRedisReady(name: string): void {
    if (this.#downLogged) this.#log("info", `Redis ${name} connection is back`);
    this.#downLogged = false;
    if (name === "subscriber") {
      const channels = [CONTROL_CHANNEL, ...this.#subs.keys()];
      const ready = this.#sub.subscribe(...channels).then(() => {});
      ready.catch((e) => this.#log("warn", "Cannot subscribe to progress channels", { error: errorText(e) }));
      for (const ch of this.#subs.keys()) this.#subReady.set(ch, ready);
    } else {
      void this.#flushAcls();
      void this.#drain();
    }
  }

  #onMessage(channel: string, message: string): void {
    if (channel === CONTROL_CHANNEL) {
      let jobId: string | undefined;
      try {
        const m = JSON.parse(message);
        if (m?.type === "cancel" && typeof m.job_id === "string") jobId = m.job_id;
      } catch { /* not ours */ }
      if (jobId === undefined) return;
      for (const cb of [...this.#cancelCbs]) {
        try {
          cb(jobId);
        } catch (e) {
          this.#log("error", "Cancel callback threw", { job_id: jobId, error: errorText(e) });
        }
      }
      return;
    }
    const set = this.#subs.get(channel);
    if (!set || set.size === 0) return;
    const sp = message.indexOf(" ");
    if (sp < 0) return;
    let ev: JobEvent;
    try {
      const raw = message.slice(sp + 1);
      ev = { id: message.slice(0, sp), update: JSON.parse(raw) as JobUpdate, raw };
    } catch {
      return;
    }
    for (const cb of [...set]) {
      try {
        cb(ev);
      } catch (e) {
        this.#log("error", "Progress subscriber threw", { channel, error: errorText(e) });
      }
    }
  }

  #log(level: string, msg: string, fields?: object): void {
    try {
      this.#o.log?.(level, msg, fields);
    } catch { /* logging must not break publishing */ }
  }
}

/** Whether `s` is a Redis stream id (`"{ms}-{seq}"` or `"{ms}"`). */
export function isEventId(s: unknown): s is string {
  return typeof s === "string" && /^\d{1,20}(-\d{1,20})?$/.test(s);
}

/** Compares two stream ids numerically: negative if a < b. */
export function compareEventIds(a: string, b: string): number {
  const [am, as = "0"] = a.split("-");
  const [bm, bs = "0"] = b.split("-");
  const d = BigInt(am) - BigInt(bm);
  if (d !== 0n) return d < 0n ? -1 : 1;
  const e = BigInt(as) - BigInt(bs);
  return e === 0n ? 0 : e < 0n ? -1 : 1;
}

/** Converts any value to a plain JSON object (BigInt, Map, Set, Error and enums included); never throws. */
export function toPlainObject(v: unknown): Record<string, unknown> {
  try {
    const s = JSON.stringify(v, (_k, x) => {
      if (typeof x === "bigint") return Number.isSafeInteger(Number(x)) ? Number(x) : x.toString();
      if (x instanceof Map) return Object.fromEntries(x);
      if (x instanceof Set) return [...x];
      if (x instanceof Error) return { name: x.name, message: x.message };
      if (typeof x === "number" && !Number.isFinite(x)) return null;
      return x;
    });
    if (s === undefined) return {};
    const p = JSON.parse(s);
    return p !== null && typeof p === "object" && !Array.isArray(p) ? p : { value: p };
  } catch (e) {
    return { unserializable: errorText(e) };
  }
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "(invalid URL)";
  }
}
