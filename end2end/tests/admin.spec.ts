import { expect, test } from '@playwright/test';
import { OwnServer } from './server';

test('marketing logs in, sees the webinars with their registrations, and logs out', async ({ page, request }) => {
  const server = await OwnServer.start();
  try {
    server.createAdmin('marketing@example.com', 'correct horse battery staple');
    const registered = await request.post(`${server.url}/api/webinar/register`, {
      data: { name: 'Ada', email: 'ada.admin@example.com' },
    });
    expect(registered.status()).toBe(201);

    await page.goto(`${server.url}/admin`);
    await expect(page).toHaveURL(/\/admin\/login$/);
    await page.getByLabel('Email').fill('marketing@example.com');
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Log in' }).click();
    await expect(page.getByRole('alert')).toHaveText('The email or password is not correct.');

    await page.getByLabel('Password').fill('correct horse battery staple');
    await page.getByRole('button', { name: 'Log in' }).click();
    await expect(page).toHaveURL(/\/admin$/);
    const row = page.getByTestId('webinars').locator('tbody tr').first();
    await expect(row).toContainText('published');
    await expect(row.locator('td').nth(3)).toHaveText('1');

    await page.getByRole('button', { name: 'Log out' }).click();
    await expect(page).toHaveURL(/\/admin\/login$/);
    await page.goto(`${server.url}/admin`);
    await expect(page).toHaveURL(/\/admin\/login$/);
  } finally {
    await server.stop();
  }
});
