import { expect, test, type Page } from '@playwright/test';

/** A fresh address per run, so tests never collide with earlier registrations. */
function uniqueEmail(prefix: string): string {
  return `${prefix}.${Date.now()}.${Math.floor(Math.random() * 1e6)}@example.com`;
}

async function openHydrated(page: Page, path = '/'): Promise<void> {
  await page.goto(path);
  await expect(page.locator('article.landing')).toHaveAttribute('data-hydrated', 'true');
}

async function countOn(page: Page): Promise<number> {
  return Number(await page.getByTestId('count-value').textContent());
}

test('registers through the hydrated form and shows the success state', async ({ page }) => {
  // The page's Content-Security-Policy lets exactly its own scripts run: nothing is blocked.
  const blocked: string[] = [];
  page.on('console', (message) => {
    if (message.text().includes('Content Security Policy')) blocked.push(message.text());
  });
  await openHydrated(page);
  const before = await countOn(page);
  await page.getByLabel('Name', { exact: true }).fill('Ada Lovelace');
  await page.getByLabel('Work email').fill(uniqueEmail('ada'));
  await page.getByRole('button', { name: 'Register' }).click();

  await expect(page.getByTestId('success')).toContainText("You're registered, Ada Lovelace!");
  await expect(page.getByTestId('count-value')).toHaveText(String(before + 1));
  // The hydrated form called the server function in place: no reload, no redirect.
  expect(page.url()).not.toContain('registered=');
  expect(blocked).toEqual([]);
});

test('a second open page sees the count go up without reloading', async ({ browser }) => {
  const watcherContext = await browser.newContext();
  const registrantContext = await browser.newContext();
  const watcher = await watcherContext.newPage();
  const registrant = await registrantContext.newPage();
  await openHydrated(watcher);
  await openHydrated(registrant);
  await watcher.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));
  const before = await countOn(watcher);

  await registrant.getByLabel('Name', { exact: true }).fill('Grace Hopper');
  await registrant.getByLabel('Work email').fill(uniqueEmail('grace'));
  await registrant.getByRole('button', { name: 'Register' }).click();
  await expect(registrant.getByTestId('success')).toBeVisible();

  await expect(watcher.getByTestId('count-value')).toHaveText(String(before + 1));
  expect(await watcher.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
  await watcherContext.close();
  await registrantContext.close();
});

test('shows each error next to its field and keeps the form', async ({ page }) => {
  await openHydrated(page);
  await page.getByLabel('Name', { exact: true }).fill('   ');
  await page.getByLabel('Work email').fill('not-an-email');
  await page.getByRole('button', { name: 'Register' }).click();

  await expect(page.getByTestId('name-error')).toHaveText('Enter your name (1 to 100 characters).');
  await expect(page.getByTestId('email-error')).toHaveText('Enter a valid email address, like name@example.com.');
  await expect(page.getByLabel('Name', { exact: true })).toHaveAttribute('aria-invalid', 'true');
  await expect(page.getByTestId('success')).toHaveCount(0);
});

test('registers with JavaScript disabled', async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto('/');
  const before = await countOn(page);
  await page.getByLabel('Name', { exact: true }).fill('Katherine Johnson');
  await page.getByLabel('Work email').fill(uniqueEmail('katherine'));
  await page.getByRole('button', { name: 'Register' }).click();

  await expect(page).toHaveURL(/registered=/);
  await expect(page.getByTestId('success')).toContainText("You're registered, Katherine Johnson!");
  expect(await countOn(page)).toBe(before + 1);
  await context.close();
});

test('visitors download no admin code; an admin page loads its own chunk and hydrates', async ({ page }) => {
  const wasm: string[] = [];
  page.on('request', (request) => {
    if (request.url().endsWith('.wasm')) wasm.push(new URL(request.url()).pathname);
  });
  await openHydrated(page);
  expect(wasm).toEqual(['/pkg/webinar.wasm']);

  await page.goto('/admin/login');
  await page.getByLabel('Email').fill('nobody@example.com');
  await page.getByLabel('Password').fill('not a password at all');
  await page.getByRole('button', { name: 'Log in' }).click();
  // The error appears in place only when the lazily loaded page hydrated.
  await expect(page.getByRole('alert')).toHaveText('The email or password is not correct.');
  expect(wasm.some((path) => path.includes('login_route_view'))).toBe(true);
});
