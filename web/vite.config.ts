import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// The build goes straight into the Go package that embeds it (internal/webui/dist), and is committed so
// `golem serve` works on a machine without Node. scripts/webui-check.sh rebuilds it and compares, so the
// output must be byte-for-byte reproducible: content hashes only, no timestamps, no source maps with
// absolute paths.
export default defineConfig({
  plugins: [svelte()],
  base: '/',
  build: {
    outDir: '../internal/webui/dist',
    emptyOutDir: true,
    sourcemap: false,
    target: 'es2020',
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    reportCompressedSize: true,
    rollupOptions: {
      output: {
        entryFileNames: 'assets/[name]-[hash].js',
        chunkFileNames: 'assets/[name]-[hash].js',
        assetFileNames: 'assets/[name]-[hash][extname]',
      },
    },
  },
  server: {
    // `npm run dev` talks to a running `golem serve` (GOLEM_URL, default the Ollama port).
    proxy: {
      '/api': { target: process.env.GOLEM_URL || 'http://127.0.0.1:11434', changeOrigin: false },
    },
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
} as any);
