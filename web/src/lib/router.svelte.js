// Hash routes (#/c/<id>, #/projects/<id>, #/account …): they work behind any static server
// and need no server-side fallback.
export const route = $state({ path: parse() });

function parse() {
  const h = (typeof location !== 'undefined' ? location.hash : '') || '#/';
  return h.replace(/^#/, '') || '/';
}

if (typeof window !== 'undefined') {
  window.addEventListener('hashchange', () => (route.path = parse()));
}

export function go(path) {
  if (location.hash !== '#' + path) location.hash = path;
  route.path = path;
}

/** The route's segments, decoded. */
export function segments(path) {
  return path
    .split('/')
    .filter(Boolean)
    .map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    });
}
