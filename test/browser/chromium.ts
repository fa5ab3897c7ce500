// Headless Chromium from the operating system's packages, driven by playwright-core (which brings
// no browser of its own), and the screenshots the browser tests keep as artefacts.
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

// No sandbox: CI runs as root in a container, where Chromium's sandbox cannot start. The rest keep
// the browser from calling home (updates, sync, QUIC probes) and from needing a GPU.
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Launches Chromium; a missing browser fails the test, with how to install it, rather than skipping it. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`The browser tests need Chromium at ${CHROMIUM}, and it is not there. Install Debian's package: apt-get install -y --no-install-recommends chromium`);
  }
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
}

/**
 * Where screenshots go: $KILN_TEST_SCREENSHOTS_DIR, or test-artifacts/screenshots/ in the
 * repository; then a folder per database, so that the embedded and the Postgres runs keep theirs.
 */
export function screenshotFolder(): string {
  const root = process.env.KILN_TEST_SCREENSHOTS_DIR || resolve(import.meta.dirname, '../../test-artifacts/screenshots');
  const folder = join(root, process.env.DATABASE_URL ? 'postgres' : 'embedded');
  mkdirSync(folder, { recursive: true });
  return folder;
}

/** Keeps the whole page as `<name>.png` in the screenshot folder. */
export async function keepScreenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(screenshotFolder(), `${name}.png`), fullPage: true });
}
