import { describe, expect, it } from "vitest";
import { clampPage, listSearch, pageCount, parseListPlace } from "./url";

describe("the list's place in the URL", () => {
  it("reads filter and page, defaulting what is missing or wrong", () => {
    expect(parseListPlace("")).toEqual({ filter: "all", page: 1 });
    expect(parseListPlace("?filter=open&page=3")).toEqual({ filter: "open", page: 3 });
    expect(parseListPlace("?filter=nonsense&page=-2")).toEqual({ filter: "all", page: 1 });
    expect(parseListPlace("?page=2abc")).toEqual({ filter: "all", page: 2 });
    expect(parseListPlace("?page=zero")).toEqual({ filter: "all", page: 1 });
  });

  it("writes only what is not the default, and round-trips", () => {
    expect(listSearch({ filter: "all", page: 1 })).toBe("");
    expect(listSearch({ filter: "done", page: 1 })).toBe("?filter=done");
    expect(listSearch({ filter: "open", page: 2 })).toBe("?filter=open&page=2");
    for (const place of [
      { filter: "open", page: 4 },
      { filter: "all", page: 2 },
    ] as const) {
      expect(parseListPlace(listSearch(place))).toEqual(place);
    }
  });

  it("keeps parameters it does not own", () => {
    expect(listSearch({ filter: "open", page: 1 }, "?x=1&page=5")).toBe("?x=1&filter=open");
  });

  it("counts pages and steps back from a page that no longer exists", () => {
    expect(pageCount(0, 5)).toBe(1);
    expect(pageCount(10, 5)).toBe(2);
    expect(pageCount(11, 5)).toBe(3);
    expect(clampPage(3, 10, 5)).toBe(2);
    expect(clampPage(0, 10, 5)).toBe(1);
  });
});
