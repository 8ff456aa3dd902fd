// Drives headless Chromium for crates/cfsign-edge/tests/browser.rs.
//
// Usage: node driver.mjs <base-url>   (CHROMIUM overrides /usr/bin/chromium)
//   <base-url>: http://127.0.0.1:PORT, or https://edge.test:PORT (edge.test is mapped to
//   127.0.0.1 and the test's self-signed certificate is accepted).
//
// Against the test's server on 127.0.0.1 it:
//   1. "valid":   opens /login (Set-Cookie headers made by cfsign), then a protected
//                 page (/private/probe.html) to read `document.cookie`, then
//                 /index.html and waits until its two <img> and its <audio> settle;
//   2. "cleared": clears the cookies and reloads /index.html;
//   3. "expired": opens /login-expired (cookies whose policy has expired), then
//                 /index.html again.
// Every request carries an `X-Test-Phase` header so that the server can tell the
// phases apart. The HTTP cache is disabled, so every phase reaches the server.
// The last line on stdout is the JSON result; the Rust test asserts on it.
// Exit codes: 0 result printed, 2 bad usage, 3 watchdog, 1 anything else.

import { launchChromium } from './launch.mjs';

const base = process.argv[2];
if (!base || !/^(http:\/\/127\.0\.0\.1|https:\/\/edge\.test):\d+$/.test(base)) {
  console.error('usage: node driver.mjs http://127.0.0.1:PORT | https://edge.test:PORT');
  process.exit(2);
}
const tls = base.startsWith('https://');

const SETTLE_MS = 15_000;
const watchdog = setTimeout(() => {
  console.error('driver: watchdog: no result after 90 s');
  process.exit(3);
}, 90_000);

// Over TLS: the name edge.test reaches the test's server on loopback (nothing else
// is resolved), and its self-signed certificate is accepted.
const browser = await launchChromium(
  tls ? ['--host-resolver-rules=MAP edge.test 127.0.0.1', '--ignore-certificate-errors'] : [],
);

const result = { browser: browser.version(), phases: {}, responses: [], console: [] };
try {
  const context = await browser.newContext({ ignoreHTTPSErrors: tls });
  const page = await context.newPage();
  // No HTTP cache: a reload after the cookies are gone must ask the edge again.
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });

  let phase = 'valid';
  const setPhase = async (name) => {
    phase = name;
    await page.setExtraHTTPHeaders({ 'x-test-phase': name });
  };
  page.on('response', (r) => {
    const path = new URL(r.url()).pathname;
    result.responses.push({ phase, path, status: r.status() });
  });
  page.on('console', (m) => result.console.push(`${phase}: ${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => result.console.push(`${phase}: pageerror: ${e.message}`));

  // All the cookies the browser holds (only the one host is visited), as Playwright reports them.
  const jar = async () =>
    (await context.cookies()).map((c) => ({
      name: c.name,
      path: c.path,
      domain: c.domain,
      secure: c.secure,
      httpOnly: c.httpOnly,
      sameSite: c.sameSite,
      session: c.expires === -1,
    }));
  // Waits until both images are complete (loaded or broken) and the audio has
  // current data or an error, then reports them.
  const media = async () => {
    await page.waitForFunction(
      () => {
        const imgs = [...document.images];
        const audio = document.getElementById('clip');
        return (
          imgs.length === 2 &&
          imgs.every((i) => i.complete) &&
          audio !== null &&
          (audio.readyState >= 2 || audio.error !== null)
        );
      },
      null,
      { timeout: SETTLE_MS, polling: 50 },
    );
    await page.waitForLoadState('networkidle');
    return page.evaluate(() => {
      const audio = document.getElementById('clip');
      return {
        images: [...document.images].map((i) => ({
          id: i.id,
          complete: i.complete,
          naturalWidth: i.naturalWidth,
          naturalHeight: i.naturalHeight,
        })),
        audio: {
          readyState: audio.readyState,
          error: audio.error ? audio.error.code : null,
          duration: Number.isFinite(audio.duration) ? audio.duration : null,
        },
        events: window.mediaEvents,
        documentCookie: document.cookie,
      };
    });
  };

  // 1. Signed in.
  await setPhase('valid');
  const login = await page.goto(`${base}/login`);
  const probe = await page.goto(`${base}/private/probe.html`);
  result.phases.valid = {
    loginStatus: login.status(),
    probeStatus: probe.status(),
    // HttpOnly: script on a page inside the cookies' Path sees only the control cookie.
    probeDocumentCookie: await page.evaluate(() => document.cookie),
    cookies: await jar(),
  };
  await page.goto(`${base}/index.html`);
  Object.assign(result.phases.valid, await media());

  // 2. The cookies cleared, the page reloaded.
  await context.clearCookies();
  await setPhase('cleared');
  await page.reload();
  result.phases.cleared = { cookies: await jar(), ...(await media()) };

  // 3. Cookies whose policy has expired.
  await setPhase('expired');
  const expired = await page.goto(`${base}/login-expired`);
  await page.goto(`${base}/index.html`);
  result.phases.expired = {
    loginStatus: expired.status(),
    cookies: await jar(),
    ...(await media()),
  };
  await context.close();
} catch (e) {
  result.error = String(e && e.stack ? e.stack : e);
} finally {
  await browser.close();
  clearTimeout(watchdog);
}
console.log(JSON.stringify(result));
