// Markdown for untrusted text (model answers, tool results, file contents). Three layers:
// 1. raw HTML in the Markdown is shown as text, never interpreted;
// 2. links keep only http(s)/mailto/in-page targets and open with rel=noopener; images become
//    links (an <img> could track the reader, and the CSP would refuse foreign ones anyway);
// 3. everything marked produces goes through DOMPurify with a strict allow-list.
import { Marked } from 'marked';
import DOMPurify from 'dompurify';
import { escapeHtml, highlight } from './highlight.js';

const SAFE_URL = /^(https?:|mailto:|#|\/(?!\/))/i;

export function safeUrl(href) {
  const url = String(href || '').trim();
  return SAFE_URL.test(url) ? url : '';
}

const marked = new Marked({
  gfm: true,
  breaks: false,
  renderer: {
    html({ text }) {
      return escapeHtml(text);
    },
    code({ text, lang }) {
      const language = (lang || '').trim().split(/\s+/)[0].toLowerCase();
      const label = language ? `<span class="code-lang">${escapeHtml(language)}</span>` : '';
      return `<div class="code-block">${label}<pre><code class="hljs">${highlight(text, language)}</code></pre></div>`;
    },
    link({ href, title, tokens }) {
      const inner = this.parser.parseInline(tokens);
      const url = safeUrl(href);
      if (!url) return `<span class="unsafe-link">${inner}</span>`;
      const t = title ? ` title="${escapeHtml(title)}"` : '';
      return `<a href="${escapeHtml(url)}"${t}>${inner}</a>`;
    },
    image({ href, text }) {
      const url = safeUrl(href);
      const label = `🖼 ${escapeHtml(text || 'image')}`;
      return url ? `<a href="${escapeHtml(url)}">${label}</a>` : `<span>${label}</span>`;
    },
  },
});

const PURIFY = {
  ALLOWED_TAGS: [
    'a', 'b', 'blockquote', 'br', 'code', 'del', 'div', 'em', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6',
    'hr', 'i', 'input', 'li', 'ol', 'p', 'pre', 's', 'span', 'strong', 'sub', 'sup', 'table',
    'tbody', 'td', 'th', 'thead', 'tr', 'ul',
  ],
  ALLOWED_ATTR: ['href', 'title', 'class', 'type', 'checked', 'disabled', 'align', 'start'],
  ALLOW_DATA_ATTR: false,
  ALLOW_ARIA_ATTR: false,
};

let hooked = false;
function purify(html) {
  if (!hooked) {
    hooked = true;
    DOMPurify.addHook('afterSanitizeAttributes', (node) => {
      if (node.tagName === 'A') {
        const url = safeUrl(node.getAttribute('href'));
        if (!url) node.removeAttribute('href');
        else {
          node.setAttribute('target', '_blank');
          node.setAttribute('rel', 'noopener noreferrer nofollow');
        }
      }
      if (node.tagName === 'INPUT' && node.getAttribute('type') !== 'checkbox') node.remove();
    });
  }
  return DOMPurify.sanitize(html, { ...PURIFY, ADD_ATTR: ['target', 'rel'] });
}

/** Sanitised HTML for Markdown `text`. */
export function renderMarkdown(text) {
  let html;
  try {
    html = marked.parse(String(text ?? ''), { async: false });
  } catch {
    html = `<pre>${escapeHtml(String(text ?? ''))}</pre>`;
  }
  return purify(html);
}

/** Sanitised, highlighted HTML for a whole file or a tool result. */
export function renderCode(text, lang) {
  return purify(`<pre><code class="hljs">${highlight(String(text ?? ''), lang)}</code></pre>`);
}
