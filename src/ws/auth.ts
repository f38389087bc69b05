/**
 * JWT verification (npm:jose) and the job authorization rule shared by the WebSocket and HTTP servers.
 *
 * - HS256 with a shared `secret`;
 * - RS256 / ES256 against a JWKS URL (an identity provider's `…/.well-known/jwks.json`) or a PEM public key file
 *   (SPKI, `-----BEGIN PUBLIC KEY-----`).
 *
 * The token's `alg` picks the key: HS256 only with the secret, RS256/ES256 only with the JWKS or key file, so a
 * public key can never be used as an HMAC secret. `exp` is required and checked (a token without it is refused:
 * it would be valid for ever), `nbf` is checked when present, `iss` and `aud` when set.
 *
 * @example
 * ```ts
 * const verify = await createVerifier({ secret: Deno.env.get("JWT_SECRET") });
 * const user = await verify(token); // throws AuthError with a message for the client
 * if (!canAccess(user, await bus.acl(jobId))) { ... }
 * ```
 * @module
 */
import { createRemoteJWKSet, decodeProtectedHeader, errors, importSPKI, jwtVerify } from "jose";
import type { CryptoKey, JWTPayload, JWTVerifyGetKey } from "jose";

/** Where keys come from and which claims mean what. */
export interface AuthConfig {
  /** HS256 shared secret. */
  secret?: string;
  /** JWKS URL for RS256/ES256 tokens. */
  jwksUrl?: string;
  /** PEM (SPKI) public key file for RS256/ES256 tokens. */
  publicKeyFile?: string;
  /** Required `iss`, when set. */
  issuer?: string;
  /** Required `aud`, when set. */
  audience?: string;
  /** Claim holding the user's tenant (default "tenant"); a dotted path reaches nested claims. */
  tenantClaim?: string;
  /** Claim holding the user's roles (default "roles"): an array or a space-separated string; dotted paths work. */
  rolesClaim?: string;
  /** Role that may see and cancel every job (default "admin"). */
  adminRole?: string;
  /** Seconds of clock skew allowed on `exp` and `nbf` (default 0). */
  clockToleranceSeconds?: number;
}

/** An authenticated user. */
export interface User {
  /** The token's `sub`. */
  id: string;
  tenant?: string;
  admin: boolean;
  /** When the token expires (ms since the epoch, from its required `exp`); a session must end then. */
  expiresAt: number;
}

/** A token was refused; `message` is meant for the client. */
export class AuthError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "AuthError";
  }
}

const ASYMMETRIC_ALGS = ["RS256", "ES256"];

/**
 * Builds a token verifier. Throws (at startup, not per token) when no secret or key is configured, or when
 * the key file cannot be read or parsed.
 */
export async function createVerifier(c: AuthConfig): Promise<(token: string) => Promise<User>> {
  const secret = c.secret ? new TextEncoder().encode(c.secret) : null;
  let asymmetric: JWTVerifyGetKey | CryptoKey | null = null;
  let asymmetricAlgs: string[] = [];
  if (c.publicKeyFile) {
    let pem: string;
    try {
      pem = await Deno.readTextFile(c.publicKeyFile);
    } catch (e) {
      throw new Error(`Cannot read the JWT public key file (${c.publicKeyFile})`, { cause: e });
    }
    const imported = await importPublicKey(pem);
    if (!imported) {
      throw new Error(
        `Cannot parse the JWT public key file: expected a PEM SPKI RSA or P-256 key (${c.publicKeyFile})`,
      );
    }
    asymmetric = imported.key;
    asymmetricAlgs = [imported.alg];
  } else if (c.jwksUrl) {
    let url: URL;
    try {
      url = new URL(c.jwksUrl);
    } catch (e) {
      throw new Error(`Invalid JWKS URL: expected an absolute URL, found "${c.jwksUrl}"`, { cause: e });
    }
    asymmetric = createRemoteJWKSet(url, { timeoutDuration: 5000, cooldownDuration: 30_000 });
    asymmetricAlgs = ASYMMETRIC_ALGS;
  }
  if (!secret && !asymmetric) {
    throw new Error("No JWT key configured: set a secret (JWT_SECRET), a JWKS URL or a public key file");
  }
  const tenantClaim = c.tenantClaim ?? "tenant";
  const rolesClaim = c.rolesClaim ?? "roles";
  const adminRole = c.adminRole ?? "admin";
  const options = {
    issuer: c.issuer,
    audience: c.audience,
    clockTolerance: c.clockToleranceSeconds ?? 0,
    requiredClaims: ["exp"],
  };

  return async (token: string): Promise<User> => {
    if (typeof token !== "string" || token.trim() === "") throw new AuthError("Missing token");
    let alg: string | undefined;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch (e) {
      throw new AuthError("Malformed token: expected a signed JWT", { cause: e });
    }
    let payload: JWTPayload;
    try {
      if (alg === "HS256" && secret) {
        ({ payload } = await jwtVerify(token, secret, { ...options, algorithms: ["HS256"] }));
      } else if (alg && asymmetricAlgs.includes(alg) && asymmetric) {
        const key = asymmetric;
        ({ payload } = typeof key === "function"
          ? await jwtVerify(token, key, { ...options, algorithms: asymmetricAlgs })
          : await jwtVerify(token, key, { ...options, algorithms: asymmetricAlgs }));
      } else {
        const allowed = [...(secret ? ["HS256"] : []), ...asymmetricAlgs].join(", ");
        throw new AuthError(`Token algorithm not allowed: expected ${allowed}, found ${alg ?? "none"}`);
      }
    } catch (e) {
      throw toAuthError(e);
    }
    if (typeof payload.sub !== "string" || payload.sub === "") {
      throw new AuthError("Token has no subject (sub) claim");
    }
    const tenant = claim(payload, tenantClaim);
    const roles = claim(payload, rolesClaim);
    const roleList = Array.isArray(roles)
      ? roles.map(String)
      : typeof roles === "string"
      ? roles.split(/\s+/)
      : [];
    return {
      id: payload.sub,
      tenant: typeof tenant === "string" && tenant !== "" ? tenant : undefined,
      admin: roleList.includes(adminRole),
      // jose has checked that exp is a number in the future (within the clock tolerance).
      expiresAt: (payload.exp as number) * 1000 + (c.clockToleranceSeconds ?? 0) * 1000,
    };
  };
}

/**
 * The authorization rule: a user sees and cancels a job when they own it, share its tenant, or are an admin.
 * A job without an access list (never registered) is visible to admins only.
 */
export function canAccess(
  user: Pick<User, "id" | "tenant" | "admin">,
  acl: { owner?: string; tenant?: string } | null,
): boolean {
  if (user.admin) return true;
  if (!acl) return false;
  if (acl.owner !== undefined && acl.owner === user.id) return true;
  return acl.tenant !== undefined && user.tenant !== undefined && acl.tenant === user.tenant;
}

async function importPublicKey(pem: string): Promise<{ key: CryptoKey; alg: string } | null> {
  for (const alg of ASYMMETRIC_ALGS) {
    try {
      return { key: await importSPKI(pem, alg), alg };
    } catch { /* try the next algorithm */ }
  }
  return null;
}

function claim(payload: JWTPayload, path: string): unknown {
  let v: unknown = payload;
  for (const part of path.split(".")) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

function toAuthError(e: unknown): AuthError {
  if (e instanceof AuthError) return e;
  if (e instanceof errors.JWTExpired) return new AuthError("Token expired", { cause: e });
  if (e instanceof errors.JWTClaimValidationFailed) {
    if (e.claim === "exp" && e.reason === "missing") {
      return new AuthError("Token has no expiry (exp) claim", { cause: e });
    }
    if (e.claim === "nbf") return new AuthError("Token not yet valid (nbf is in the future)", { cause: e });
    if (e.claim === "iss") return new AuthError("Token issuer not accepted", { cause: e });
    if (e.claim === "aud") return new AuthError("Token audience not accepted", { cause: e });
    return new AuthError(`Token claim ${e.claim} not accepted: ${e.reason}`, { cause: e });
  }
  if (e instanceof errors.JWSSignatureVerificationFailed) {
    return new AuthError("Invalid token signature", { cause: e });
  }
  if (e instanceof errors.JOSEAlgNotAllowed) {
    return new AuthError("Token algorithm not allowed", { cause: e });
  }
  if (e instanceof errors.JWKSNoMatchingKey) {
    return new AuthError("Invalid token signature: no matching key in the JWKS", { cause: e });
  }
  if (e instanceof errors.JWKSTimeout || e instanceof errors.JWKSInvalid) {
    return new AuthError("Cannot verify the token: the key set is unavailable", { cause: e });
  }
  if (e instanceof errors.JWSInvalid || e instanceof errors.JWTInvalid) {
    return new AuthError("Malformed token: expected a signed JWT", { cause: e });
  }
  return new AuthError("Cannot verify the token", { cause: e });
}
