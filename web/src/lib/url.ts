// The list's place in the URL: ?filter=open&page=2. Defaults (all, page 1) are left
// out, so the plain address is the plain list.

export type Filter = "all" | "open" | "done";
export const FILTERS: readonly Filter[] = ["all", "open", "done"];

export interface ListPlace {
  filter: Filter;
  page: number;
}

export function parseListPlace(search: string): ListPlace {
  const params = new URLSearchParams(search);
  const f = params.get("filter");
  const filter: Filter = f === "open" || f === "done" ? f : "all";
  const p = Number.parseInt(params.get("page") ?? "", 10);
  const page = Number.isFinite(p) && p >= 1 ? p : 1;
  return { filter, page };
}

/** The search string for `place` ("" for the defaults), keeping unrelated parameters. */
export function listSearch(place: ListPlace, current = ""): string {
  const params = new URLSearchParams(current);
  params.delete("filter");
  params.delete("page");
  if (place.filter !== "all") params.set("filter", place.filter);
  if (place.page > 1) params.set("page", String(place.page));
  const s = params.toString();
  return s ? `?${s}` : "";
}

export function pageCount(items: number, pageSize: number): number {
  return Math.max(1, Math.ceil(items / pageSize));
}

/** A page number that exists for `items` (a page emptied by deletes steps back). */
export function clampPage(page: number, items: number, pageSize: number): number {
  return Math.min(Math.max(1, page), pageCount(items, pageSize));
}
