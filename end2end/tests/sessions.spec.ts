import { expect, test, type Page } from '@playwright/test';
import { OwnServer } from './server';

function uniqueEmail(prefix: string): string {
  return `${prefix}.${Date.now()}.${Math.floor(Math.random() * 1e6)}@example.com`;
}

async function register(page: Page, session: number, name: string): Promise<void> {
  await page.locator(`#session-${session}`).check();
  await page.getByLabel('Name', { exact: true }).fill(name);
  await page.getByLabel('Work email').fill(uniqueEmail(name.split(' ')[0].toLowerCase()));
  await page.getByRole('button', { name: 'Register' }).click();
  await expect(page.getByTestId('success')).toContainText(`You're registered, ${name}!`);
}

test("a visitor picks the second session, only its count moves on another page, and it fills there", async ({
  browser,
  request,
}) => {
  const server = await OwnServer.start();
  try {
    // The demo webinar gets a second session, a month out with two seats, through the admin API.
    const headers = { Authorization: `Bearer ${server.createToken('e2e', 'write')}` };
    const [demo] = (await (await request.get(`${server.url}/api/v1/webinars`, { headers })).json()).data;
    const first: number = demo.sessions[0].id;
    const startsAt = new Date(Date.now() + 30 * 24 * 3600 * 1000).toISOString();
    const made = await request.post(`${server.url}/api/v1/webinars/${demo.slug}/sessions`, {
      headers,
      data: { starts_at: startsAt, capacity: 2 },
    });
    expect(made.status()).toBe(201);
    const second: number = (await made.json()).data[0].id;
    const path = `${server.url}/webinars/${demo.slug}`;

    const watcherContext = await browser.newContext();
    const watcher = await watcherContext.newPage();
    await watcher.goto(path);
    await expect(watcher.locator('article.landing')).toHaveAttribute('data-hydrated', 'true');
    await expect(watcher.locator(`#session-${first}`)).toBeChecked();
    const firstCount = watcher.getByTestId(`session-${first}-count`);
    const secondCount = watcher.getByTestId(`session-${second}-count`);
    const firstBefore = await firstCount.textContent();
    await expect(secondCount).toHaveText('0 registered');

    const registrantContext = await browser.newContext();
    const registrant = await registrantContext.newPage();
    await registrant.goto(path);
    await expect(registrant.locator('article.landing')).toHaveAttribute('data-hydrated', 'true');
    await register(registrant, second, 'Grace Hopper');
    await expect(secondCount).toHaveText('1 registered');
    await expect(firstCount).toHaveText(firstBefore ?? '');

    // The same with JavaScript off: the radio buttons are a plain form.
    const noScriptContext = await browser.newContext({ javaScriptEnabled: false });
    const noScript = await noScriptContext.newPage();
    await noScript.goto(path);
    await register(noScript, second, 'Katherine Johnson');
    await expect(noScript).toHaveURL(/registered=/);
    // Its second seat taken, the open page shows it full without a reload.
    await expect(secondCount).toHaveText('full');
    await expect(firstCount).toHaveText(firstBefore ?? '');

    const sessions = (await (await request.get(`${server.url}/api/v1/webinars/${demo.slug}/sessions`, { headers })).json()).data;
    expect(sessions.find((session: { id: number }) => session.id === second).registrations).toBe(2);
    await Promise.all([watcherContext.close(), registrantContext.close(), noScriptContext.close()]);
  } finally {
    await server.stop();
  }
});
