// What the browser specs share: Debian's chromium (/usr/bin/chromium) with a fresh profile, driven by playwright-core,
// and named steps whose failure says which step failed.

import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A headless chromium context with a throw-away profile; dispose() closes it and deletes the profile. */
export async function launchChromium(options = {}) {
  const userDataDir = mkdtempSync(join(tmpdir(), 'vsearch-chromium-'));
  try {
    const context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1280, height: 900 },
      ...options,
    });
    return {
      context,
      async dispose() {
        await context.close().catch(() => {});
        rmSync(userDataDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(userDataDir, { recursive: true, force: true });
    throw error;
  }
}

/** Runs named steps; current is the step that is running (or failed). */
export function steps() {
  const state = {
    current: 'start',
    async run(name, body) {
      state.current = name;
      console.log(`[${new Date().toISOString().slice(11, 23)}] step: ${name}`);
      await body();
    },
  };
  return state;
}
