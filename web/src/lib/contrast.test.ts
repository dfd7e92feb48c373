// The palette in style.css meets WCAG 2.2 AA in both themes: text 4.5:1 on every
// background it sits on, and 3:1 for what shows a control's edge, its focus ring
// and the selected filter, hovered or not (WCAG 1.4.3 and 1.4.11).

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const css = readFileSync(new URL("../style.css", import.meta.url), "utf8");

function palette(name: "light" | "dark"): Record<string, string> {
  const block = css.match(new RegExp(`/\\* palette:${name} \\*/([\\s\\S]*?)/\\* end palette \\*/`))?.[1];
  if (!block) throw new Error(`no ${name} palette in style.css`);
  return Object.fromEntries([...block.matchAll(/--([\w-]+):\s*(#[0-9a-f]{6});/gi)].map((m) => [m[1], m[2]]));
}

function luminance(hex: string): number {
  const [r, g, b] = [1, 3, 5].map((i) => {
    const c = Number.parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

function contrast(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

// [foreground, background, minimum]
const TEXT = 4.5;
const EDGE = 3;
const PAIRS: [string, string, number][] = [
  ["text", "bg", TEXT],
  ["text", "surface", TEXT],
  ["muted", "bg", TEXT],
  ["muted", "surface", TEXT],
  ["accent", "bg", TEXT],
  ["accent", "surface", TEXT],
  ["accent-hover", "bg", TEXT],
  ["on-accent", "accent", TEXT],
  ["on-accent", "accent-hover", TEXT],
  ["text", "chip-hover", TEXT],
  ["danger", "bg", TEXT],
  ["danger", "surface", TEXT],
  ["danger", "problem-bg", TEXT],
  ["danger-hover", "bg", TEXT],
  ["on-danger", "danger", TEXT],
  ["on-danger", "danger-hover", TEXT],
  ["text", "problem-bg", TEXT],
  ["text", "info-bg", TEXT],
  ["text", "success-bg", TEXT],
  ["success", "bg", TEXT],
  ["success", "surface", TEXT],
  ["warn", "bg", TEXT],
  ["warn", "surface", TEXT],
  ["accent", "info-bg", TEXT],
  ["border", "bg", EDGE],
  ["border", "surface", EDGE],
  ["border", "chip-hover", EDGE],
  ["focus", "bg", EDGE],
  ["focus", "surface", EDGE],
  ["focus", "info-bg", EDGE],
  ["focus", "problem-bg", EDGE],
  ["accent", "bg", EDGE],
  ["danger", "bg", EDGE],
];

describe.each(["light", "dark"] as const)("the %s theme", (name) => {
  const p = palette(name);
  it.each(PAIRS)("%s on %s is at least %d:1", (fg, bg, min) => {
    expect(p[fg], `--${fg}`).toBeDefined();
    expect(p[bg], `--${bg}`).toBeDefined();
    expect(contrast(p[fg], p[bg])).toBeGreaterThanOrEqual(min);
  });
});

describe("the check itself", () => {
  it("knows black on white and the defect that was reported", () => {
    expect(contrast("#000000", "#ffffff")).toBeCloseTo(21, 0);
    // White on light blue under the pointer, as the old selected filter was.
    expect(contrast("#ffffff", "#dbeafe")).toBeLessThan(1.5);
  });
});
