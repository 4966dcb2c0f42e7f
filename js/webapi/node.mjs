// Runs js/webapi/cases.js under Node and prints its results as JSON: the reference that
// tests/web_api_conformance.rs holds lit-node's QuickJS runtime to.
//
//   node js/webapi/node.mjs '{"slowUrl": "...", "peer": {"p256": "<hex>", "k256": "<hex>"}}'
//
// Node's WebCrypto has no secp256k1, so the K-256 case is done here with node:crypto (ECDSA over
// SHA-256, IEEE P1363 signatures, as lit-node's `namedCurve: "K-256"` makes them).
import { createPrivateKey, createPublicKey, sign, verify } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import vm from "node:vm";

const here = path.dirname(fileURLToPath(import.meta.url));
const options = JSON.parse(process.argv[2] || "{}");
vm.runInThisContext(readFileSync(path.join(here, "cases.js"), "utf8"), { filename: "cases.js" });
const result = await globalThis.webApiCases({ ...options, platform: "node" });

const K256_JWK = vm.runInThisContext("K256_JWK");
const MESSAGE = vm.runInThisContext("MESSAGE");
const privateKey = createPrivateKey({ key: K256_JWK, format: "jwk" });
const { d, ...publicJwk } = K256_JWK;
const publicKey = createPublicKey({ key: publicJwk, format: "jwk" });
const signature = sign("sha256", Buffer.from(MESSAGE), { key: privateKey, dsaEncoding: "ieee-p1363" });
result.exchange.k256 = signature.toString("hex");
const peer = (options.peer || {}).k256;
result.cases.k256 = {
  verifies: verify("sha256", Buffer.from(MESSAGE), { key: publicKey, dsaEncoding: "ieee-p1363" }, signature),
  peerVerifies: peer
    ? verify("sha256", Buffer.from(MESSAGE), { key: publicKey, dsaEncoding: "ieee-p1363" }, Buffer.from(peer, "hex"))
    : null,
};
process.stdout.write(JSON.stringify(result));
