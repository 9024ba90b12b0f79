// What the signed-in browser specs share: Debian's chromium (/usr/bin/chromium) with a fresh profile, driven by
// playwright-core, and named steps whose failure says which step failed.

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

/**
 * Runs a spec's named steps in a fresh chromium (launchChromium's options): body gets the browser context and
 * run(name, fn), which logs each step as it starts. Prints "all steps passed", or the step that failed with its error
 * (exit code 1); the browser is closed and its profile deleted either way.
 */
export async function runSteps(options, body) {
  let current = 'start';
  const run = async (name, step) => {
    current = name;
    console.log(`[${new Date().toISOString().slice(11, 23)}] step: ${name}`);
    await step();
  };
  let browser;
  try {
    browser = await launchChromium(options);
    await body({ context: browser.context, run });
    console.log('all steps passed');
  } catch (error) {
    console.error(`FAILED at step "${current}": ${error?.stack ?? error}`);
    process.exitCode = 1;
  } finally {
    await browser?.dispose();
  }
}

/** The context's page, with a 60 s default timeout (other test assemblies share the cores); uncaught page errors go to pageErrors. */
export async function firstPage(context, pageErrors) {
  const page = context.pages()[0] ?? await context.newPage();
  page.setDefaultTimeout(60_000);
  page.on('pageerror', (error) => pageErrors.push(String(error)));
  return page;
}
