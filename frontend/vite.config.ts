/// <reference types="vitest/config" />
// Built to frontend/dist with base '/static/': Django (WhiteNoise) serves the assets under /static/
// and labeling/spa_urls.py serves dist/index.html for the app routes (/, /login, /label/..., /admin-ui/..., /research/...).
import react from '@vitejs/plugin-react'
import { defineConfig } from 'vite'

export default defineConfig({
  base: '/static/',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    // Assets get content hashes; index.html is served by Django with no-cache.
    assetsDir: 'assets',
  },
  server: {
    // `npm run dev` (optional): proxy the API to a Django runserver on :8000.
    proxy: { '/api': 'http://127.0.0.1:8000' },
  },
  test: {
    include: ['src/**/*.test.ts', 'src/**/*.test.tsx'],
    environment: 'node',
  },
})
