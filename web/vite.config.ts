import { defineConfig } from "vite";

// Relative base: dist/ can be served from any path. The dev server binds to
// localhost so the page and the services share a site (the refresh cookie is
// SameSite=Strict).
export default defineConfig({
  base: "./",
  server: { host: "localhost", port: 5173, strictPort: true },
  preview: { host: "localhost", port: 5173, strictPort: true },
  build: { target: "es2022", sourcemap: true },
});
