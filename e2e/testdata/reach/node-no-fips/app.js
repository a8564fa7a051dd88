// Refuses to run unless the image's OpenSSL is in FIPS mode, as the openssl
// command sees it, and unless Node's crypto works; then hashes with Node's
// crypto — which, without --openssl-shared-config, does not follow the
// image's OpenSSL configuration (MD5 works too).
"use strict";
const crypto = require("node:crypto");
const { execFileSync } = require("node:child_process");

function refuse(why) {
  console.error(`app.js: ${why}: refusing to run`);
  process.exit(1);
}

try {
  const providers = execFileSync("openssl", ["list", "-providers"], { encoding: "utf8" });
  if (!/^  fips$/m.test(providers)) refuse("the OpenSSL FIPS provider is not active");
  execFileSync("openssl", ["dgst", "-sha256"], { input: "fipsgate", stdio: ["pipe", "ignore", "inherit"] });
} catch (e) {
  refuse(`OpenSSL is not in FIPS mode (${e.message})`);
}
let sha256, md5;
try {
  sha256 = crypto.createHash("sha256").update("fipsgate").digest("hex");
  md5 = crypto.createHash("md5").update("fipsgate").digest("hex");
} catch (e) {
  refuse(`Node's crypto does not work (${e.message})`);
}
console.log("sha256", sha256, "md5", md5, "getFips()", crypto.getFips());
