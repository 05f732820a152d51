// Svelte actions that put sanitised HTML into an element. Streaming answers change many
// times a second; re-parsing the whole Markdown on each event would starve the page, so
// renders are batched to an animation frame, spaced by three times the last render's cost,
// and only the blocks that changed are parsed again.
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

/**
 * Splits Markdown into top-level blocks at blank lines outside code fences. While an answer
 * streams only its changed (last) blocks are parsed again, so the cost of a render does not
 * grow with the length of the answer.
 */
export function splitBlocks(text) {
  const blocks = [];
  let current = [];
  let fence = '';
  for (const line of text.split('\n')) {
    const m = /^\s{0,3}(`{3,}|~{3,})/.exec(line);
    if (m) {
      if (!fence) fence = m[1][0];
      else if (m[1][0] === fence) fence = '';
    }
    if (!fence && line.trim() === '' && current.length) {
      blocks.push(current.join('\n'));
      current = [];
    } else if (fence || line.trim() !== '') {
      current.push(line);
    }
  }
  if (current.length) blocks.push(current.join('\n'));
  return blocks;
}

/** Answers longer than this are not rendered once more as a whole when they end. */
const WHOLE_RENDER_LIMIT = 60000;

/** use:markdown={{ text, streaming }} */
export function markdown(node, params) {
  let current = params;
  let queued = false;
  let notBefore = 0;
  let destroyed = false;
  let rendered = null;
  /** Markdown of each child block while rendering block by block; null after a whole render. */
  let blocks = null;

  function renderWhole() {
    node.innerHTML = renderMarkdown(current.text);
    addCopyButtons(node);
    blocks = null;
  }

  function renderBlocks() {
    if (!blocks) {
      node.textContent = '';
      blocks = [];
    }
    const next = splitBlocks(current.text);
    for (let i = 0; i < next.length; i++) {
      if (blocks[i] === next[i]) continue;
      let el = node.children[i];
      if (!el) {
        el = document.createElement('div');
        el.className = 'md-block';
        node.append(el);
      }
      el.innerHTML = renderMarkdown(next[i]);
      addCopyButtons(el);
      blocks[i] = next[i];
    }
    while (node.children.length > next.length) node.lastElementChild.remove();
    blocks.length = next.length;
  }

  function render() {
    queued = false;
    if (destroyed) return;
    const key = (current.streaming ? 's:' : 'w:') + current.text;
    if (rendered === key) return;
    const t0 = performance.now();
    if (current.streaming || (blocks && current.text.length > WHOLE_RENDER_LIMIT)) renderBlocks();
    else renderWhole();
    rendered = key;
    const cost = performance.now() - t0;
    notBefore = performance.now() + cost * 3;
  }

  function schedule() {
    if (queued) return;
    if (!current.streaming && !blocks) {
      render();
      return;
    }
    queued = true;
    const wait = Math.max(0, notBefore - performance.now());
    const go = () => requestAnimationFrame(render);
    if (wait > 0) setTimeout(go, wait);
    else go();
  }

  node.addEventListener('click', onCopyClick);
  if (current.streaming) schedule();
  else render();
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
