#!/usr/bin/env node
// Signed URLs and cookies made by the npm CloudFront signers people use, for
// cfsign's verifier tests (crates/cfsign/tests/node_signers.rs, the CLI's and the
// edge's tests, through cfsign_testkit::node):
//
//   aws-cloudfront-sign         getSignedUrl / getSignedCookies (its URLs carry both
//                               Expires and Policy, with '~' as %7E: URLSearchParams)
//   @aws-sdk/cloudfront-signer  getSignedUrl / getSignedCookies (canned, custom,
//                               wildcard policy, IP, SHA-256)
//
// Usage: node signers.cjs PRIVATE_KEY_PEM_FILE KEY_PAIR_ID NOW_EPOCH_SECONDS
// Prints a JSON array, one object per signed request (see `record` below).
// The packages are the versions pinned in package-lock.json, installed by
// scripts/setup-node-oracles; anything missing is an error with that hint.
"use strict";

const fs = require("node:fs");
const path = require("node:path");

const INSTALL_HINT =
  "run scripts/setup-node-oracles (scripts/test runs it): it needs Node.js 20+ and npm " +
  "(apt-get install nodejs npm) and installs the versions pinned in " +
  "crates/cfsign/tests/oracles/node/package-lock.json";

function fail(message) {
  process.stderr.write(`error: ${message}; ${INSTALL_HINT}\n`);
  process.exit(2);
}

const major = Number(process.versions.node.split(".")[0]);
if (major < 20) {
  fail(`node ${process.version} is too old: the signers need Node.js 20+`);
}

const pinned = require("./package.json").dependencies;

function load(name) {
  let module;
  let version;
  try {
    module = require(name);
    version = require(`${name}/package.json`).version;
  } catch (error) {
    fail(`the npm package ${name} is not installed in ${__dirname} (${error.code || error.message})`);
  }
  if (version !== pinned[name]) {
    fail(`${name} ${version} is installed, but package.json pins ${pinned[name]}`);
  }
  return { module, version };
}

const acs = load("aws-cloudfront-sign");
const js3 = load("@aws-sdk/cloudfront-signer");

const [keyFile, keyPairId, nowText] = process.argv.slice(2);
if (!keyFile || !keyPairId || !/^[0-9]+$/.test(nowText || "")) {
  process.stderr.write("usage: node signers.cjs PRIVATE_KEY_PEM_FILE KEY_PAIR_ID NOW_EPOCH_SECONDS\n");
  process.exit(2);
}
const privateKey = fs.readFileSync(path.resolve(keyFile), "utf8");
const now = Number(nowText);
const expires = now + 3600;
const host = "https://d111111abcdef8.cloudfront.net";
const clientIp = "203.0.113.7";
const ipRange = "203.0.113.0/24";

const out = [];

/**
 * One signed request.
 * id       unique name of the case
 * package  npm package and version that signed it
 * api      the function called
 * form     "canned" or "custom": the policy the signer says it made
 * url      the URL the viewer requests (for cookies: the URL they are sent with)
 * cookie   the Cookie header (cookies only), the signer's name=value pairs joined with "; "
 * client   the viewer's IP (IP-restricted policies), else null
 * hash     "SHA1" or "SHA256"
 * expires  DateLessThan, epoch seconds
 */
function record(id, pkg, api, form, url, extra = {}) {
  out.push({
    id,
    package: pkg.name,
    version: pkg.version,
    api,
    form,
    url,
    cookie: extra.cookies ? cookieHeader(extra.cookies) : null,
    client: extra.client || null,
    hash: extra.hash || "SHA1",
    expires,
  });
}

function cookieHeader(cookies) {
  return Object.entries(cookies)
    .map(([name, value]) => `${name}=${value}`)
    .join("; ");
}

// --- aws-cloudfront-sign: every policy is custom, every URL also carries Expires ---
const A = { name: "aws-cloudfront-sign", version: acs.version };
const acsOptions = { keypairId: keyPairId, privateKeyString: privateKey, expireTime: expires * 1000 };
record("acs/url", A, "getSignedUrl", "custom", acs.module.getSignedUrl(`${host}/videos/intro.mp4`, acsOptions));
record(
  "acs/url-query",
  A,
  "getSignedUrl",
  "custom",
  acs.module.getSignedUrl(`${host}/videos/intro.mp4?size=720&lang=en`, acsOptions),
);
record(
  "acs/url-ip",
  A,
  "getSignedUrl",
  "custom",
  acs.module.getSignedUrl(`${host}/reports/q3.pdf`, { ...acsOptions, ipRange }),
  { client: clientIp },
);
// Its URL is its policy's resource: a wildcard is signed once and its query string
// reused for each file under it (the pattern of jasonsims/aws-cloudfront-sign#37).
const album = new URL(acs.module.getSignedUrl(`${host}/album/*`, acsOptions));
record("acs/url-wildcard", A, "getSignedUrl", "custom", `${host}/album/7.jpg${album.search}`);
record("acs/cookies", A, "getSignedCookies", "custom", `${host}/videos/intro.mp4`, {
  cookies: acs.module.getSignedCookies(`${host}/videos/intro.mp4`, acsOptions),
});
record("acs/cookies-wildcard", A, "getSignedCookies", "custom", `${host}/album/7.jpg`, {
  cookies: acs.module.getSignedCookies(`${host}/album/*`, acsOptions),
});
record("acs/cookies-ip", A, "getSignedCookies", "custom", `${host}/album/8.jpg`, {
  cookies: acs.module.getSignedCookies(`${host}/album/*`, { ...acsOptions, ipRange }),
  client: clientIp,
});

// --- @aws-sdk/cloudfront-signer ---
const J = { name: "@aws-sdk/cloudfront-signer", version: js3.version };
const base = { keyPairId, privateKey, dateLessThan: new Date(expires * 1000).toISOString() };
const start = new Date((now - 60) * 1000).toISOString();
const wildcardPolicy = JSON.stringify({
  Statement: [{ Resource: `${host}/album/*`, Condition: { DateLessThan: { "AWS:EpochTime": expires } } }],
});
record("js3/url-canned", J, "getSignedUrl", "canned", js3.module.getSignedUrl({ ...base, url: `${host}/videos/intro.mp4` }));
record(
  "js3/url-canned-sha256",
  J,
  "getSignedUrl",
  "canned",
  js3.module.getSignedUrl({ ...base, url: `${host}/videos/intro.mp4`, algorithm: "SHA256" }),
  { hash: "SHA256" },
);
record(
  "js3/url-canned-query",
  J,
  "getSignedUrl",
  "canned",
  js3.module.getSignedUrl({ ...base, url: `${host}/videos/intro.mp4?size=720` }),
);
record(
  "js3/url-custom-start",
  J,
  "getSignedUrl",
  "custom",
  js3.module.getSignedUrl({ ...base, url: `${host}/videos/intro.mp4`, dateGreaterThan: start }),
);
record(
  "js3/url-ip",
  J,
  "getSignedUrl",
  "custom",
  js3.module.getSignedUrl({ ...base, url: `${host}/reports/q3.pdf`, ipAddress: ipRange }),
  { client: clientIp },
);
record(
  "js3/url-wildcard",
  J,
  "getSignedUrl",
  "custom",
  js3.module.getSignedUrl({ ...base, url: `${host}/album/7.jpg`, policy: wildcardPolicy }),
);
record("js3/cookies-canned", J, "getSignedCookies", "canned", `${host}/videos/intro.mp4`, {
  cookies: js3.module.getSignedCookies({ ...base, url: `${host}/videos/intro.mp4` }),
});
record("js3/cookies-wildcard", J, "getSignedCookies", "custom", `${host}/album/7.jpg`, {
  cookies: js3.module.getSignedCookies({ ...base, url: `${host}/album/7.jpg`, policy: wildcardPolicy }),
});
record("js3/cookies-ip-sha256", J, "getSignedCookies", "custom", `${host}/album/9.jpg`, {
  cookies: js3.module.getSignedCookies({
    ...base,
    url: `${host}/album/*`,
    ipAddress: ipRange,
    algorithm: "SHA256",
  }),
  client: clientIp,
  hash: "SHA256",
});

process.stdout.write(`${JSON.stringify(out, null, 1)}\n`);
