import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRole, type RunningRole } from '../../src/runtime/roles.js';
import { createTestEnv, waitFor, type TestEnv } from '../support/env.js';
import { startFakeHelpdesk, type FakeHelpdesk } from '../support/fake-helpdesk.js';
import { signedHeaders, ticketBody, type TicketInput } from '../support/webhook.js';

// A real browser (Debian's Chromium) against a real streamdesk on loopback: every role in-process,
// the console served by the ingest role, a fake helpdesk behind the write-back.
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const screenshots = join(process.cwd(), 'test-results', 'console');
const adminToken = 'test-admin-token-0123456789';

let t: TestEnv;
let running: RunningRole;
let helpdesk: FakeHelpdesk;
let helpdeskRejects = false;
let secret: string;
let base: string;
let context: BrowserContext;
let page: Page;
let userDataDir: string;

beforeAll(async () => {
  mkdirSync(screenshots, { recursive: true });
  helpdesk = await startFakeHelpdesk(() =>
    helpdeskRejects ? { status: 400, body: { response_status: { status_code: 4000, status: 'failed' } } } : undefined,
  );
  t = await createTestEnv({ RETRY_BASE_MS: '10', RETRY_MAX_MS: '50', JAEGER_UI_URL: 'http://jaeger.test:16686' });
  secret = (
    await t.services.registry.create({
      id: 'acme',
      writeback: { type: 'servicedesk-plus', baseUrl: helpdesk.url, authToken: 'sdp-token' },
    })
  ).secret;
  running = await startRole('all', t.services, { runnerOverrides: { blockMs: 50, tenantRefreshMs: 50 } });
  base = `http://127.0.0.1:${(running.app.server.address() as { port: number }).port}`;
  userDataDir = mkdtempSync(join(tmpdir(), 'streamdesk-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: chromiumPath,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
    viewport: { width: 1366, height: 900 },
    timezoneId: 'Europe/Paris',
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(15_000);
});

afterAll(async () => {
  await context?.close();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  await running?.stop();
  await t?.cleanup();
  await helpdesk?.close();
});

async function send(ticket: TicketInput): Promise<void> {
  const body = ticketBody(ticket);
  const response = await running.app.inject({
    method: 'POST',
    url: '/v1/webhooks/acme/tickets',
    payload: body,
    headers: signedHeaders(secret, body),
  });
  expect(response.statusCode).toBe(202);
}

/** The console signed in and on its overview, whichever test ran before. */
async function signedIn(): Promise<void> {
  await page.goto(`${base}/console`);
  const overview = page.getByRole('heading', { name: 'Overview', level: 1 });
  const token = page.getByLabel('Admin token');
  await overview.or(token).waitFor();
  if (await token.isVisible()) {
    await token.fill(adminToken);
    await page.keyboard.press('Enter');
  }
  await overview.waitFor();
}

const shot = (name: string) => page.screenshot({ path: join(screenshots, `${name}.png`), fullPage: true });

describe('the console in a browser', () => {
  it('shows only the sign-in page until the admin token is given', async () => {
    await context.clearCookies();
    await page.goto(`${base}/console`);
    await page.getByLabel('Admin token').fill('wrong-token-wrong-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'not the admin token' }).waitFor();
    expect(await page.getByRole('navigation', { name: 'Sections' }).count()).toBe(0);
    await shot('01-sign-in-refused');
    await page.getByLabel('Admin token').fill(adminToken);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
    const cookie = (await context.cookies()).find((c) => c.name === 'streamdesk_session');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
  });

  it('shows the numbers move after webhooks arrive', async () => {
    await signedIn();
    const streamLength = page.getByTestId('stream-length-acme');
    await streamLength.waitFor();
    const before = Number((await streamLength.textContent())?.replace(/\D/g, '') || 0);
    await send({ id: 'W-1', subject: 'Printer on floor 2 jammed', description: 'Paper jam in tray 2 of prn-2f.' });
    await send({ id: 'W-2', subject: 'VPN drops every hour', description: 'AnyConnect disconnects from the gateway.' });
    await waitFor(async () => Number((await streamLength.textContent())?.replace(/\D/g, '')) >= before + 8, {
      message: 'the stream length on the page grows by two tickets of four events',
    });
    await page.getByRole('rowheader', { name: 'writeback' }).first().waitFor();
    await page.getByRole('img', { name: /^Throughput/ }).waitFor();
    await shot('02-overview');
  });

  it('finds a ticket by its words and opens its history', async () => {
    await send({ id: 'W-5', subject: 'Printer on floor 5 jammed', description: 'Paper jam in tray 1 of prn-5f.' });
    await signedIn();
    await page.getByRole('link', { name: 'Tickets' }).click();
    await page.getByRole('heading', { name: 'Tickets', level: 1 }).waitFor();
    // By keyboard alone: type, Enter to search, focus the result's link, Enter to open it.
    await page.getByLabel('Text or ticket id').fill('printer');
    // The ticket may still be on its way to Postgres on a busy machine: search again until it is listed.
    await waitFor(
      async () => {
        await page.getByLabel('Text or ticket id').press('Enter');
        await page.getByRole('status').filter({ hasText: 'matching “printer”' }).waitFor();
        return (await page.getByRole('link', { name: 'W-5' }).count()) > 0;
      },
      { intervalMs: 300, message: 'W-5 listed by the search' },
    );
    await page.getByRole('link', { name: 'W-5' }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Ticket W-5' }).waitFor();
    await waitFor(
      async () => {
        if ((await page.getByTestId('event-history').locator('li').count()) === 4) return true;
        await page.getByRole('button', { name: 'Refresh' }).click();
        return false;
      },
      { intervalMs: 300, message: 'four archived events shown' },
    );
    expect(await page.getByTestId('ticket-status').textContent()).toBe('Written back');
    expect(await page.getByTestId('event-history').textContent()).toContain('ticket.written_back');
    expect(await page.getByRole('link', { name: 'Trace in Jaeger' }).getAttribute('href')).toMatch(
      /^http:\/\/jaeger\.test:16686\/trace\/[0-9a-f]{32}$/,
    );
    await shot('03-ticket-history');
  });

  it('re-drives a dead letter after the cause is fixed, and the ticket completes', async () => {
    helpdeskRejects = true;
    await send({ id: 'W-3', subject: 'Mailbox full', description: 'Outlook says the mailbox is full.' });
    const { rows } = await waitFor(
      async () => {
        const result = await t.services.db.query<{ status: string }>(
          "SELECT status FROM tickets WHERE tenant_id = 'acme' AND ticket_id = 'W-3'",
        );
        return result.rows[0]?.status === 'failed' ? result : undefined;
      },
      { message: 'W-3 failed at write-back' },
    );
    expect(rows).toHaveLength(1);
    helpdeskRejects = false;

    await signedIn();
    await page.getByRole('link', { name: 'Dead letters' }).click();
    const row = page.getByRole('row').filter({ hasText: 'W-3' });
    await row.getByText('WRITEBACK_REJECTED').waitFor();
    await row.getByRole('button', { name: 'Envelope' }).click();
    await page.getByLabel(/^Envelope of /).waitFor();
    await shot('04-dead-letter');
    await row.getByRole('button', { name: 'Re-drive' }).click();
    const dialog = page.getByRole('dialog', { name: 'Re-drive dead letters?' });
    await dialog.getByRole('button', { name: 'Re-drive' }).click();
    await page.getByRole('status').filter({ hasText: 'Re-drove 1 dead letter' }).waitFor();
    await page.getByText('No dead letters for acme').waitFor();
    await page.getByRole('status').getByRole('link', { name: 'W-3' }).click();
    await page.getByRole('heading', { name: 'Ticket W-3' }).waitFor();
    await waitFor(
      async () => {
        if ((await page.getByTestId('ticket-status').textContent()) === 'Written back') return true;
        await page.getByRole('button', { name: 'Refresh' }).click();
        return false;
      },
      { intervalMs: 300, message: 'the re-driven ticket is written back' },
    );
    await shot('05-redriven-ticket');
  });

  it("imports an asset file, and a new ticket's context uses it", async () => {
    await signedIn();
    await page.getByRole('link', { name: 'Context data' }).click();
    await page.getByLabel('CSV or JSON file').setInputFiles(join(process.cwd(), 'test', 'fixtures', 'lab-assets.csv'));
    await page.getByRole('button', { name: 'Import' }).click();
    await page.getByRole('status').filter({ hasText: '1 added' }).waitFor();
    await page.getByTestId('assets-table').getByText('lab-gw01').waitFor();
    await shot('06-assets-imported');

    await send({
      id: 'W-4',
      subject: 'Lab gateway unreachable',
      description: 'Cannot reach 10.77.3.9 from the lab since this morning.',
    });
    await page.goto(`${base}/console#/tickets/acme/W-4`);
    await waitFor(
      async () => {
        const contextShown = page.getByTestId('ticket-context');
        if ((await contextShown.count()) > 0 && (await contextShown.textContent())?.includes('lab-gw01')) return true;
        await page.getByRole('button', { name: 'Refresh' }).click();
        return false;
      },
      { intervalMs: 300, message: 'the context of W-4 names the imported asset' },
    );
    await shot('07-context-uses-asset');
  });
});
