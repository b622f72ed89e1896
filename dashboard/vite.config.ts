import { defineConfig } from 'vite';

// Built assets go to $RUSM_DASHBOARD_OUT (the build tree's dashboard/ folder,
// next to the rusm binary) or dist/. `npm run dev` proxies the node's
// WebSocket, /metrics and /api from RUSM_NODE (default 127.0.0.1:4000) with
// the node's own Host; the node must accept the dev page's origin:
//   rusm dashboard --allow-origin http://localhost:5173
// and the dev page needs the token: http://localhost:5173/?token=...
const node = process.env.RUSM_NODE ?? '127.0.0.1:4000';
export default defineConfig({
  base: './',
  build: {
    outDir: process.env.RUSM_DASHBOARD_OUT ?? 'dist',
    emptyOutDir: true,
    chunkSizeWarningLimit: 1000,
  },
  server: {
    proxy: {
      '/ws': { target: `ws://${node}`, ws: true, changeOrigin: true },
      '/metrics': { target: `http://${node}`, changeOrigin: true },
      '/api': { target: `http://${node}`, changeOrigin: true },
    },
  },
});
