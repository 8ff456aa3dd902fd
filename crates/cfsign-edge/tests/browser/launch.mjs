// What driver.mjs and play.mjs share: Debian's Chromium (or $CHROMIUM), headless,
// with the flags that work on these machines (no network beyond loopback;
// media may play without a user gesture). Playwright itself adds --headless and
// a new, empty, temporary --user-data-dir.
import { chromium } from 'playwright-core';

export function launchChromium(extraArgs = []) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--autoplay-policy=no-user-gesture-required',
      ...extraArgs,
    ],
  });
}
