/** Gateway configs of the `behalf serve` tests (test/cli/serve.test.ts in process, test/slow/serve.test.ts as processes). */

/** A gateway config whose port, public URL and state folder come from the environment. */
export const CONFIG = `
server: { host: 127.0.0.1, port: "\${PORT}", publicUrl: "http://127.0.0.1:\${PORT}" }
issuers:
  # Keys are fetched lazily: nothing listens on port 9, and the gateway starts anyway.
  - { id: idp, issuer: "http://127.0.0.1:9/idp", audience: "http://127.0.0.1:\${PORT}", jwksUri: "http://127.0.0.1:9/jwks" }
routes:
  - { id: hr, path: /api/hr, upstream: "http://127.0.0.1:9/v1" }
signing: { keyFile: "\${STATE}/signing-keys.json" }
audit: { store: "\${STATE}/audit" }
log: { level: info }
`;

/** A config with two problems (a non-HTTP upstream, an unset variable): `behalf check` and `serve` name both. */
export const INVALID = `
server: { publicUrl: "http://127.0.0.1:8080" }
issuers:
  - { id: idp, issuer: "http://127.0.0.1:9/idp", audience: gw }
routes:
  - { id: hr, path: /api/hr, upstream: "ftp://hr.internal/v1" }
  - { id: pay, path: /api/pay, upstream: "\${PAY_URL}" }
`;
