// The visual search page: plain ES module, no dependencies, same-origin requests only.
// API: POST /api/search (image body), GET /api/search?id=, GET /api/thumbnails/{id}, GET /api/images/{id},
// GET /api/health/details, GET /api/duplicates, POST /api/duplicates/decisions, POST /api/images (local host only,
// announced by config.json). Searches use cutoff=auto unless "Stop where scores fall away" is unticked. A ?code= in the page's URL
// goes with every API request (a key for a key-protected host; Azure's person routes take none: people sign in).
// Sign-in: when config.json has "signIn" (the host's Auth__ClientId), the page loads MSAL.js from its own host
// (msal-browser.min.js, bundled at build time from npm), signs people in with a redirect to the issuer (authorization
// code + PKCE), and sends "Authorization: Bearer <access token>" on every API request; images and thumbnails are then
// fetched with the token and shown from blob: URLs, since an <img> cannot carry the header. A 401 asks to sign in again.

const $ = (id) => document.getElementById(id);
const el = {
  health: $('health'), drop: $('drop'), file: $('file'), camera: $('camera'), queryImage: $('query-image'),
  queryLabel: $('query-label'), add: $('add'), controls: $('controls'), k: $('k'), minScore: $('min-score'),
  search: $('search'), error: $('error'), summary: $('summary'), grid: $('grid'), cutoff: $('cutoff'),
  searchView: document.querySelector('main.layout'), toSearch: $('to-search'), toDuplicates: $('to-duplicates'),
  duplicates: $('duplicates'), dupControls: $('dup-controls'), dupMinScore: $('dup-min-score'),
  dupError: $('dup-error'), dupSummary: $('dup-summary'), dupGroups: $('dup-groups'),
  user: $('user'), userName: $('user-name'), signIn: $('sign-in'), signOut: $('sign-out'),
};
const filterFields = [
  ['contentType', $('f-type')], ['source', $('f-source')], ['album', $('f-album')], ['owner', $('f-owner')], ['tag', $('f-tag')],
];
const uploadedFrom = $('f-from');
const uploadedBefore = $('f-to');

const functionKey = new URLSearchParams(location.search).get('code');
let settings = { upload: false, signIn: null };
let query = null; // { kind: 'image', blob, name } or { kind: 'id', id }
let previewUrl = null;
let inFlight = null;
let sequence = 0;
let completed = 0;

// ---- URLs ------------------------------------------------------------------------------------------------

function apiUrl(path, params = {}) {
  const url = new URL(path, location.origin);
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') url.searchParams.set(name, value);
  }
  if (functionKey) url.searchParams.set('code', functionKey);
  return url.pathname + url.search;
}

// ---- Sign-in ---------------------------------------------------------------------------------------------------

let msal = null; // the MSAL.js namespace, once loaded
let auth = null; // the PublicClientApplication, when the page signs people in

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = src;
    script.onload = resolve;
    script.onerror = () => reject(new Error(`${src} did not load`));
    document.head.append(script);
  });
}

// Entra ID (workforce or External ID) gets MSAL's own protocol mode; any other OpenID issuer the standard one.
const microsoftHost = (host) => /(^|\.)(login\.microsoftonline\.com|login\.microsoft\.com|ciamlogin\.com)$/i.test(host);

async function initSignIn() {
  const config = settings.signIn;
  if (!config) return;
  el.user.hidden = false;
  try {
    await loadScript('msal-browser.min.js');
    msal = window.msal;
    const host = new URL(config.authority).host;
    const pageUrl = location.origin + location.pathname;
    auth = new msal.PublicClientApplication({
      auth: {
        clientId: config.clientId,
        authority: config.authority,
        knownAuthorities: [host],
        redirectUri: config.redirectUri || pageUrl,
        postLogoutRedirectUri: config.redirectUri || pageUrl,
      },
      cache: { cacheLocation: 'sessionStorage' },
      system: { protocolMode: microsoftHost(host) ? msal.ProtocolMode.AAD : msal.ProtocolMode.OIDC },
    });
    await auth.initialize();
    const result = await auth.handleRedirectPromise();
    const account = result?.account ?? auth.getActiveAccount() ?? auth.getAllAccounts()[0] ?? null;
    if (account) auth.setActiveAccount(account);
  } catch (error) {
    auth = null;
    el.userName.textContent = `Sign-in is unavailable: ${error.message}`;
    el.signIn.hidden = true;
    el.signOut.hidden = true;
    document.body.dataset.signedIn = 'false';
    return;
  }
  showUser();
}

function showUser(message) {
  const account = auth?.getActiveAccount();
  const name = account ? (account.name && account.username && account.name !== account.username
    ? `${account.name} (${account.username})` : account.name || account.username) : '';
  el.userName.textContent = message || (account ? `Signed in as ${name}` : 'Not signed in');
  el.user.dataset.prompt = message ? 'true' : 'false';
  el.signIn.hidden = Boolean(account) && !message;
  el.signOut.hidden = !account;
  document.body.dataset.signedIn = String(Boolean(account));
}

function signIn() {
  const request = { scopes: [settings.signIn.scope] };
  const account = auth.getActiveAccount();
  if (account) request.loginHint = account.username;
  return auth.loginRedirect(request);
}

// MSAL.js 5.29 writes its cache keys in lower case but, removing an account, looks for the account id in them case
// sensitively: with a mixed-case id (the sub of most non-Entra issuers) the tokens would stay in sessionStorage after
// sign-out. The page removes every token entry itself first (the storage is this page's alone).
function forgetTokens() {
  for (const key of Object.keys(sessionStorage)) {
    if (/^msal\.[^|]*\|.*\|(accesstoken|accesstoken_with_authscheme|refreshtoken|idtoken)\|/i.test(key)) sessionStorage.removeItem(key);
  }
}

function signOut() {
  const account = auth.getActiveAccount();
  forgetTokens();
  return auth.logoutRedirect({ account });
}

/** The signed-in person's access token for the API scope (silently: cache, then refresh token), or null. */
async function accessToken() {
  const account = auth?.getActiveAccount();
  if (!account) return null;
  try {
    return (await auth.acquireTokenSilent({ scopes: [settings.signIn.scope], account })).accessToken;
  } catch (error) {
    if (error instanceof msal.InteractionRequiredAuthError) {
      showUser('Your sign-in has expired: sign in again.');
      return null;
    }
    throw error;
  }
}

/**
 * fetch for the API: with the bearer token when someone is signed in; a 401 asks them to sign in (again), unless
 * the caller says the refusal is expected (the health line, which says so itself).
 */
async function apiFetch(url, init = {}, { promptOn401 = true } = {}) {
  const token = await accessToken();
  const headers = new Headers(init.headers);
  if (token) headers.set('Authorization', `Bearer ${token}`);
  const response = await fetch(url, { ...init, headers });
  if (response.status === 401 && auth && promptOn401) {
    showUser(auth.getActiveAccount() ? 'The API refused your sign-in: sign in again.' : 'Sign in to use the API.');
  } else if (token && response.ok && el.user.dataset.prompt === 'true') {
    showUser(); // the token works again: back to who is signed in
  }
  return response;
}

// Images: a plain src without sign-in; with it, fetched with the token and shown from a blob: URL (revoked when replaced).
const objectUrls = new WeakMap();

async function setImage(img, url) {
  const previous = objectUrls.get(img);
  if (previous) {
    URL.revokeObjectURL(previous);
    objectUrls.delete(img);
  }
  if (!auth) {
    img.src = url;
    return;
  }
  try {
    const response = await apiFetch(url);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const objectUrl = URL.createObjectURL(await response.blob());
    objectUrls.set(img, objectUrl);
    img.src = objectUrl;
  } catch {
    img.dispatchEvent(new Event('error'));
  }
}

async function openOriginal(event, url) {
  if (!auth) return; // the link opens it
  event.preventDefault();
  const response = await apiFetch(url);
  if (!response.ok) {
    showError(await readProblem(response));
    return;
  }
  const objectUrl = URL.createObjectURL(await response.blob());
  window.open(objectUrl, '_blank', 'noopener');
  setTimeout(() => URL.revokeObjectURL(objectUrl), 60_000);
}

const encodeId = (id) => id.split('/').map(encodeURIComponent).join('/');
const thumbnailUrl = (id, size = 256) => apiUrl(`/api/thumbnails/${encodeId(id)}`, { size });
const originalUrl = (id) => apiUrl(`/api/images/${encodeId(id)}`);

// ---- Errors: the API's problem details, in words -----------------------------------------------------------

async function readProblem(response) {
  let title = response.statusText || 'Request failed';
  let detail = '';
  try {
    const type = response.headers.get('content-type') || '';
    if (type.includes('json')) {
      const problem = await response.json();
      title = problem.title || title;
      detail = problem.detail || '';
    } else {
      detail = (await response.text()).trim().slice(0, 300);
    }
  } catch {
    // keep the status text
  }
  return { title, detail, status: response.status };
}

function showError(problem, target = el.error) {
  const { title, detail, status } = problem;
  const strong = document.createElement('strong');
  strong.textContent = title;
  const parts = [strong];
  if (detail && detail !== title) parts.push(document.createTextNode(` ${detail}`));
  if (status) {
    const code = document.createElement('span');
    code.className = 'status-code';
    code.textContent = ` (HTTP ${status})`;
    parts.push(code);
  }
  target.replaceChildren(...parts);
  target.hidden = false;
}

function clearError(target = el.error) {
  target.hidden = true;
  target.replaceChildren();
}

const unreachable = (error) => ({ title: 'The server could not be reached.', detail: error.message });

// ---- Query parameters ----------------------------------------------------------------------------------------

const quote = (value) => `'${value.replaceAll("'", "''")}'`;

function buildFilter() {
  const parts = [];
  for (const [field, input] of filterFields) {
    const value = input.value.trim();
    if (value) parts.push(`${field} eq ${quote(value)}`);
  }
  if (uploadedFrom.value) parts.push(`uploadedAt ge ${uploadedFrom.value}T00:00:00Z`);
  if (uploadedBefore.value) parts.push(`uploadedAt lt ${uploadedBefore.value}T00:00:00Z`);
  return parts.join(' and ');
}

const searchParams = () => ({
  k: el.k.value.trim(), minScore: el.minScore.value.trim(), filter: buildFilter(), cutoff: el.cutoff.checked ? 'auto' : 'none',
});

// ---- Searching -----------------------------------------------------------------------------------------------

function setState(state) {
  document.body.dataset.state = state;
  el.grid.setAttribute('aria-busy', String(state === 'busy'));
}

async function runSearch() {
  if (!query) return;
  inFlight?.abort();
  const controller = new AbortController();
  inFlight = controller;
  const mine = ++sequence;
  clearError();
  setState('busy');
  el.summary.textContent = 'Searching…';
  try {
    const params = searchParams();
    const response = query.kind === 'image'
      ? await apiFetch(apiUrl('/api/search', params), {
        method: 'POST',
        body: query.blob,
        headers: { 'Content-Type': query.blob.type || 'application/octet-stream' },
        signal: controller.signal,
      })
      : await apiFetch(apiUrl('/api/search', { ...params, id: query.id }), { signal: controller.signal });
    if (mine !== sequence) return;
    if (!response.ok) {
      showError(await readProblem(response));
      render(null);
      setState('error');
      return;
    }
    const body = await response.json();
    if (mine !== sequence) return;
    render(body.results, body.space);
    setState('done');
  } catch (error) {
    if (error.name === 'AbortError') return;
    showError(unreachable(error));
    render(null);
    setState('error');
  } finally {
    if (mine === sequence) {
      completed += 1;
      document.body.dataset.searches = String(completed);
    }
  }
}

// The region of the item that matched (hit.region, in the item's pixels) outlined on its thumbnail, which fills a
// square frame as CSS object-fit: cover does (scaled to cover it, centred, the overflow cut off); null without one.
function regionOutline(hit) {
  const region = hit.region;
  const width = hit.metadata?.width;
  const height = hit.metadata?.height;
  if (!region || !(width > 0) || !(height > 0)) return null;
  const scale = Math.max(1 / width, 1 / height);
  const left = (1 - width * scale) / 2 + region.x * scale;
  const top = (1 - height * scale) / 2 + region.y * scale;
  const percent = (v) => `${(v * 100).toFixed(2)}%`;
  const box = document.createElement('span');
  box.className = 'region';
  box.style.left = percent(left);
  box.style.top = percent(top);
  box.style.width = percent(region.width * scale);
  box.style.height = percent(region.height * scale);
  box.title = `Matched region ${region.width}×${region.height} at ${region.x},${region.y}`;
  return box;
}

// space: 'copies' when a host with a copy space (issue 14) answered from it (cutoff=auto there), else absent or 'category'.
function render(results, space) {
  el.grid.replaceChildren();
  if (!results) {
    el.summary.textContent = '';
    return;
  }
  const subject = query.kind === 'id' ? query.id : 'your image';
  el.summary.textContent = results.length
    ? (space === 'copies'
      ? `${results.length} likely ${results.length === 1 ? 'copy' : 'copies'} of ${subject} (copy search), best first. Click one to search by it.`
      : `${results.length} nearest ${results.length === 1 ? 'image' : 'images'} to ${subject}, best first. Click one to search by it.`)
    : 'No indexed image passes the minimum score and filters.';
  const items = results.map((hit, rank) => {
    const li = document.createElement('li');
    li.className = 'card';
    li.dataset.id = hit.id;
    li.dataset.score = String(hit.score);

    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'hit';
    button.dataset.id = hit.id;
    button.title = `Search by ${hit.id}`;

    const img = document.createElement('img');
    setImage(img, thumbnailUrl(hit.id));
    img.alt = hit.id;
    img.loading = rank < 12 ? 'eager' : 'lazy';
    img.decoding = 'async';
    img.addEventListener('error', () => li.classList.add('no-image'), { once: true });
    const frame = document.createElement('span');
    frame.className = 'frame';
    frame.append(img);
    const outline = regionOutline(hit);
    if (outline) frame.append(outline);

    const caption = document.createElement('span');
    caption.className = 'caption';
    const score = document.createElement('span');
    score.className = 'score';
    score.textContent = hit.score.toFixed(3);
    const meter = document.createElement('span');
    meter.className = 'meter';
    const fill = document.createElement('span');
    fill.style.width = `${Math.round(Math.max(0, Math.min(1, hit.score)) * 100)}%`;
    meter.append(fill);
    const id = document.createElement('span');
    id.className = 'id';
    id.textContent = hit.id;
    caption.append(score, meter, id);
    button.append(frame, caption);

    const open = document.createElement('a');
    open.className = 'original';
    open.href = originalUrl(hit.id);
    open.addEventListener('click', (event) => openOriginal(event, open.href));
    open.target = '_blank';
    open.rel = 'noopener';
    open.textContent = 'Original';
    open.setAttribute('aria-label', `Original image of ${hit.id}`);

    li.append(button, open);
    return li;
  });
  el.grid.append(...items);
}

// ---- Query by image or by id ----------------------------------------------------------------------------------

function showQueryImage(src, { api = false } = {}) {
  if (api) setImage(el.queryImage, src); else el.queryImage.src = src;
  el.queryImage.hidden = false;
  el.drop.classList.add('has-image');
}

function useImage(file) {
  if (!file) return;
  if (previewUrl) URL.revokeObjectURL(previewUrl);
  previewUrl = URL.createObjectURL(file);
  query = { kind: 'image', blob: file, name: file.name || 'pasted image' };
  showQueryImage(previewUrl);
  const kb = Math.max(1, Math.round(file.size / 1024));
  el.queryLabel.textContent = `Your image: ${query.name} (${kb} KB)`;
  el.add.hidden = !settings.upload;
  el.add.disabled = false;
  el.search.disabled = false;
  setUrlId(null);
  runSearch();
}

function useId(id, { push = true } = {}) {
  query = { kind: 'id', id };
  showQueryImage(thumbnailUrl(id, 512), { api: true });
  el.queryImage.alt = id;
  el.queryLabel.textContent = `Similar to ${id}`;
  el.add.hidden = true;
  el.search.disabled = false;
  if (push) setUrlId(id);
  if (window.matchMedia('(max-width: 720px)').matches) window.scrollTo({ top: 0, behavior: 'smooth' });
  runSearch();
}

function setUrlId(id) {
  const url = new URL(location.href);
  if (id) url.searchParams.set('id', id); else url.searchParams.delete('id');
  if (url.href === location.href) return;
  if (id) history.pushState({ id }, '', url); else history.replaceState(null, '', url);
}

async function addToIndex() {
  if (query?.kind !== 'image') return;
  el.add.disabled = true;
  clearError();
  try {
    const response = await apiFetch(apiUrl('/api/images', { name: query.name }), {
      method: 'POST',
      body: query.blob,
      headers: { 'Content-Type': query.blob.type || 'application/octet-stream' },
    });
    if (!response.ok) {
      showError(await readProblem(response));
      el.add.disabled = false;
      return;
    }
    const item = await response.json();
    await refreshHealth();
    useId(item.id);
    el.queryLabel.textContent = `Added to the index as ${item.id}. Similar images:`;
  } catch (error) {
    showError(unreachable(error));
    el.add.disabled = false;
  }
}

// ---- Duplicates: groups of copies as rows of thumbnails; keep one, or mark them not duplicates -------------------

let dupLoads = 0;

async function loadDuplicates() {
  clearError(el.dupError);
  el.dupGroups.setAttribute('aria-busy', 'true');
  el.dupSummary.textContent = 'Looking for copies…';
  try {
    const response = await apiFetch(apiUrl('/api/duplicates', { minScore: el.dupMinScore.value.trim(), limit: 100 }));
    if (!response.ok) {
      showError(await readProblem(response), el.dupError);
      el.dupGroups.replaceChildren();
      el.dupSummary.textContent = '';
      return;
    }
    renderDuplicates(await response.json());
  } catch (error) {
    showError(unreachable(error), el.dupError);
  } finally {
    el.dupGroups.setAttribute('aria-busy', 'false');
    document.body.dataset.duplicates = String(++dupLoads);
  }
}

function renderDuplicates(body) {
  const shown = body.groups.length;
  el.dupSummary.textContent = body.total
    ? `${body.total} ${body.total === 1 ? 'group' : 'groups'} of copies at minimum score ${body.minScore.toFixed(2)}, largest first`
      + (shown < body.total ? ` (the first ${shown} shown).` : '.')
    : `No copies at minimum score ${body.minScore.toFixed(2)}.`;
  el.dupGroups.replaceChildren(...body.groups.map(renderGroup));
}

function renderGroup(group) {
  const li = document.createElement('li');
  li.className = 'dup-group';
  li.dataset.kind = group.kind;
  li.dataset.items = group.items.map((i) => i.id).join('\n');

  const head = document.createElement('div');
  head.className = 'dup-head';
  const title = document.createElement('h2');
  title.textContent = `${group.kind === 'exact' ? 'Exact copies' : 'Near copies'} · ${group.items.length} images`;
  const separate = document.createElement('button');
  separate.type = 'button';
  separate.className = 'button separate';
  separate.textContent = 'Not duplicates';
  separate.title = 'These are different pictures: never group them again';
  separate.addEventListener('click', () => decide(group, null, separate));
  head.append(title, separate);

  const strip = document.createElement('ol');
  strip.className = 'dup-strip';
  for (const item of group.items) {
    const best = Math.max(...group.pairs.filter((p) => p.a === item.id || p.b === item.id).map((p) => p.score));
    const cell = document.createElement('li');
    cell.className = 'dup-item';
    cell.dataset.id = item.id;
    const img = document.createElement('img');
    setImage(img, thumbnailUrl(item.id));
    img.alt = item.id;
    img.decoding = 'async';
    const score = document.createElement('span');
    score.className = 'score';
    score.textContent = Number.isFinite(best) ? best.toFixed(3) : '';
    const id = document.createElement('span');
    id.className = 'id';
    const size = item.metadata ? ` · ${item.metadata.width}×${item.metadata.height}, ${Math.max(1, Math.round(item.metadata.size / 1024))} KB` : '';
    id.textContent = item.id + size;
    const keep = document.createElement('button');
    keep.type = 'button';
    keep.className = 'button keep';
    keep.textContent = 'Keep this one';
    keep.title = `Keep ${item.id} and delete the other ${group.items.length - 1}`;
    keep.addEventListener('click', () => decide(group, item.id, keep));
    cell.append(img, score, id, keep);
    strip.append(cell);
  }

  li.append(head, strip);
  return li;
}

/** keep = an id: keep it and delete the others (after a confirmation); keep = null: every joining pair is not a duplicate. */
async function decide(group, keep, button) {
  const others = group.items.length - 1;
  if (keep && !window.confirm(`Keep ${keep} and delete the other ${others} ${others === 1 ? 'image' : 'images'} at their source?`)) return;
  button.disabled = true;
  clearError(el.dupError);
  const bodies = keep
    ? [{ items: group.items.map((i) => i.id), decision: 'keep', keep, delete: true }]
    : group.pairs.map((p) => ({ items: [p.a, p.b], decision: 'not-duplicates' }));
  try {
    for (const body of bodies) {
      const response = await apiFetch(apiUrl('/api/duplicates/decisions'), {
        method: 'POST', body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' },
      });
      if (!response.ok) {
        showError(await readProblem(response), el.dupError);
        button.disabled = false;
        return;
      }
    }
  } catch (error) {
    showError(unreachable(error), el.dupError);
    button.disabled = false;
    return;
  }
  if (keep) await refreshHealth();
  await loadDuplicates();
}

function showView() {
  const duplicates = location.hash === '#duplicates';
  el.searchView.hidden = duplicates;
  el.duplicates.hidden = !duplicates;
  el.toSearch.toggleAttribute('aria-current', !duplicates);
  el.toDuplicates.toggleAttribute('aria-current', duplicates);
  if (duplicates) {
    el.toDuplicates.setAttribute('aria-current', 'page');
    loadDuplicates();
  } else {
    el.toSearch.setAttribute('aria-current', 'page');
  }
}

// ---- Health and settings ---------------------------------------------------------------------------------------

async function refreshHealth() {
  try {
    const response = await apiFetch(apiUrl('/api/health/details'), {}, { promptOn401: false });
    // With sign-in the details (every owner's count) are for the admin role; other users see that the API answers.
    if (response.status === 401) {
      el.health.textContent = 'Sign in to search your photos.';
      return;
    }
    if (response.status === 403) {
      el.health.textContent = 'Ready';
      return;
    }
    if (!response.ok) {
      const problem = await readProblem(response);
      el.health.textContent = `Not ready: ${problem.title}`;
      return;
    }
    const health = await response.json();
    el.health.textContent = `${health.count} ${health.count === 1 ? 'image' : 'images'} indexed · ${health.model}`;
  } catch {
    el.health.textContent = 'The API is not reachable.';
  }
}

async function loadSettings() {
  try {
    const response = await fetch('config.json');
    if (response.ok) settings = { ...settings, ...(await response.json()) };
  } catch {
    // defaults: no upload
  }
}

// ---- Wiring --------------------------------------------------------------------------------------------------

for (const input of [el.file, el.camera]) {
  input.addEventListener('change', () => {
    useImage(input.files?.[0]);
    input.value = '';
  });
}

el.drop.addEventListener('dragover', (event) => {
  event.preventDefault();
  el.drop.classList.add('dragging');
});
el.drop.addEventListener('dragleave', () => el.drop.classList.remove('dragging'));
el.drop.addEventListener('drop', (event) => {
  event.preventDefault();
  el.drop.classList.remove('dragging');
  const file = [...(event.dataTransfer?.files ?? [])][0];
  if (file) useImage(file);
});
el.drop.addEventListener('keydown', (event) => {
  if (event.target === el.drop && (event.key === 'Enter' || event.key === ' ')) {
    event.preventDefault();
    el.file.click();
  }
});
document.addEventListener('paste', (event) => {
  const file = [...(event.clipboardData?.files ?? [])].find((f) => f.type.startsWith('image/'));
  if (file) useImage(file);
});

el.grid.addEventListener('click', (event) => {
  const hit = event.target.closest('button.hit');
  if (hit) useId(hit.dataset.id);
});
el.add.addEventListener('click', addToIndex);
el.signIn.addEventListener('click', () => signIn());
el.signOut.addEventListener('click', () => signOut());
el.controls.addEventListener('submit', (event) => {
  event.preventDefault();
  runSearch();
});
el.controls.addEventListener('change', () => runSearch());
el.dupControls.addEventListener('submit', (event) => {
  event.preventDefault();
  loadDuplicates();
});
window.addEventListener('hashchange', showView);
window.addEventListener('popstate', () => {
  const id = new URLSearchParams(location.search).get('id');
  if (id) useId(id, { push: false });
});

setState('idle');
document.body.dataset.searches = '0';
document.body.dataset.duplicates = '0';
await loadSettings();
await initSignIn();
await refreshHealth();
showView();
const initialId = new URLSearchParams(location.search).get('id');
if (initialId) useId(initialId, { push: false });
document.body.dataset.ready = 'true';
