// The Duplicates view of a host with sign-in (Auth__Authority), in Debian's chromium driven by playwright-core, as a
// signed-in user: every request the page makes carries the user's bearer token (set on the browser context here; the
// page's own sign-in, MSAL.js against the test issuer, is sign-in.spec.mjs). The view shows the user's own group only, its thumbnails load, and
// "Not duplicates" is recorded for the user.
//
//   node duplicates-signed-in.spec.mjs <baseUrl> <token> <own-ids comma-separated> <others' ids comma-separated>

import assert from 'node:assert/strict';
import { firstPage, runSteps } from './chromium.mjs';

const [baseUrl, token, ownList, othersList] = process.argv.slice(2);
if (!baseUrl || !token || !ownList || !othersList) {
  console.error('usage: node duplicates-signed-in.spec.mjs <baseUrl> <token> <own-ids> <others-ids>');
  process.exit(2);
}

const own = ownList.split(',');
const others = othersList.split(',');
const origin = new URL(baseUrl).origin;
const pageErrors = [];
const refused = [];
await runSteps({
  extraHTTPHeaders: { Authorization: `Bearer ${token}` },
}, async ({ context, run }) => {
  await context.route('**/*', (route) => {
    const url = route.request().url();
    return url.startsWith(origin) || url.startsWith('data:') || url.startsWith('blob:') ? route.continue() : route.abort();
  });
  const page = await firstPage(context, pageErrors);
  page.on('response', (response) => {
    if (new URL(response.url()).pathname.startsWith('/api/') && response.status() === 401) refused.push(response.url());
  });

  const groups = () => page.locator('#dup-groups > li.dup-group');
  async function duplicatesAfter(action) {
    const before = Number(await page.locator('body').getAttribute('data-duplicates'));
    await action();
    await page.waitForFunction((n) => Number(document.body.dataset.duplicates) > n, before);
    assert.equal(await page.locator('#dup-error').isVisible(), false, `no error: ${await page.locator('#dup-error').textContent()}`);
  }

  await run('the page loads signed in; the index line does not show an error for a user without the admin role', async () => {
    const response = await page.goto(baseUrl, { waitUntil: 'load' });
    assert.equal(response.status(), 200);
    await page.waitForSelector('body[data-ready="true"]');
    await page.waitForFunction(() => document.getElementById('health').textContent.trim().length > 0);
    const health = await page.locator('#health').textContent();
    assert.doesNotMatch(health, /Not ready|not reachable/, health);
  });

  await run('the Duplicates view shows the user\'s own group only, with its thumbnails', async () => {
    await duplicatesAfter(() => page.click('#to-duplicates'));
    assert.equal(await groups().count(), 1, await page.locator('#dup-summary').textContent());
    const ids = await groups().first().locator('li.dup-item').evaluateAll((items) => items.map((li) => li.dataset.id));
    assert.deepEqual([...ids].sort(), [...own].sort());
    const shown = await page.locator('#dup-groups li.dup-item').evaluateAll((items) => items.map((li) => li.dataset.id));
    for (const id of others) assert.ok(!shown.includes(id), `another user's item ${id} is not shown`);
    await page.waitForFunction(() => [...document.querySelectorAll('#dup-groups img')].every((img) => img.complete && img.naturalWidth > 0));
  });

  await run('"Not duplicates" is recorded for the user and the group goes', async () => {
    await duplicatesAfter(() => groups().first().locator('button.separate').click());
    assert.equal(await groups().count(), 0);
  });

  await run('no request was refused and the page raised no errors', async () => {
    assert.deepEqual(refused, [], 'requests answered 401');
    assert.deepEqual(pageErrors, [], 'uncaught errors in the page');
  });
});
