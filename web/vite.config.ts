import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The app's routes (/verify-email, /reset-password, ...) are real paths, so the
// base is absolute; build with `--base=/sub/path/` to serve it elsewhere. The dev
// server binds to localhost so the page and the services share a site (the refresh
// cookie is SameSite=Strict) and serves index.html for every route.
export default defineConfig({
  base: "/",
  plugins: [react()],
  server: { host: "localhost", port: 5173, strictPort: true },
  preview: { host: "localhost", port: 5173, strictPort: true },
  build: { target: "es2022", sourcemap: true },
});
