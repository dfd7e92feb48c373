// Text typed and not yet saved, kept in sessionStorage by user, so a session that
// ends (or a reload) loses nothing: after logging in again it is all still there.
// Cleared by an explicit log-out. Never holds tokens.

const PREFIX = "todo-grpc.draft.";

function key(user: string, name: string): string {
  return `${PREFIX}${user}.${name}`;
}

export function loadDraft<T>(user: string, name: string): T | null {
  try {
    const raw = sessionStorage.getItem(key(user, name));
    return raw ? (JSON.parse(raw) as T) : null;
  } catch {
    return null;
  }
}

export function saveDraft(user: string, name: string, value: unknown): void {
  try {
    if (value === null) sessionStorage.removeItem(key(user, name));
    else sessionStorage.setItem(key(user, name), JSON.stringify(value));
  } catch {
    // Storage full or disabled: drafts are a convenience.
  }
}

export function clearAllDrafts(): void {
  try {
    for (const k of Object.keys(sessionStorage)) if (k.startsWith(PREFIX)) sessionStorage.removeItem(k);
  } catch {
    // ignore
  }
}
