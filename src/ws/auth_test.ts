import { exportJWK, exportSPKI, generateKeyPair, SignJWT } from "jose";
import { assert, assertEquals } from "../progress/testing.ts";
import { AuthError, canAccess, createVerifier } from "./auth.ts";

const SECRET = "test-secret-of-sufficient-length-0123456789";

/** Signs an HS256 token; it expires in an hour unless `exp` says otherwise (null: no exp claim). */
function hs(
  claims: Record<string, unknown>,
  o: { secret?: string; exp?: string | number | null; nbf?: number } = {},
) {
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setIssuedAt();
  if (o.exp !== null) jwt.setExpirationTime(o.exp ?? "1h");
  if (o.nbf !== undefined) jwt.setNotBefore(o.nbf);
  return jwt.sign(new TextEncoder().encode(o.secret ?? SECRET));
}

async function refused(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    assert(e instanceof AuthError, `expected AuthError, got ${e}`);
    return e.message;
  }
  throw new Error("expected the token to be refused");
}

Deno.test("createVerifier refuses to start without a secret or a key", async () => {
  let message = "";
  try {
    await createVerifier({});
  } catch (e) {
    message = (e as Error).message;
  }
  assert(message.startsWith("No JWT key configured"), message);
});

Deno.test("HS256 tokens give the user with tenant and admin role; bad tokens get a clear message", async () => {
  const verify = await createVerifier({ secret: SECRET });
  const exp = Math.floor(Date.now() / 1000) + 3600;
  assertEquals(await verify(await hs({ sub: "alice", tenant: "lab-a" }, { exp })), {
    id: "alice",
    tenant: "lab-a",
    admin: false,
    expiresAt: exp * 1000,
  });
  assertEquals((await verify(await hs({ sub: "root", roles: ["admin"] }))).admin, true);
  assertEquals((await verify(await hs({ sub: "root", roles: "viewer admin" }))).admin, true);

  assertEquals(await refused(verify("")), "Missing token");
  assertEquals(await refused(verify("not.a.jwt")), "Malformed token: expected a signed JWT");
  const now = Math.floor(Date.now() / 1000);
  assertEquals(await refused(verify(await hs({ sub: "a" }, { exp: now - 10 }))), "Token expired");
  assertEquals(
    await refused(verify(await hs({ sub: "a" }, { nbf: now + 3600 }))),
    "Token not yet valid (nbf is in the future)",
  );
  assertEquals(
    await refused(verify(await hs({ sub: "a" }, { secret: "forged-secret" }))),
    "Invalid token signature",
  );
  assertEquals(await refused(verify(await hs({ name: "no sub" }))), "Token has no subject (sub) claim");
  const none = `${btoa(JSON.stringify({ alg: "none" }))}.${btoa(JSON.stringify({ sub: "a" }))}.`;
  assertEquals(await refused(verify(none)), "Token algorithm not allowed: expected HS256, found none");
});

Deno.test("a token without exp is refused, whatever its key, since it would be valid for ever", async () => {
  const verify = await createVerifier({ secret: SECRET });
  assertEquals(
    await refused(verify(await hs({ sub: "alice" }, { exp: null }))),
    "Token has no expiry (exp) claim",
  );
  const { publicKey, privateKey } = await generateKeyPair("ES256", { extractable: true });
  const file = await Deno.makeTempFile({ suffix: ".pem" });
  try {
    await Deno.writeTextFile(file, await exportSPKI(publicKey));
    const es = await createVerifier({ publicKeyFile: file });
    const noExp = await new SignJWT({ sub: "bob" }).setProtectedHeader({ alg: "ES256" }).setIssuedAt()
      .sign(privateKey);
    assertEquals(await refused(es(noExp)), "Token has no expiry (exp) claim");
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("the user carries the token's expiry, extended by the clock tolerance", async () => {
  const verify = await createVerifier({ secret: SECRET, clockToleranceSeconds: 30 });
  const exp = Math.floor(Date.now() / 1000) + 60;
  assertEquals((await verify(await hs({ sub: "a" }, { exp }))).expiresAt, (exp + 30) * 1000);
});

Deno.test("issuer and audience are checked when configured; nested claims can name tenant and roles", async () => {
  const verify = await createVerifier({
    secret: SECRET,
    issuer: "https://idp.example",
    audience: "biogpu",
    tenantClaim: "org.id",
    rolesClaim: "realm_access.roles",
  });
  const good = await new SignJWT({ sub: "a", org: { id: "lab-b" }, realm_access: { roles: ["admin"] } })
    .setProtectedHeader({ alg: "HS256" }).setIssuer("https://idp.example").setAudience("biogpu")
    .setExpirationTime("5m").sign(new TextEncoder().encode(SECRET));
  const user = await verify(good);
  assertEquals({ ...user, expiresAt: 0 }, { id: "a", tenant: "lab-b", admin: true, expiresAt: 0 });
  const wrongIss = await new SignJWT({ sub: "a" }).setProtectedHeader({ alg: "HS256" }).setIssuer("other")
    .setAudience("biogpu").setExpirationTime("5m").sign(new TextEncoder().encode(SECRET));
  assertEquals(await refused(verify(wrongIss)), "Token issuer not accepted");
});

Deno.test("RS256 tokens are verified against a PEM public key file, and an HS256 token is then refused", async () => {
  const { publicKey, privateKey } = await generateKeyPair("RS256", { extractable: true });
  const file = await Deno.makeTempFile({ suffix: ".pem" });
  try {
    await Deno.writeTextFile(file, await exportSPKI(publicKey));
    const verify = await createVerifier({ publicKeyFile: file });
    const token = await new SignJWT({ sub: "bob", tenant: "t1" }).setProtectedHeader({ alg: "RS256" })
      .setExpirationTime("5m").sign(privateKey);
    assertEquals({ ...(await verify(token)), expiresAt: 0 }, {
      id: "bob",
      tenant: "t1",
      admin: false,
      expiresAt: 0,
    });
    assertEquals(
      await refused(verify(await hs({ sub: "bob" }))),
      "Token algorithm not allowed: expected RS256, found HS256",
    );
    const other = await generateKeyPair("RS256");
    const forged = await new SignJWT({ sub: "bob" }).setProtectedHeader({ alg: "RS256" })
      .setExpirationTime("5m").sign(other.privateKey);
    assertEquals(await refused(verify(forged)), "Invalid token signature");
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("a missing or unreadable key file stops startup with a clear error", async () => {
  let message = "";
  try {
    await createVerifier({ publicKeyFile: "/nonexistent/key.pem" });
  } catch (e) {
    message = (e as Error).message;
  }
  assertEquals(message, "Cannot read the JWT public key file (/nonexistent/key.pem)");
});

Deno.test("ES256 and RS256 tokens are verified against a JWKS served over HTTP", async () => {
  const rs = await generateKeyPair("RS256", { extractable: true });
  const es = await generateKeyPair("ES256", { extractable: true });
  const jwks = {
    keys: [
      { ...(await exportJWK(rs.publicKey)), kid: "rs", alg: "RS256", use: "sig" },
      { ...(await exportJWK(es.publicKey)), kid: "es", alg: "ES256", use: "sig" },
    ],
  };
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, () => Response.json(jwks));
  try {
    const verify = await createVerifier({ jwksUrl: `http://127.0.0.1:${server.addr.port}/jwks.json` });
    const esToken = await new SignJWT({ sub: "carol", roles: ["admin"] })
      .setProtectedHeader({ alg: "ES256", kid: "es" }).setExpirationTime("5m").sign(es.privateKey);
    assertEquals({ ...(await verify(esToken)), expiresAt: 0 }, {
      id: "carol",
      tenant: undefined,
      admin: true,
      expiresAt: 0,
    });
    const rsToken = await new SignJWT({ sub: "dave" }).setProtectedHeader({ alg: "RS256", kid: "rs" })
      .setExpirationTime("5m").sign(rs.privateKey);
    assertEquals((await verify(rsToken)).id, "dave");
    const expired = await new SignJWT({ sub: "dave" }).setProtectedHeader({ alg: "RS256", kid: "rs" })
      .setExpirationTime(Math.floor(Date.now() / 1000) - 60).sign(rs.privateKey);
    assertEquals(await refused(verify(expired)), "Token expired");
    const stranger = await generateKeyPair("ES256");
    const unknownKid = await new SignJWT({ sub: "eve" }).setProtectedHeader({ alg: "ES256", kid: "nope" })
      .setExpirationTime("5m").sign(stranger.privateKey);
    assert((await refused(verify(unknownKid))).startsWith("Invalid token signature"));
    assertEquals(
      await refused(verify(await hs({ sub: "eve" }))),
      "Token algorithm not allowed: expected RS256, ES256, found HS256",
    );
  } finally {
    await server.shutdown();
  }
});

Deno.test("canAccess allows the owner, the tenant and admins, and nobody else", () => {
  const acl = { owner: "alice", tenant: "lab-a" };
  assert(canAccess({ id: "alice", admin: false }, acl));
  assert(canAccess({ id: "bob", tenant: "lab-a", admin: false }, acl));
  assert(canAccess({ id: "root", admin: true }, acl));
  assert(!canAccess({ id: "bob", tenant: "lab-b", admin: false }, acl));
  assert(!canAccess({ id: "bob", admin: false }, { owner: "alice" }));
  assert(!canAccess({ id: "bob", admin: false }, {}));
  assert(!canAccess({ id: "bob", admin: false }, null));
  assert(canAccess({ id: "root", admin: true }, null));
});
