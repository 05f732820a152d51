// Svelte actions that put sanitised HTML into an element. Streaming answers change many
// times a second; re-parsing the whole Markdown on each event would starve the page, so
// renders are batched to an animation frame and spaced by three times the last render's cost
// (the page stays interactive at least ~75 % of the time whatever the answer's length).
import { renderMarkdown } from './markdown.js';

function addCopyButtons(node) {
  for (const block of node.querySelectorAll('div.code-block')) {
    if (block.querySelector(':scope > button.copy')) continue;
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'copy';
    button.textContent = 'Copy';
    button.setAttribute('aria-label', 'Copy code');
    block.prepend(button);
  }
}

export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const area = document.createElement('textarea');
    area.value = text;
    area.setAttribute('readonly', '');
    area.className = 'offscreen';
    document.body.append(area);
    area.select();
    let ok = false;
    try {
      ok = document.execCommand('copy');
    } catch {
      ok = false;
    }
    area.remove();
    return ok;
  }
}

function onCopyClick(event) {
  const button = event.target.closest && event.target.closest('button.copy');
  if (!button) return;
  const code = button.parentElement && button.parentElement.querySelector('code');
  if (!code) return;
  copyText(code.textContent || '').then((ok) => {
    button.textContent = ok ? 'Copied' : 'Copy failed';
    setTimeout(() => (button.textContent = 'Copy'), 1500);
  });
}

/** use:markdown={{ text, streaming }} */
export function markdown(node, params) {
  let current = params;
  let queued = false;
  let notBefore = 0;
  let destroyed = false;
  let rendered = null;

  function render() {
    queued = false;
    if (destroyed || rendered === current.text) return;
    const t0 = performance.now();
    rendered = current.text;
    node.innerHTML = renderMarkdown(current.text);
    addCopyButtons(node);
    const cost = performance.now() - t0;
    notBefore = performance.now() + cost * 3;
  }

  function schedule() {
    if (!current.streaming) {
      render();
      return;
    }
    if (queued) return;
    queued = true;
    const wait = Math.max(0, notBefore - performance.now());
    const go = () => requestAnimationFrame(render);
    if (wait > 0) setTimeout(go, wait);
    else go();
  }

  node.addEventListener('click', onCopyClick);
  render();
  return {
    update(p) {
      current = p;
      schedule();
    },
    destroy() {
      destroyed = true;
      node.removeEventListener('click', onCopyClick);
    },
  };
}

/** use:safeHtml={html} for HTML that is already sanitised (highlighted code). */
export function safeHtml(node, html) {
  node.innerHTML = html;
  return {
    update(h) {
      node.innerHTML = h;
    },
  };
}
