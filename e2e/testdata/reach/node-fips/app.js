// Refuses to run unless Node's crypto is in FIPS mode — FIPS enabled and
// MD5 refused — then hashes with SHA-256 (the FIPS provider's).
"use strict";
const crypto = require("node:crypto");

let md5Refused = false;
try {
  crypto.createHash("md5");
} catch {
  md5Refused = true;
}
if (crypto.getFips() !== 1 || !md5Refused) {
  console.error(`app.js: Node's crypto is not in FIPS mode (getFips() = ${crypto.getFips()}, MD5 refused: ${md5Refused}): refusing to run`);
  process.exit(1);
}
console.log("sha256", crypto.createHash("sha256").update("fipsgate").digest("hex"));
