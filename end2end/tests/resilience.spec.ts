import { expect, test } from '@playwright/test';
import { OwnServer } from './server';

test('over the registration limit, the form says how long to wait and keeps what was typed', async ({
  page,
  request,
}) => {
  const server = await OwnServer.start({ RATE_LIMIT_REGISTER: '2/5m' });
  try {
    for (const name of ['first', 'second']) {
      const response = await request.post(`${server.url}/api/webinar/register`, {
        data: { name, email: `${name}.${Date.now()}@example.com` },
      });
      expect(response.status()).toBe(201);
    }
    await page.goto(server.url);
    await expect(page.locator('article.landing')).toHaveAttribute('data-hydrated', 'true');
    await page.getByLabel('Name', { exact: true }).fill('Ada Lovelace');
    await page.getByLabel('Work email').fill('ada.limited@example.com');
    await page.getByRole('button', { name: 'Register' }).click();

    await expect(page.getByRole('alert')).toHaveText(/^Too many attempts — try again in \d+ s\.$/);
    await expect(page.getByLabel('Name', { exact: true })).toHaveValue('Ada Lovelace');
    await expect(page.getByLabel('Work email')).toHaveValue('ada.limited@example.com');
    await expect(page.getByTestId('success')).toHaveCount(0);
  } finally {
    await server.stop();
  }
});

test('the live count reconnects after a server restart and shows the current count', async ({ page, request }) => {
  const server = await OwnServer.start({ RATE_LIMIT_REGISTER: '100/1m' });
  try {
    await page.goto(server.url);
    await expect(page.locator('article.landing')).toHaveAttribute('data-hydrated', 'true');
    await page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));
    await expect(page.getByTestId('count-value')).toHaveText('0');

    await server.kill();
    await server.restart();
    const response = await request.post(`${server.url}/api/webinar/register`, {
      data: { name: 'Grace', email: `grace.${Date.now()}@example.com` },
    });
    expect(response.status()).toBe(201);

    await expect(page.getByTestId('count-value')).toHaveText('1');
    expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
  } finally {
    await server.stop();
  }
});
