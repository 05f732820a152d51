import { api, messageOf } from './api.svelte.js';

/** App-wide state shared by the views. */
export const app = $state({
  models: [],
  modelsLoaded: false,
  toasts: [],
  /** bumped when the conversation list must reload (rename, delete, new) */
  listVersion: 0,
});

let toastId = 0;

/** Shows a message for a few seconds (errors stay until dismissed). */
export function toast(message, kind = 'error') {
  const id = ++toastId;
  app.toasts.push({ id, message, kind });
  if (kind !== 'error') setTimeout(() => dismiss(id), 4000);
}

export function dismiss(id) {
  const i = app.toasts.findIndex((t) => t.id === id);
  if (i >= 0) app.toasts.splice(i, 1);
}

export function fail(e) {
  if (e && e.name === 'AbortError') return;
  toast(messageOf(e));
}

export async function loadModels() {
  try {
    const models = await api('GET', '/api/models');
    app.models = Array.isArray(models) ? models : [];
  } catch (e) {
    fail(e);
  } finally {
    app.modelsLoaded = true;
  }
}
