import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect, type Page, test } from '@playwright/test';
import { OwnServer } from './server';

/** A marketing admin made on the server, logged in on the page (hydrated first). */
async function logInAsMarketing(page: Page, server: OwnServer): Promise<void> {
  server.createAdmin('marketing@example.com', 'correct horse battery staple');
  await page.goto(`${server.url}/admin/login`);
  await page.waitForLoadState('networkidle');
  await page.getByLabel('Email').fill('marketing@example.com');
  await page.getByLabel('Password').fill('correct horse battery staple');
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page).toHaveURL(/\/admin$/);
}

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

test('marketing creates a page with an ICP variant, publishes it, and sees a visitor register', async ({
  page,
  browser,
}) => {
  const server = await OwnServer.start({ RATE_LIMIT_PUBLIC: '10000/1m' });
  try {
    await logInAsMarketing(page, server);

    await page.getByRole('link', { name: 'New webinar' }).click();
    await expect(page).toHaveURL(/\/admin\/new-webinar$/);
    await page.waitForLoadState('networkidle');
    await page.getByLabel('Address').fill('pipeline-clinic');
    await page.getByLabel('Title', { exact: true }).fill('Pipeline clinic');
    await page.getByLabel('Subtitle').fill('Fix your funnel in an hour');
    await page.getByLabel('Join URL').fill('https://meet.example.com/clinic');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await expect(page).toHaveURL(/\/admin\/webinars\/pipeline-clinic$/);

    // The headline changes, and founders get a variant of their own.
    await page.waitForLoadState('networkidle');
    await page.getByLabel('Title', { exact: true }).fill('Pipeline clinic: live teardown');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await expect(page.getByTestId('saved')).toHaveText('Saved.');
    const addVariant = page.locator('form.new-variant');
    await addVariant.getByLabel('ICP key').fill('founders');
    await addVariant.getByLabel('Headline').fill('Pipeline clinic for founders');
    await addVariant.getByLabel('Intro').fill('Bring your own funnel.');
    await addVariant.getByRole('button', { name: 'Add variant' }).click();
    await expect(page.locator('.variant[data-icp="founders"]')).toBeVisible();

    const visitor = await browser.newContext();
    const visitorPage = await visitor.newPage();
    const draft = await visitorPage.goto(`${server.url}/webinars/pipeline-clinic`);
    expect(draft?.status()).toBe(404);
    await page.getByRole('button', { name: 'Publish now' }).click();
    await expect(page.getByTestId('published')).toContainText('is live');

    await visitorPage.goto(`${server.url}/webinars/pipeline-clinic`);
    await expect(visitorPage.getByRole('heading', { level: 1 })).toHaveText('Pipeline clinic: live teardown');
    await visitorPage.goto(`${server.url}/webinars/pipeline-clinic?icp=founders&utm_source=linkedin`);
    await expect(visitorPage.getByRole('heading', { level: 1 })).toHaveText('Pipeline clinic for founders');
    await expect(visitorPage.getByText('Bring your own funnel.')).toBeVisible();
    await expect(visitorPage.locator('article')).toHaveAttribute('data-hydrated', 'true');
    await visitorPage.getByLabel('Name').fill('Frida Founder');
    await visitorPage.getByLabel('Work email').fill('frida@startup.example');
    await visitorPage.getByRole('button', { name: 'Register' }).click();
    await expect(visitorPage.getByTestId('success')).toContainText('Frida Founder');
    await visitor.close();

    await page.goto(`${server.url}/admin/webinars/pipeline-clinic/registrations`);
    const row = page.getByTestId('registrations').locator('tbody tr').first();
    await expect(row).toContainText('Frida Founder');
    await expect(row).toContainText('frida@startup.example');
    await expect(row).toContainText('founders');
    await expect(row).toContainText('linkedin');

    const download = page.waitForEvent('download');
    await page.getByRole('link', { name: 'CSV' }).click();
    const csv = readFileSync(await (await download).path(), 'utf8');
    expect(csv).toContain('Frida Founder');
    expect(csv).toContain('frida@startup.example');
  } finally {
    await server.stop();
  }
});

test('marketing makes an API token, a program uses it, and marketing revokes it', async ({ page, request }) => {
  const server = await OwnServer.start();
  try {
    await logInAsMarketing(page, server);

    await page.getByRole('link', { name: 'API tokens' }).click();
    await expect(page).toHaveURL(/\/admin\/api-tokens$/);
    await page.waitForLoadState('networkidle');
    await page.getByLabel('What uses it').fill('CRM sync');
    await page.getByLabel('Scope').selectOption('read');
    await page.getByRole('button', { name: 'Make token' }).click();
    const secret = (await page.getByTestId('new-token').textContent()) ?? '';
    expect(secret).toMatch(/^wbt_[A-Za-z0-9]{43}$/);
    const row = page.getByTestId('api-tokens').locator('tbody tr').first();
    await expect(row).toContainText('CRM sync');
    await expect(row).toContainText('never');

    const headers = { Authorization: `Bearer ${secret}` };
    const listed = await request.get(`${server.url}/api/v1/webinars`, { headers });
    expect(listed.status()).toBe(200);
    expect((await listed.json()).data.length).toBe(1);
    const write = await request.post(`${server.url}/api/v1/webinars`, { headers, data: { title: 'x' } });
    expect(write.status()).toBe(403);

    await page.reload();
    await expect(row).not.toContainText('never');
    await page.waitForLoadState('networkidle');
    await row.getByRole('button', { name: 'Revoke' }).click();
    await expect(page.getByTestId('revoked')).toContainText('Revoked');
    await expect(row).toContainText('revoked');
    expect((await request.get(`${server.url}/api/v1/webinars`, { headers })).status()).toBe(401);
  } finally {
    await server.stop();
  }
});

test('marketing adds a webhook, sees its delivery logged, and redelivers it', async ({ page, request }) => {
  // A local endpoint that keeps each request's headers.
  const arrivals: IncomingHttpHeaders[] = [];
  const endpoint = createServer((incoming, answer) => {
    arrivals.push(incoming.headers);
    incoming.resume();
    incoming.on('end', () => answer.writeHead(200).end('thanks'));
  });
  await new Promise<void>((listening) => endpoint.listen(0, '127.0.0.1', listening));
  const port = (endpoint.address() as AddressInfo).port;
  const server = await OwnServer.start({ WEBHOOK_ALLOW_PRIVATE: 'true', WORKER_POLL_MS: '100' });
  try {
    await logInAsMarketing(page, server);
    await page.getByRole('link', { name: 'Webhooks' }).click();
    await expect(page).toHaveURL(/\/admin\/webhooks$/);
    await page.waitForLoadState('networkidle');
    await page.getByLabel('Endpoint URL').fill(`http://127.0.0.1:${port}/crm`);
    await page.getByLabel('registration.created').check();
    await page.getByRole('button', { name: 'Add webhook' }).click();
    await expect(page.getByTestId('new-secret')).toHaveText(/^whsec_[A-Za-z0-9+/=]{32}$/);
    await expect(page.getByTestId('webhook')).toContainText(`127.0.0.1:${port}/crm`);

    const registered = await request.post(`${server.url}/api/webinar/register`, {
      data: { name: 'Hook Test', email: 'hook@example.com' },
    });
    expect(registered.status()).toBe(201);
    await expect.poll(() => arrivals.length).toBe(1);
    expect(arrivals[0]['webhook-id']).toMatch(/^msg_/);
    expect(arrivals[0]['webhook-signature']).toMatch(/^v1,/);

    await page.reload();
    await page.waitForLoadState('networkidle');
    const row = page.getByTestId('deliveries').locator('tbody tr').first();
    await expect(row).toContainText('registration.created');
    await expect(row).toContainText('delivered');
    await expect(row).toContainText('thanks');
    await row.getByRole('button', { name: 'Redeliver' }).click();
    await expect(page.getByTestId('webhook-outcome')).toContainText('Queued again');
    await expect.poll(() => arrivals.length).toBe(2);
    expect(arrivals[1]['webhook-id']).toBe(arrivals[0]['webhook-id']);
  } finally {
    await server.stop();
    endpoint.close();
  }
});

test('marketing repeats a webinar on two weekdays, then cancels and deletes a session', async ({ page }) => {
  const server = await OwnServer.start();
  try {
    await logInAsMarketing(page, server);
    await page.getByTestId('webinars').locator('tbody tr').first().getByRole('link').first().click();
    await expect(page).toHaveURL(/\/admin\/webinars\/[^/]+$/);
    await page.waitForLoadState('networkidle');
    const sessions = page.getByTestId('sessions');
    const rows = sessions.locator('tbody tr');
    await expect(rows).toHaveCount(1);

    const add = sessions.locator('form.session-add');
    await add.getByLabel("Start (the webinar's time zone)").fill('2031-03-24T17:00');
    await add.getByLabel('Repeat').selectOption('week');
    await add.getByLabel('Tue').check();
    await add.getByLabel('Thu').check();
    await add.getByLabel('Sessions in all').fill('4');
    await add.getByRole('button', { name: 'Add sessions' }).click();
    await expect(sessions.getByTestId('session-added')).toHaveText('Added 4 session(s).');
    await expect(rows).toHaveCount(5);
    // Tuesdays and Thursdays of two weeks, at 17:00 in the webinar's zone across the change to summer time.
    await expect(rows.nth(1)).toContainText('Tue 25 Mar 2031, 17:00');
    await expect(rows.nth(2)).toContainText('Thu 27 Mar 2031, 17:00');
    await expect(rows.nth(3)).toContainText('Tue 1 Apr 2031, 17:00');
    await expect(rows.nth(4)).toContainText('Thu 3 Apr 2031, 17:00');

    await rows.nth(2).getByRole('button', { name: 'Cancel session' }).click();
    await expect(rows.nth(2)).toContainText('(cancelled)');
    await rows.nth(4).getByRole('button', { name: 'Delete' }).click();
    await expect(rows).toHaveCount(4);
    await expect(sessions).not.toContainText('Thu 3 Apr 2031');
  } finally {
    await server.stop();
  }
});
