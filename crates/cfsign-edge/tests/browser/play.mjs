// Drives headless Chromium for crates/cfsign-edge/tests/streaming_browser.rs: plays
// HLS (hls.js) and DASH (dashjs) streams served by the test's edges.
//
// Usage: node play.mjs <scenarios.json>   (CHROMIUM overrides /usr/bin/chromium)
//
// The file holds a JSON array of scenarios, run one after the other, each in a new
// browser context (no cookies, no cache carried over):
//   { "name":  "hls-ts",                 a label for the result
//     "login": "http://127.0.0.1:Q/login" (optional) opened first, top-level: it sets cookies
//     "page":  "http://127.0.0.1:P/player/index.html"  the player page
//     "player": "hls" | "dash",
//     "src":   "<manifest URL>",
//     "withCredentials": false,          hls.js only: xhr.withCredentials = true in xhrSetup
//     "expect": "play" | "fail" }        how long to wait: until currentTime > 3, or
//                                        until the player reports a fatal error
// For each it reports the video element's state, the player's errors and every
// response the page got (URL, status, whether the request carried a Cookie) and
// the cookies Chromium held back from a request, with its reasons.
// The last line on stdout is the JSON result; the Rust test asserts on it.
// Exit codes: 0 result printed, 2 bad usage, 3 watchdog, 1 anything else.

import { readFileSync } from 'node:fs';
import { launchChromium } from './launch.mjs';

const file = process.argv[2];
if (!file) {
  console.error('usage: node play.mjs <scenarios.json>');
  process.exit(2);
}
const scenarios = JSON.parse(readFileSync(file, 'utf8'));

// How long one scenario may wait for playback (or for the player's fatal error).
const PLAY_MS = 20_000;
const FAIL_MS = 12_000;
const watchdog = setTimeout(() => {
  console.error('play: watchdog: no result after 100 s');
  process.exit(3);
}, 100_000);

const browser = await launchChromium();

const result = { browser: browser.version(), scenarios: {} };
try {
  for (const s of scenarios) {
    const started = Date.now();
    const context = await browser.newContext();
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    const out = { responses: [], failed: [], console: [], blockedCookies: [] };
    // Why Chromium kept a stored cookie off a request (third-party blocking, SameSite...).
    cdp.on('Network.requestWillBeSentExtraInfo', (e) => {
      for (const c of e.associatedCookies || []) {
        if (c.blockedReasons && c.blockedReasons.length > 0) {
          out.blockedCookies.push(`${c.cookie.name}: ${c.blockedReasons.join(',')}`);
        }
      }
    });
    const pending = [];
    page.on('response', (r) => {
      pending.push(
        r
          .request()
          .headerValue('cookie')
          .then((cookie) => {
            out.responses.push({
              url: r.url(),
              status: r.status(),
              cookie: cookie !== null && cookie.includes('CloudFront-'),
            });
          }),
      );
    });
    page.on('requestfailed', (r) => out.failed.push(`${r.url()}: ${r.failure()?.errorText}`));
    page.on('console', (m) => out.console.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => out.console.push(`pageerror: ${e.message}`));
    try {
      if (s.login) {
        out.loginStatus = (await page.goto(s.login)).status();
        out.cookies = (await context.cookies()).map((c) => `${c.name}@${c.domain}${c.path} ${c.sameSite}`);
      }
      out.pageStatus = (await page.goto(s.page)).status();
      await page.evaluate((s) => window.startPlayback(s), s);
      const bound = s.expect === 'play' ? PLAY_MS : FAIL_MS;
      try {
        await page.waitForFunction(
          () => window.playback.fatal !== null || document.querySelector('video').currentTime > 3,
          null,
          { timeout: bound, polling: 100 },
        );
      } catch (e) {
        out.timedOut = true;
      }
      if (s.expect === 'fail') {
        // A moment more: nothing plays after the error either.
        await page.waitForTimeout(500);
      }
      Object.assign(out, await page.evaluate(() => window.playbackState()));
    } catch (e) {
      out.error = String(e && e.stack ? e.stack : e);
    }
    await Promise.all(pending);
    out.ms = Date.now() - started;
    result.scenarios[s.name] = out;
    await context.close();
  }
} catch (e) {
  result.error = String(e && e.stack ? e.stack : e);
} finally {
  await browser.close();
  clearTimeout(watchdog);
}
console.log(JSON.stringify(result));
