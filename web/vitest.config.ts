import { defineConfig } from "vitest/config";

// Unit tests of the logic (error wording, retry, URL state, validation, contrast of
// the palette): plain Node, no DOM.
export default defineConfig({
  test: { include: ["src/**/*.test.ts"], environment: "node" },
});
