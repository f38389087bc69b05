/**
 * WebSocket clients for tests and benchmarks: {@link TestClient} on the WebSocket API, and {@link RawWsClient} on a
 * bare TCP socket, which can stop reading to make the server's send buffer grow.
 * @module
 */
import { SignJWT } from "jose";

// deno-lint-ignore no-explicit-any
export type Message = { type: string; [k: string]: any };

/** Signs an HS256 token for tests. */
export function hsToken(secret: string, claims: Record<string, unknown>, exp: string | number = "1h") {
  return new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setIssuedAt().setExpirationTime(exp)
    .sign(new TextEncoder().encode(secret));
}

/** A WebSocket client that queues messages and lets a test wait for the next one of a kind. */
export class TestClient {
  readonly ws: WebSocket;
  readonly closed: Promise<{ code: number; reason: string }>;
  #queue: Message[] = [];
  #waiters: Array<() => void> = [];

  private constructor(ws: WebSocket) {
    this.ws = ws;
    this.closed = new Promise((resolve) => {
      ws.addEventListener("close", (e) => {
        resolve({ code: e.code, reason: e.reason });
        this.#wake();
      });
    });
    ws.addEventListener("message", (e) => {
      this.#queue.push(JSON.parse(e.data as string));
      this.#wake();
    });
  }

  /** Opens a connection and waits until it is open. */
  static async connect(url: string): Promise<TestClient> {
    const ws = new WebSocket(url);
    const c = new TestClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.addEventListener("open", () => resolve(), { once: true });
      ws.addEventListener("error", () => reject(new Error(`Cannot connect to ${url}`)), { once: true });
    });
    return c;
  }

  /** Connects and authenticates; throws unless the server answers auth_success. */
  static async authed(url: string, token: string): Promise<TestClient> {
    const c = await TestClient.connect(url);
    c.send({ type: "auth", token });
    const m = await c.next();
    if (m.type !== "auth_success") {
      await c.close();
      throw new Error(`Expected auth_success, got ${JSON.stringify(m)}`);
    }
    return c;
  }

  send(m: unknown): void {
    this.ws.send(typeof m === "string" ? m : JSON.stringify(m));
  }

  /** Messages received and not yet taken. */
  get pending(): readonly Message[] {
    return this.#queue;
  }

  /** Takes the first queued message that matches, waiting up to `timeoutMs` for one. */
  async next(match: (m: Message) => boolean = () => true, timeoutMs = 3000): Promise<Message> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const i = this.#queue.findIndex(match);
      if (i >= 0) return this.#queue.splice(i, 1)[0];
      if (this.ws.readyState === WebSocket.CLOSED) {
        throw new Error("Connection closed before the message came");
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `Timed out waiting for a message; queued: ${JSON.stringify(this.#queue).slice(0, 500)}`,
        );
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
  }

  /** Closes the connection and waits for the close event. */
  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CONNECTING || this.ws.readyState === WebSocket.OPEN) this.ws.close();
    await this.closed;
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }
}

/** A minimal WebSocket client on raw TCP: reads only when asked, so a test can fill the server's buffers. */
export class RawWsClient {
  #conn: Deno.TcpConn;
  #buf = new Uint8Array(0);

  private constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
  }

  /** Connects and performs the opening handshake. */
  static async connect(port: number, hostname = "127.0.0.1"): Promise<RawWsClient> {
    const conn = await Deno.connect({ hostname, port });
    const c = new RawWsClient(conn);
    const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
    await c.#write(new TextEncoder().encode(
      `GET / HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    ));
    while (true) {
      const text = new TextDecoder().decode(c.#buf);
      const end = text.indexOf("\r\n\r\n");
      if (end >= 0) {
        if (!text.startsWith("HTTP/1.1 101")) throw new Error(`Handshake refused: ${text.split("\r\n")[0]}`);
        c.#buf = c.#buf.slice(new TextEncoder().encode(text.slice(0, end + 4)).length);
        return c;
      }
      if (!(await c.#fill())) throw new Error("Connection closed during the handshake");
    }
  }

  /** Sends a masked text frame. */
  async send(m: unknown): Promise<void> {
    const payload = new TextEncoder().encode(typeof m === "string" ? m : JSON.stringify(m));
    const mask = crypto.getRandomValues(new Uint8Array(4));
    const n = payload.length;
    const head = n < 126 ? [0x81, 0x80 | n] : n < 65536 ? [0x81, 0x80 | 126, n >> 8, n & 255] : null;
    if (!head) throw new RangeError("Test frames are limited to 64 KiB");
    const frame = new Uint8Array(head.length + 4 + n);
    frame.set(head, 0);
    frame.set(mask, head.length);
    for (let i = 0; i < n; i++) frame[head.length + 4 + i] = payload[i] ^ mask[i & 3];
    await this.#write(frame);
  }

  /** Reads the next text message (skipping control frames); null when the connection closed. */
  async next(): Promise<Message | null> {
    while (true) {
      const frame = this.#parse();
      if (frame) {
        if (frame.opcode === 1) return JSON.parse(new TextDecoder().decode(frame.payload));
        if (frame.opcode === 8) return null;
        continue;
      }
      if (!(await this.#fill())) return null;
    }
  }

  close(): void {
    try {
      this.#conn.close();
    } catch { /* closed */ }
  }

  #parse(): { opcode: number; payload: Uint8Array } | null {
    const b = this.#buf;
    if (b.length < 2) return null;
    const opcode = b[0] & 0x0f;
    let len = b[1] & 0x7f;
    let off = 2;
    if (len === 126) {
      if (b.length < 4) return null;
      len = (b[2] << 8) | b[3];
      off = 4;
    } else if (len === 127) {
      if (b.length < 10) return null;
      len = Number(new DataView(b.buffer, b.byteOffset + 2, 8).getBigUint64(0));
      off = 10;
    }
    if (b.length < off + len) return null;
    const payload = b.slice(off, off + len);
    this.#buf = b.slice(off + len);
    return { opcode, payload };
  }

  async #fill(): Promise<boolean> {
    const chunk = new Uint8Array(256 * 1024);
    const n = await this.#conn.read(chunk);
    if (n === null) return false;
    const merged = new Uint8Array(this.#buf.length + n);
    merged.set(this.#buf, 0);
    merged.set(chunk.subarray(0, n), this.#buf.length);
    this.#buf = merged;
    return true;
  }

  async #write(data: Uint8Array): Promise<void> {
    let off = 0;
    while (off < data.length) off += await this.#conn.write(data.subarray(off));
  }
}
