import { defineConfig } from 'vite';

// Built assets go to $RUSM_DASHBOARD_OUT (the build tree's dashboard/ folder,
// next to the rusm binary) or dist/. `npm run dev` proxies the node's
// WebSocket and /metrics from RUSM_NODE (default 127.0.0.1:4000).
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
      '/ws': { target: `ws://${node}`, ws: true },
      '/metrics': `http://${node}`,
    },
  },
});
