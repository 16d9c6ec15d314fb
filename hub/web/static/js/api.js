// The hub's REST API (/api/v1): JSON in and out, the session cookie, and the CSRF header on writes.

let csrfToken = "";
let onUnauthorized = () => {};

/** An API error with the HTTP status and the server's detail. */
export class ApiError extends Error {
  constructor(status, detail, retryAfter = null) {
    super(detail || `HTTP ${status}`);
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

/** Remember the CSRF token from a login or /auth/me answer. */
export function setCsrf(token) {
  csrfToken = token || "";
}

/** Called when the API answers 401 (the session ended): show the login form. */
export function setUnauthorizedHandler(handler) {
  onUnauthorized = handler;
}

function csrf() {
  if (csrfToken) return csrfToken;
  const cookie = document.cookie.split("; ").find((c) => c.startsWith("cg_csrf="));
  return cookie ? decodeURIComponent(cookie.slice("cg_csrf=".length)) : "";
}

/** Call the API; resolve to the JSON body, reject with ApiError. */
export async function api(path, { method = "GET", body, params, quiet401 = false } = {}) {
  const url = new URL(`/api/v1${path}`, location.origin);
  for (const [k, v] of Object.entries(params ?? {})) if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, v);
  const headers = { Accept: "application/json" };
  if (method !== "GET") {
    headers["Content-Type"] = "application/json";
    const token = csrf();
    if (token) headers["X-CSRF-Token"] = token;
  }
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
  } catch {
    throw new ApiError(0, "network");
  }
  if (!response.ok) {
    let detail = "";
    try {
      const data = await response.json();
      detail = typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail);
    } catch {
      detail = response.statusText;
    }
    if (response.status === 401 && !quiet401) onUnauthorized();
    throw new ApiError(response.status, detail, response.headers.get("Retry-After"));
  }
  if (response.status === 204) return null;
  return response.json();
}

/** Every item of a list endpoint, page by page (the API caps one page). */
export async function listAll(path, params = {}, pageSize = 1000) {
  const items = [];
  for (let offset = 0; ; offset += pageSize) {
    const page = await api(path, { params: { ...params, limit: pageSize, offset } });
    items.push(...page.items);
    if (page.items.length < pageSize || items.length >= page.total) return items;
  }
}

/**
 * Who is signed in: {auth: "off", me} when the hub has no accounts (/auth/me says auth "off";
 * older hubs had no such route), {auth: "on", me} when signed in, {auth: "on", me: null} when the
 * login form is needed.
 */
export async function whoAmI() {
  try {
    const me = await api("/auth/me", { quiet401: true });
    if (me.auth === "off") return { auth: "off", me };
    setCsrf(me.csrf_token);
    return { auth: "on", me };
  } catch (error) {
    if (error.status === 404) return { auth: "off", me: null };
    if (error.status === 401) return { auth: "on", me: null };
    throw error;
  }
}

/** Sign in; resolve to the user, reject with ApiError (401 wrong, 429 rate-limited). */
export async function login(username, password) {
  const answer = await api("/auth/login", { method: "POST", body: { username, password }, quiet401: true });
  setCsrf(answer.csrf_token);
  return answer.user;
}

/** Sign out (ignores errors: the session may have ended already). */
export async function logout() {
  try {
    await api("/auth/logout", { method: "POST", quiet401: true });
  } finally {
    setCsrf("");
  }
}
