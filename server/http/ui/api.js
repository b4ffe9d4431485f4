/* global localStorage */
/** The dashboard's calls to /api/v1. Mutations carry the API token the operator saved in this browser. */

const TOKEN_KEY = 'rackboot.apiToken';

export function getToken() {
  try {
    return localStorage.getItem(TOKEN_KEY) ?? '';
  } catch {
    return '';
  }
}

export function setToken(token) {
  if (token) localStorage.setItem(TOKEN_KEY, token);
  else localStorage.removeItem(TOKEN_KEY);
}

export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

/**
 * @param {'GET'|'POST'|'PUT'} method
 * @param {string} path below /api/v1
 * @param {unknown} [body]
 */
export async function api(method, path, body) {
  const headers = { accept: 'application/json' };
  if (method !== 'GET') {
    const token = getToken();
    if (token) headers.authorization = `Bearer ${token}`;
  }
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`/api/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) throw new ApiError(errorMessage(data) ?? `${response.status} ${response.statusText}`, response.status);
  return data;
}

/** `{error: "…"}`, `{error: {message}}` or `{message}`: whichever shape the API answers with. */
function errorMessage(data) {
  if (typeof data?.error === 'string') return data.error;
  if (typeof data?.error?.message === 'string') return data.error.message;
  return typeof data?.message === 'string' ? data.message : null;
}

export const ref = (machine) => encodeURIComponent(machine.name);
