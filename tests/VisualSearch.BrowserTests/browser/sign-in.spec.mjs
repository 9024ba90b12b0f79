// The page signs a person in by itself (MSAL.js served by our host, authorization code + PKCE at the test OpenID
// issuer on https://127.0.0.1), in Debian's chromium driven by playwright-core. Nothing may leave loopback: every
// request outside 127.0.0.1 is aborted and fails the run. Steps: signed out, the page offers sign-in and its API calls
// are refused; sign-in redirects to the issuer (S256 code_challenge) and back, the code is redeemed with its
// code_verifier, the page shows the user's name; a search shows only the user's items, every API request carries the
// bearer token and thumbnails are blob: URLs fetched with it; sign-out goes through the issuer and the page forgets the
// user and the token.
//
//   node sign-in.spec.mjs <baseUrl> <issuerUrl> <query image> <own ids comma-separated> <others' ids comma-separated> <name>

import assert from 'node:assert/strict';
import { firstPage, runSteps } from './chromium.mjs';

const [baseUrl, issuerUrl, queryImage, ownList, othersList, name] = process.argv.slice(2);
if (!baseUrl || !issuerUrl || !queryImage || !ownList || !othersList || !name) {
  console.error('usage: node sign-in.spec.mjs <baseUrl> <issuerUrl> <query image> <own-ids> <others-ids> <name>');
  process.exit(2);
}

const own = ownList.split(',');
const others = othersList.split(',');
const origin = new URL(baseUrl).origin;
const issuer = new URL(issuerUrl).origin;
const pageErrors = [];
const escaped = []; // requests that tried to leave loopback
const apiWithoutToken = []; // API requests sent while signed in without a bearer token
const authorizeRequests = [];
const tokenRequests = [];
let accessToken = null;
let refreshToken = null;
let signedInPhase = false;
let tamperSearch = false;
await runSteps({
  ignoreHTTPSErrors: true, // the issuer's certificate is self-signed for this run
}, async ({ context, run }) => {
  await context.route('**/*', async (route) => {
    const request = route.request();
    const url = new URL(request.url());
    if (url.protocol === 'data:' || url.protocol === 'blob:') return route.continue();
    if (url.hostname !== '127.0.0.1') {
      escaped.push(request.url());
      return route.abort();
    }
    if (url.origin === origin && url.pathname.startsWith('/api/') && signedInPhase) {
      const headers = await request.allHeaders();
      if (!/^Bearer [\w-]+\.[\w-]+\.[\w-]+$/.test(headers.authorization ?? '')) apiWithoutToken.push(`${request.method()} ${url.pathname}`);
    }
    if (url.origin === issuer && url.pathname === '/authorize') authorizeRequests.push(url);
    if (url.origin === issuer && url.pathname === '/token') tokenRequests.push(new URLSearchParams(request.postData() ?? ''));
    if (tamperSearch && url.origin === origin && url.pathname === '/api/search') {
      // A token the API refuses (its signature no longer matches), as after a key rotation or a revoked sign-in.
      const headers = await request.allHeaders();
      const [head, body] = headers.authorization.slice('Bearer '.length).split('.');
      return route.continue({ headers: { ...headers, authorization: `Bearer ${head}.${body}.AAAA` } });
    }
    return route.continue();
  });
  const page = await firstPage(context, pageErrors);
  const msalResponses = [];
  page.on('response', async (response) => {
    const url = new URL(response.url());
    if (url.pathname.endsWith('/msal-browser.min.js')) msalResponses.push({ url: response.url(), status: response.status() });
    if (url.origin === issuer && url.pathname === '/token' && response.status() === 200) {
      ({ access_token: accessToken, refresh_token: refreshToken } = await response.json());
    }
  });

  async function searchWith(file) {
    const before = Number(await page.locator('body').getAttribute('data-searches'));
    await page.setInputFiles('#file', file);
    await page.waitForFunction((n) => Number(document.body.dataset.searches) > n, before);
  }

  await run('signed out: the page offers sign-in, loads MSAL.js from its own host, and the API refuses it', async () => {
    const response = await page.goto(baseUrl, { waitUntil: 'load' });
    assert.equal(response.status(), 200);
    await page.waitForSelector('body[data-ready="true"]');
    assert.equal(await page.locator('body').getAttribute('data-signed-in'), 'false');
    assert.equal((await page.locator('#user-name').textContent()).trim(), 'Not signed in');
    assert.ok(await page.locator('#sign-in').isVisible(), 'the Sign in button shows');
    assert.equal(await page.locator('#sign-out').isVisible(), false);
    assert.deepEqual(msalResponses, [{ url: `${origin}/msal-browser.min.js`, status: 200 }]);
    assert.equal((await page.locator('#health').textContent()).trim(), 'Sign in to search your photos.');
  });

  await run('sign-in: a redirect to the issuer with an S256 code challenge, back with a code redeemed with its verifier', async () => {
    await page.click('#sign-in');
    await page.waitForSelector('body[data-signed-in="true"]');
    await page.waitForSelector('body[data-ready="true"]');
    assert.equal(authorizeRequests.length, 1);
    const authorize = authorizeRequests[0].searchParams;
    assert.equal(authorize.get('response_type'), 'code');
    assert.equal(authorize.get('code_challenge_method'), 'S256');
    assert.match(authorize.get('code_challenge') ?? '', /^[\w-]{43}$/);
    assert.equal(authorize.get('redirect_uri'), `${origin}/`);
    assert.ok(authorize.get('scope').split(' ').includes('api://visualsearch-tests/access_as_user'), authorize.get('scope'));
    const redeemed = tokenRequests.find((t) => t.get('grant_type') === 'authorization_code');
    assert.ok(redeemed, 'the code was redeemed at the token endpoint');
    assert.match(redeemed.get('code_verifier') ?? '', /^[\w.~-]{43,128}$/);
    assert.ok(accessToken, 'the issuer answered an access token');
    const shown = (await page.locator('#user-name').textContent()).trim();
    assert.ok(shown.startsWith(`Signed in as ${name}`), shown);
    assert.ok(await page.locator('#sign-out').isVisible(), 'the Sign out button shows');
    assert.equal(await page.locator('#sign-in').isVisible(), false);
    signedInPhase = true;
  });

  await run('search: only the user\'s own items, every API request with the token, thumbnails fetched with it', async () => {
    await page.uncheck('#cutoff');
    await searchWith(queryImage);
    assert.equal(await page.locator('#error').isVisible(), false, `no error: ${await page.locator('#error').textContent()}`);
    const ids = await page.locator('#grid > li').evaluateAll((items) => items.map((li) => li.dataset.id));
    assert.ok(ids.length > 0, 'results');
    for (const id of ids) assert.ok(own.includes(id), `result ${id} is the user's own`);
    for (const id of others) assert.ok(!ids.includes(id), `another user's item ${id} is not shown`);
    assert.equal(ids[0], own[0], 'the photo the query was edited from comes first');
    await page.waitForFunction(() => [...document.querySelectorAll('#grid img')].every((img) => img.complete && img.naturalWidth > 0));
    const sources = await page.locator('#grid img').evaluateAll((images) => images.map((img) => img.src));
    for (const src of sources) assert.ok(src.startsWith('blob:'), `thumbnail from a blob: URL (${src})`);
    assert.deepEqual(apiWithoutToken, [], 'API requests without the bearer token');
    const health = (await page.locator('#health').textContent()).trim();
    assert.equal(health, 'Ready', 'a user without the admin role sees that the API answers');
  });

  await run('a token the API refuses (401) asks to sign in again; a working one puts the name back', async () => {
    tamperSearch = true;
    await searchWith(queryImage);
    tamperSearch = false;
    assert.match(await page.locator('#error').textContent(), /HTTP 401/);
    assert.equal((await page.locator('#user-name').textContent()).trim(), 'The API refused your sign-in: sign in again.');
    assert.ok(await page.locator('#sign-in').isVisible(), 'the Sign in button shows again');
    await searchWith(queryImage);
    assert.equal(await page.locator('#error').isVisible(), false);
    assert.ok((await page.locator('#user-name').textContent()).trim().startsWith(`Signed in as ${name}`));
    assert.equal(await page.locator('#sign-in').isVisible(), false);
  });

  await run('sign-out: through the issuer, and the page forgets the user and the token', async () => {
    signedInPhase = false;
    await page.click('#sign-out');
    await page.waitForSelector('body[data-signed-in="false"]');
    await page.waitForSelector('body[data-ready="true"]');
    assert.equal((await page.locator('#user-name').textContent()).trim(), 'Not signed in');
    assert.ok(await page.locator('#sign-in').isVisible(), 'the Sign in button shows again');
    // Issued tokens, and any entry MSAL keeps for a token, are gone from the browser's storage.
    const stored = await page.evaluate(() => [sessionStorage, localStorage].flatMap((st) => Object.keys(st).map((k) => `${k}=${st.getItem(k)}`)));
    for (const secret of [accessToken, refreshToken]) assert.ok(!stored.some((entry) => entry.includes(secret)), 'a token is still stored');
    const keys = stored.map((entry) => entry.slice(0, entry.indexOf('=')));
    assert.deepEqual(keys.filter((key) => /\|(accesstoken|refreshtoken|idtoken)\|/i.test(key)), []);
    assert.equal((await page.locator('#health').textContent()).trim(), 'Sign in to search your photos.');
    await searchWith(queryImage);
    assert.ok(await page.locator('#error').isVisible(), 'a search without sign-in is refused');
    assert.match(await page.locator('#error').textContent(), /HTTP 401/);
    assert.equal((await page.locator('#user-name').textContent()).trim(), 'Sign in to use the API.');
    assert.equal(await page.locator('#grid > li').count(), 0);
  });

  await run('nothing left loopback and the page raised no errors', async () => {
    assert.deepEqual(escaped, [], 'requests outside 127.0.0.1');
    assert.deepEqual(pageErrors, [], 'uncaught errors in the page');
  });
});
