/** Go's path.Dir and url.ParseRequestURI, as far as the rules depend on them. */

/** path.Clean */
function goPathClean(path: string): string {
  if (path === '') return '.';
  const rooted = path.startsWith('/');
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out.at(-1) !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(part);
  }
  const joined = out.join('/');
  return rooted ? `/${joined}` : joined === '' ? '.' : joined;
}

/** path.Dir */
export function goPathDir(path: string): string {
  return goPathClean(path.slice(0, path.lastIndexOf('/') + 1));
}

const HOST_OK = /^[A-Za-z0-9\-_.~!$&'()*+,;=:[\]<>"%]*$/;
const USERINFO_OK = /^[A-Za-z0-9\-._:~!$&'()*+,;=%@]*$/;

/** net/url.ParseRequestURI, for the checks it can fail on. */
export function goParseRequestURI(raw: string): boolean {
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(raw)) return false;
  if (raw === '') return false;
  if (raw === '*') return true;
  let scheme = '';
  let rest = raw;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i] ?? '';
    if (/[A-Za-z]/.test(c)) continue;
    if (/[0-9+\-.]/.test(c)) {
      if (i === 0) break;
      continue;
    }
    if (c === ':') {
      if (i === 0) return false; // missing protocol scheme
      scheme = raw.slice(0, i);
      rest = raw.slice(i + 1);
    }
    break;
  }
  const query = rest.indexOf('?');
  if (query >= 0) rest = rest.slice(0, query);
  if (!rest.startsWith('/')) return scheme !== ''; // opaque with a scheme, else "invalid URI for request"
  if (scheme !== '' && rest.startsWith('//')) {
    const slash = rest.indexOf('/', 2);
    const authority = slash < 0 ? rest.slice(2) : rest.slice(2, slash);
    rest = slash < 0 ? '' : rest.slice(slash);
    const at = authority.lastIndexOf('@');
    if (at >= 0 && !USERINFO_OK.test(authority.slice(0, at))) return false;
    const host = at >= 0 ? authority.slice(at + 1) : authority;
    if (!goHostOk(host)) return false;
  }
  return validEscapes(rest);
}

function goHostOk(host: string): boolean {
  let port = '';
  let name = host;
  if (host.startsWith('[')) {
    const close = host.lastIndexOf(']');
    if (close < 0) return false;
    port = host.slice(close + 1);
    name = host.slice(0, close + 1);
    if (port !== '' && !/^:[0-9]*$/.test(port)) return false;
  } else {
    const colon = host.lastIndexOf(':');
    if (colon >= 0) {
      port = host.slice(colon);
      name = host.slice(0, colon);
      if (!/^:[0-9]*$/.test(port)) return false;
    }
  }
  return HOST_OK.test(name) && validEscapes(name);
}

function validEscapes(s: string): boolean {
  return !/%(?![0-9A-Fa-f]{2})/.test(s);
}
