// The search page in a real browser: Debian's chromium driven by playwright-core (from the repository's node_modules).
//
//   node search.spec.mjs <baseUrl> <edited-image> <screenshot.png> <expected-first-id>
//
// The local host at <baseUrl> has the sample photos indexed. Each step asserts what a user would see; any failure
// throws, and the script exits 1 with the step and the reason. The browser runs with a fresh profile and may reach
// nothing but <baseUrl>.

import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, basename } from 'node:path';
import assert from 'node:assert/strict';

const [baseUrl, editedImage, screenshotPath, expectedFirst] = process.argv.slice(2);
if (!baseUrl || !editedImage || !screenshotPath || !expectedFirst) {
  console.error('usage: node search.spec.mjs <baseUrl> <edited-image> <screenshot.png> <expected-first-id>');
  process.exit(2);
}

const executablePath = '/usr/bin/chromium';
const origin = new URL(baseUrl).origin;
const userDataDir = mkdtempSync(join(tmpdir(), 'vsearch-chromium-'));
const pageErrors = [];
const consoleErrors = [];
const foreignRequests = [];
let step = 'start';
let context;

function log(message) {
  console.log(`[${new Date().toISOString().slice(11, 23)}] ${message}`);
}

async function run(name, body) {
  step = name;
  log(`step: ${name}`);
  await body();
}

const cards = (page) => page.locator('#grid > li.card');
const cardIds = (page) => cards(page).evaluateAll((items) => items.map((li) => li.dataset.id));

/** Runs an action and waits for the search it starts to be answered and rendered. */
async function searchAfter(page, action, { method = null, expectOk = true } = {}) {
  const before = Number(await page.locator('body').getAttribute('data-searches'));
  const response = page.waitForResponse((r) => {
    const url = new URL(r.url());
    return url.pathname === '/api/search' && (method === null || r.request().method() === method);
  });
  await action();
  const answered = await response;
  await page.waitForFunction((n) => Number(document.body.dataset.searches) > n, before);
  if (expectOk && answered.status() !== 200) {
    assert.fail(`the search answered ${answered.status()}: ${await page.locator('#error').textContent()}`);
  }
  return answered;
}

/** Types a value and leaves the field, as a user does: one change event. */
async function setValue(page, selector, value) {
  await page.fill(selector, value);
  await page.locator(selector).blur();
}

async function thumbnailsLoaded(page) {
  await page.waitForFunction(() => {
    const images = [...document.querySelectorAll('#grid img')];
    return images.length > 0 && images.every((img) => img.complete && img.naturalWidth > 0);
  }, null, { timeout: 60_000 });
}

try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync',
    ],
    viewport: { width: 1280, height: 900 },
    deviceScaleFactor: 1,
    colorScheme: 'light',
    locale: 'en-US',
  });
  // Nothing but the host under test: no CDN, no fonts, no network at run time.
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(origin) || url.startsWith('blob:') || url.startsWith('data:')) return route.continue();
    foreignRequests.push(url);
    return route.abort();
  });
  const page = context.pages()[0] ?? await context.newPage();
  // Generous: CI runs the other test assemblies on the same two cores at the same time.
  page.setDefaultTimeout(60_000);
  page.on('pageerror', (error) => pageErrors.push(String(error)));
  page.on('console', (message) => {
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) consoleErrors.push(message.text());
  });

  await run('the page loads and reports the index', async () => {
    const response = await page.goto(baseUrl, { waitUntil: 'load' });
    assert.equal(response.status(), 200);
    assert.match(response.headers()['content-security-policy'] ?? '', /default-src 'none'/);
    await page.waitForSelector('body[data-ready="true"]');
    await page.waitForFunction(() => /\b8 images indexed\b/.test(document.getElementById('health').textContent));
    assert.equal(await page.locator('#camera').getAttribute('capture'), 'environment', 'the photo input opens the camera on a phone');
  });

  const editedName = basename(editedImage);
  await run('an edited copy of a photo finds its original first', async () => {
    // The page cuts the list where the scores fall away (cutoff=auto) by default: one clear match, one result.
    const auto = await searchAfter(page, () => page.setInputFiles('#file', editedImage), { method: 'POST' });
    assert.equal(new URL(auto.url()).searchParams.get('cutoff'), 'auto', 'the page asks for the automatic cut-off');
    assert.deepEqual(await cardIds(page), [expectedFirst], 'with the cut-off only the original is left');
    const full = await searchAfter(page, () => page.uncheck('#cutoff'));
    assert.equal(new URL(full.url()).searchParams.get('cutoff'), 'none');
    const ids = await cardIds(page);
    assert.equal(ids.length, 8, `k=12 over 8 photos gives all 8, got ${ids.length}: ${ids}`);
    assert.equal(ids[0], expectedFirst, `the first result is ${ids[0]}, not ${expectedFirst}: ${ids}`);
    const scores = await cards(page).evaluateAll((items) => items.map((li) => Number(li.dataset.score)));
    assert.ok(scores.every((s, i) => i === 0 || s <= scores[i - 1]), `scores are best first: ${scores}`);
    const shown = await cards(page).first().locator('.score').textContent();
    assert.equal(shown, scores[0].toFixed(3));
    assert.match(await page.locator('#query-label').textContent(), new RegExp(editedName.replace('.', '\\.')));
    assert.equal(await page.locator('#query-image').isVisible(), true, 'the query image is shown');
    await thumbnailsLoaded(page);
    assert.equal(await page.locator('#add').isVisible(), true, 'the local host offers to add the image to the index');
  });

  await run('screenshot', async () => {
    await page.evaluate(() => document.activeElement?.blur());
    await page.screenshot({ path: screenshotPath, fullPage: true });
    const bytes = readFileSync(screenshotPath);
    assert.ok(bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])), 'the screenshot is a PNG');
    log(`screenshot: ${screenshotPath} (${statSync(screenshotPath).size} bytes)`);
  });

  await run('clicking a result searches by it', async () => {
    const clicked = (await cardIds(page))[1];
    const response = await searchAfter(page, () => page.locator(`#grid > li[data-id="${clicked}"] button.hit`).click(), { method: 'GET' });
    assert.equal(new URL(response.url()).searchParams.get('id'), clicked, 'the new search is by the clicked id');
    const ids = await cardIds(page);
    assert.ok(ids.length === 7, `the neighbours of an indexed photo are the 7 others, got ${ids}`);
    assert.ok(!ids.includes(clicked), 'the clicked item itself is not among its neighbours');
    assert.equal(await page.locator('#query-label').textContent(), `Similar to ${clicked}`);
    assert.equal(new URL(page.url()).searchParams.get('id'), clicked, 'the address names the item, so it can be shared');
    assert.equal(await page.locator('#add').isVisible(), false, 'an indexed item is not offered for adding');
    await thumbnailsLoaded(page);
  });

  await run('k limits the number of results', async () => {
    await searchAfter(page, () => setValue(page, '#k', '3'));
    assert.equal((await cardIds(page)).length, 3);
  });

  await run('a content-type filter keeps only JPEG photos', async () => {
    await searchAfter(page, () => setValue(page, '#k', '12'));
    await page.locator('#filters summary').click();
    await searchAfter(page, () => page.selectOption('#f-type', 'image/jpeg'));
    const ids = await cardIds(page);
    assert.ok(ids.length >= 1 && ids.every((id) => id.endsWith('.jpg')), `only JPEG photos: ${ids}`);
    await searchAfter(page, () => page.selectOption('#f-type', ''));
    assert.ok((await cardIds(page)).some((id) => id.endsWith('.png')));
  });

  await run('the region that matched is outlined on the result thumbnail', async () => {
    // The sample photos are indexed without regions (the encoder's regional vectors are issue 14's other half), so
    // the next search's real answer is handed to the page with a region added to its first result that is not square
    // (where the thumbnail's crop matters): what the API returns when a region of that item gave the score. The
    // outline must sit where that region of the photo is drawn in the square thumbnail (object-fit: cover).
    let region = null;
    let size = null;
    let target = null;
    await page.route((url) => url.pathname === '/api/search', async (route) => {
      const response = await route.fetch();
      const body = await response.json();
      const hit = body.results.find((r) => r.metadata.width !== r.metadata.height);
      if (hit) {
        target = hit.id;
        size = { width: hit.metadata.width, height: hit.metadata.height };
        region = { x: Math.round(size.width / 2), y: Math.round(size.height / 8), width: Math.round(size.width / 4), height: Math.round(size.height / 2) };
        hit.region = region;
      }
      await route.fulfill({ response, json: body });
    }, { times: 1 });
    await searchAfter(page, () => setValue(page, '#k', '5'));
    assert.ok(region && size.width > 0 && size.height > 0, 'the search went through the page and had a result that is not square');
    const first = page.locator(`#grid > li[data-id="${target}"]`);
    assert.equal(await cards(page).locator('.frame .region').count(), 1, 'only the result with a region is outlined');
    const frame = await first.locator('.frame').boundingBox();
    const outline = await first.locator('.frame .region').boundingBox();
    const scale = frame.width * Math.max(1 / size.width, 1 / size.height);
    const expected = {
      x: frame.x + (frame.width - size.width * scale) / 2 + region.x * scale,
      y: frame.y + (frame.height - size.height * scale) / 2 + region.y * scale,
      width: region.width * scale,
      height: region.height * scale,
    };
    for (const key of ['x', 'y', 'width', 'height']) {
      assert.ok(Math.abs(outline[key] - expected[key]) <= 1.5, `outline ${key} ${outline[key]} where the region is drawn at ${expected[key]}`);
    }
    assert.ok(Math.abs(frame.width - frame.height) <= 1, `the thumbnail's frame is square: ${frame.width} x ${frame.height}`);
    await searchAfter(page, () => setValue(page, '#k', '12'));
    assert.equal(await cards(page).locator('.frame .region').count(), 0, 'a search without regions outlines nothing');
  });

  await run('a bad parameter is explained in words', async () => {
    await searchAfter(page, () => setValue(page, '#min-score', '2'), { expectOk: false });
    const alert = page.getByRole('alert');
    await alert.waitFor({ state: 'visible' });
    const text = await alert.textContent();
    assert.match(text, /Invalid minScore/);
    assert.match(text, /from -1 to 1/);
    assert.equal(await cards(page).count(), 0);
    await searchAfter(page, () => setValue(page, '#min-score', ''));
    assert.equal(await alert.isVisible(), false, 'the error goes away with the next good search');
  });

  await run('a file that is not an image is refused in words', async () => {
    await searchAfter(page, () => page.setInputFiles('#file', {
      name: 'notes.png', mimeType: 'image/png', buffer: Buffer.from('these are notes, not a picture'),
    }), { method: 'POST', expectOk: false });
    const text = await page.getByRole('alert').textContent();
    assert.match(text, /Not a supported image/);
    assert.match(text, /HTTP 415/);
  });

  await run('the edited photo is added to the index and searched by its new id', async () => {
    await searchAfter(page, () => page.setInputFiles('#file', editedImage), { method: 'POST' });
    const upload = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/images' && r.request().method() === 'POST');
    const [uploaded] = await Promise.all([upload, searchAfter(page, () => page.click('#add'), { method: 'GET' })]);
    assert.equal(uploaded.status(), 201, 'the upload is created');
    const id = new URL(page.url()).searchParams.get('id');
    assert.match(id ?? '', /^uploads\/[0-9a-f]{32}\/chelsea-edited\.jpg$/, 'the page searches by the new id');
    assert.match(await page.locator('#query-label').textContent(), /Added to the index as uploads\//);
    const ids = await cardIds(page);
    assert.equal(ids[0], expectedFirst, `the upload's nearest neighbour is its original: ${ids}`);
    await page.waitForFunction(() => /\b9 images indexed\b/.test(document.getElementById('health').textContent));
    const preview = await page.locator('#query-image').evaluate((img) => ({ src: img.getAttribute('src'), width: img.naturalWidth }));
    assert.match(preview.src, /^\/api\/thumbnails\/uploads\//);
    assert.ok(preview.width > 0, 'the uploaded image is served back as a thumbnail');
  });

  const groups = (p) => p.locator('#dup-groups > li.dup-group');
  let firstUpload = null;
  /** Runs an action and waits for the Duplicates view to load its groups again. */
  async function duplicatesAfter(p, action) {
    const before = Number(await p.locator('body').getAttribute('data-duplicates'));
    await action();
    await p.waitForFunction((n) => Number(document.body.dataset.duplicates) > n, before);
    assert.equal(await p.locator('#dup-error').isVisible(), false, `no error: ${await p.locator('#dup-error').textContent()}`);
  }

  await run('the Duplicates view shows the upload and its original as near copies, and "Not duplicates" splits them', async () => {
    await duplicatesAfter(page, () => page.click('#to-duplicates'));
    assert.equal(new URL(page.url()).hash, '#duplicates');
    assert.equal(await page.locator('main.layout').isVisible(), false, 'the search view is hidden');
    assert.equal(await groups(page).count(), 1, await page.locator('#dup-summary').textContent());
    const group = groups(page).first();
    assert.equal(await group.getAttribute('data-kind'), 'near');
    const ids = await group.locator('li.dup-item').evaluateAll((items) => items.map((li) => li.dataset.id));
    assert.equal(ids.length, 2);
    assert.ok(ids.includes(expectedFirst) && ids.some((id) => /^uploads\//.test(id)), `the original and the upload: ${ids}`);
    firstUpload = ids.find((id) => id !== expectedFirst);
    const score = Number(await group.locator('li.dup-item .score').first().textContent());
    assert.ok(score > 0.5 && score < 1, `a near copy's score: ${score}`);
    await page.waitForFunction(() => [...document.querySelectorAll('#dup-groups img')].every((img) => img.complete && img.naturalWidth > 0));
    await page.screenshot({ path: screenshotPath.replace(/\.png$/, '-duplicates.png'), fullPage: true });
    await duplicatesAfter(page, () => group.locator('button.separate').click());
    assert.equal(await groups(page).count(), 0);
    assert.match(await page.locator('#dup-summary').textContent(), /No copies/);
  });

  await run('an exact copy groups with the first upload, and "Keep this one" deletes the other', async () => {
    await page.click('#to-search');
    await page.waitForSelector('main.layout:not([hidden])');
    // One owner's repeat upload of the same bytes is kept once (the first item answers 200), so the exact copy is
    // posted as another owner (the local host's owner tag), straight to the API.
    const copy = await fetch(`${origin}/api/images?name=${encodeURIComponent(basename(editedImage))}&owner=someone-else`, {
      method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: readFileSync(editedImage),
    });
    assert.equal(copy.status, 201, await copy.text());
    await duplicatesAfter(page, () => page.click('#to-duplicates'));
    assert.equal(await groups(page).count(), 1, await page.locator('#dup-summary').textContent());
    const group = groups(page).first();
    assert.equal(await group.getAttribute('data-kind'), 'exact', 'two uploads of the same bytes; the original stays apart (not duplicates)');
    const ids = await group.locator('li.dup-item').evaluateAll((items) => items.map((li) => li.dataset.id));
    assert.ok(ids.length === 2 && ids.every((id) => /^uploads\//.test(id)), `the two uploads: ${ids}`);
    // Keep the first upload (marked not a duplicate of the original): with the second one gone, nothing groups.
    // Kept the other way, the second upload and the original would form a new group, which is right too.
    const other = ids.find((id) => id !== firstUpload);
    assert.ok(ids.includes(firstUpload) && other, `the first upload is in the group: ${ids}`);
    page.once('dialog', (dialog) => dialog.accept());
    await duplicatesAfter(page, () => group.locator(`li.dup-item[data-id="${firstUpload}"] button.keep`).click());
    assert.equal(await groups(page).count(), 0, await page.locator('#dup-summary').textContent());
    await page.waitForFunction(() => /\b9 images indexed\b/.test(document.getElementById('health').textContent));
    const gone = await page.evaluate(async (id) => (await fetch(`/api/items/${id}`)).status, other);
    assert.equal(gone, 404, 'the other upload is deleted');
    // Back on the search view the address names the kept upload (the page added it): its search still answers.
    await searchAfter(page, () => page.click('#to-search'), { method: 'GET' });
    await page.waitForSelector('main.layout:not([hidden])');
    await searchAfter(page, () => page.setInputFiles('#file', editedImage), { method: 'POST' });
  });

  await run('a phone-sized screen fits without horizontal scrolling', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(100);
    const layout = await page.evaluate(() => ({
      scrollWidth: document.documentElement.scrollWidth,
      width: window.innerWidth,
      columns: getComputedStyle(document.getElementById('grid')).gridTemplateColumns.split(' ').length,
      overflowing: [...document.querySelectorAll('body *')]
        .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 0.5)
        .slice(0, 5)
        .map((e) => `${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}.${e.className} (${Math.round(e.getBoundingClientRect().right)}px)`),
    }));
    assert.ok(layout.scrollWidth <= layout.width, `the page is ${layout.scrollWidth}px wide on a ${layout.width}px screen: ${layout.overflowing.join(', ')}`);
    assert.ok(layout.columns >= 2, `the results use ${layout.columns} column(s) on a phone`);
    const target = await cards(page).first().locator('button.hit').boundingBox();
    assert.ok(target && target.width >= 44 && target.height >= 44, 'results are large enough to tap');
    await page.screenshot({ path: screenshotPath.replace(/\.png$/, '-phone.png') });
  });

  await run('the browser reached nothing else and raised no errors', async () => {
    assert.deepEqual(foreignRequests, [], `requests outside ${origin}`);
    assert.deepEqual(pageErrors, [], 'uncaught errors in the page');
    assert.deepEqual(consoleErrors, [], 'console errors (CSP violations and the like)');
  });

  log('all steps passed');
  await context.close();
  context = undefined;
} catch (error) {
  console.error(`FAILED at step "${step}": ${error?.stack ?? error}`);
  const page = context?.pages()[0];
  if (page) {
    const state = await page.evaluate(() => ({
      url: location.href, state: document.body.dataset.state, searches: document.body.dataset.searches,
      summary: document.getElementById('summary')?.textContent, error: document.getElementById('error')?.textContent,
      ids: [...document.querySelectorAll('#grid > li')].map((li) => li.dataset.id),
    })).catch((e) => `(page state unavailable: ${e})`);
    console.error(`page state: ${JSON.stringify(state)}`);
    await page.screenshot({ path: screenshotPath.replace(/\.png$/, '-failure.png'), fullPage: true }).catch(() => {});
  }
  if (pageErrors.length) console.error(`page errors: ${pageErrors.join('\n')}`);
  if (consoleErrors.length) console.error(`console errors: ${consoleErrors.join('\n')}`);
  process.exitCode = 1;
} finally {
  await context?.close().catch(() => {});
  rmSync(userDataDir, { recursive: true, force: true });
}
