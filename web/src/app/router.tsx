// A small router on the History API: the path picks the screen, the search string
// holds screen state (the list's filter and page). Links are real <a href>s, so
// they open in new tabs and show their address; plain clicks stay in the page.

import { type AnchorHTMLAttributes, type MouseEvent, useSyncExternalStore } from "react";

const BASE = import.meta.env.BASE_URL.replace(/\/$/, "");
const listeners = new Set<() => void>();

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  window.addEventListener("popstate", listener);
  return () => {
    listeners.delete(listener);
    window.removeEventListener("popstate", listener);
  };
}

const snapshot = () => location.pathname + location.search;

export interface Place {
  /** The path inside the app, starting with "/". */
  path: string;
  /** The search string, with its "?" (or ""). */
  search: string;
}

export function currentPlace(): Place {
  let path = location.pathname;
  if (BASE && path.startsWith(BASE)) path = path.slice(BASE.length);
  return { path: path || "/", search: location.search };
}

export function usePlace(): Place {
  useSyncExternalStore(subscribe, snapshot);
  return currentPlace();
}

/** Goes to `to` ("/account", "/?filter=open"), adding a history entry unless `replace`. */
export function navigate(to: string, { replace = false } = {}): void {
  const url = BASE + to;
  if (url === snapshot()) return;
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  for (const listener of listeners) listener();
}

export function href(to: string): string {
  return BASE + to;
}

type LinkProps = Omit<AnchorHTMLAttributes<HTMLAnchorElement>, "href"> & { to: string; replace?: boolean };

export function Link({ to, replace, onClick, ...rest }: LinkProps) {
  const click = (e: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(e);
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(to, { replace });
  };
  return <a href={href(to)} onClick={click} {...rest} />;
}
