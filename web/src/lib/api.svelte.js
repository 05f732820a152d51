// The one door to the server: every call goes through `api()`, which adds the token, reads
// the `{"code":0,"data":…}` / `{"code":N,"message":…}` envelope and turns every failure
// (network, HTTP status, non-JSON body) into an ApiError with a message a person can read.

const TOKEN_KEY = 'nanoclaw_token';

/** Shared, reactive session state. */
export const session = $state({
  /** 'single' | 'multi' | null while unknown */
  mode: null,
  token: readToken(),
  /** the user object once known */
  user: null,
  /** why the user was signed out (shown on the sign-in screen) */
  notice: '',
});

function readToken() {
  try {
    return localStorage.getItem(TOKEN_KEY) || '';
  } catch {
    return '';
  }
}

export function setToken(token) {
  session.token = token || '';
  try {
    if (token) localStorage.setItem(TOKEN_KEY, token);
    else localStorage.removeItem(TOKEN_KEY);
  } catch {
    /* private mode: the token lives for this tab only */
  }
  scheduleRefresh();
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function headers(extra) {
  const h = { ...extra };
  if (session.token) h.Authorization = `Bearer ${session.token}`;
  return h;
}

/** Called when the server says the credentials are gone (401). */
function credentialsGone() {
  if (session.mode === 'multi' || session.token) {
    setToken('');
    session.user = null;
    session.notice = 'You have been signed out. Please sign in again.';
  }
}

async function errorFrom(res, keepSession = false) {
  let message = `HTTP ${res.status}`;
  try {
    const body = await res.json();
    if (body && typeof body.message === 'string' && body.message) message = body.message;
  } catch {
    /* not JSON: keep the status line */
  }
  // A 401 means the credentials are gone — except where it judges a password typed into a
  // form (sign-in, "current password"): the caller shows that in place.
  if (!keepSession && (res.status === 401 || (res.status === 403 && message === 'Account is disabled'))) credentialsGone();
  return new ApiError(res.status, message);
}

/**
 * Sends a request. `body`: a plain object (sent as JSON) or FormData.
 * Resolves with the envelope's `data` (or the whole body when it has no `data`).
 * `opts.keepSession`: a 401 is the form's error, not a sign-out.
 */
export async function api(method, path, body, opts = {}) {
  const init = { method, headers: headers(), signal: opts.signal };
  if (body instanceof FormData) {
    init.body = body;
  } else if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    if (e && e.name === 'AbortError') throw e;
    throw new ApiError(0, 'Cannot reach the server. Check your connection and try again.');
  }
  if (!res.ok) throw await errorFrom(res, !!opts.keepSession);
  if (opts.raw) return res;
  let json;
  try {
    json = await res.json();
  } catch {
    throw new ApiError(res.status, 'The server sent an unreadable answer.');
  }
  if (json && typeof json.code === 'number' && json.code !== 0) {
    throw new ApiError(json.code, json.message || `Error ${json.code}`);
  }
  return json && 'data' in json ? json.data : json;
}

/** A streaming POST: resolves with the Response once its status is OK. */
export async function streamRequest(path, body, signal) {
  let res;
  try {
    res = await fetch(path, {
      method: 'POST',
      headers: headers({ 'Content-Type': 'application/json', Accept: 'text/event-stream' }),
      body: JSON.stringify(body),
      signal,
    });
  } catch (e) {
    if (e && e.name === 'AbortError') throw e;
    throw new ApiError(0, 'Cannot reach the server. Check your connection and try again.');
  }
  if (!res.ok) throw await errorFrom(res);
  return res;
}

/** Fetches a file with the auth header and returns an object URL (images). */
export async function blobUrl(path) {
  const res = await api('GET', path, undefined, { raw: true });
  const blob = await res.blob();
  return URL.createObjectURL(blob);
}

// ---- token lifetime -------------------------------------------------------------------

/** The JWT's claims, or null for an API key / opaque token. */
export function claims(token) {
  const part = (token || '').split('.')[1];
  if (!part) return null;
  try {
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/'));
    return JSON.parse(json);
  } catch {
    return null;
  }
}

let refreshTimer = null;

/** Renews the token when a quarter of its life (at most 10 minutes) is left. */
export function scheduleRefresh() {
  if (refreshTimer) clearTimeout(refreshTimer);
  refreshTimer = null;
  const c = claims(session.token);
  if (!c || typeof c.exp !== 'number') return;
  const now = Date.now() / 1000;
  const life = typeof c.iat === 'number' ? c.exp - c.iat : 604800;
  const margin = Math.min(600, life / 4);
  const wait = Math.max(1, c.exp - margin - now);
  // setTimeout overflows past ~24.8 days; re-check daily instead.
  refreshTimer = setTimeout(refreshNow, Math.min(wait, 86400) * 1000);
}

export async function refreshNow() {
  const c = claims(session.token);
  if (!c) return;
  if (c.exp - Date.now() / 1000 > Math.min(600, ((c.exp - (c.iat ?? c.exp - 604800)) / 4)) + 5) {
    scheduleRefresh();
    return;
  }
  try {
    const data = await api('POST', '/api/auth/refresh', {});
    if (data && data.token) setToken(data.token);
    if (data && data.user) session.user = data.user;
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 401) {
      // Transient failure: try again in a minute.
      refreshTimer = setTimeout(refreshNow, 60000);
    }
  }
}

if (typeof document !== 'undefined') {
  // A laptop waking up may have slept through the timer.
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible' && session.token) refreshNow();
  });
}

/** Human-friendly message of any thrown value. */
export function messageOf(e) {
  if (e instanceof ApiError) return e.message;
  if (e && e.name === 'AbortError') return 'Cancelled.';
  return (e && e.message) || String(e);
}

/** Percent-encodes each segment of a project-relative path. */
export function encodePath(path) {
  return path
    .split('/')
    .filter((s) => s !== '')
    .map(encodeURIComponent)
    .join('/');
}
