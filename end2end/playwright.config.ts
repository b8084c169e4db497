import { defineConfig } from '@playwright/test';

// The release server, on its own port and a fresh SQLite database made by `make e2e`.
const port = Number(process.env.E2E_PORT ?? 3107);
const databaseUrl = process.env.E2E_DATABASE_URL ?? 'sqlite://../target/e2e/webinar.db?mode=rwc';

export default defineConfig({
  testDir: './tests',
  timeout: 30_000,
  expect: { timeout: 10_000 },
  retries: 0,
  workers: 2,
  reporter: 'list',
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    browserName: 'chromium',
    launchOptions: {
      // Debian's Chromium: Playwright's own browser download is not possible here.
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    },
  },
  webServer: {
    command: `${process.env.SERVER_BIN ?? '../target/release/server'} serve`,
    url: `http://127.0.0.1:${port}/healthz`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: 'pipe',
    env: {
      DATABASE_URL: databaseUrl,
      LEPTOS_SITE_ADDR: `127.0.0.1:${port}`,
      LEPTOS_SITE_ROOT: '../target/site',
      SEED_DEMO: 'true',
      OUTBOX_DIR: '../target/e2e/outbox',
      RUST_LOG: 'info',
      // Every test registers from 127.0.0.1; the limit has a test of its own.
      RATE_LIMIT_REGISTER: '1000/1m',
      RATE_LIMIT_PUBLIC: '10000/1m',
    },
  },
});
