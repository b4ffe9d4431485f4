/**
 * The detail panel's lifecycle part in real headless Chromium: a machine's labels, an edit and a
 * delete behind the confirm dialog, round-tripped through the API into the store.
 * Skips, saying why, when /usr/bin/chromium (or $RACKBOOT_CHROMIUM) or playwright-core is missing.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { BrowserContext, Page } from 'playwright-core';
import { buildApp } from '../../server/http/app.js';
import { silentLogger } from '../../server/log.js';
import { ApiTokenStore } from '../../server/store/api-token-store.js';
import { OverviewStore } from '../../server/store/overview-store.js';
import { testProvisioner } from '../helpers/provisioner.js';

const CHROMIUM = process.env.RACKBOOT_CHROMIUM ?? '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

async function prerequisites(): Promise<string | null> {
  if (!existsSync(CHROMIUM)) return `no Chromium at ${CHROMIUM} (apt-get install chromium, or set RACKBOOT_CHROMIUM)`;
  try {
    await import('playwright-core');
  } catch {
    return 'playwright-core is not installed (npm install)';
  }
  return null;
}

const skipReason = await prerequisites();

async function until<T>(what: string, probe: () => T | Promise<T>, timeoutMs = 10_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('dashboard: labels, edit and delete in the detail panel', { skip: skipReason ?? false }, () => {
  let dir: string;
  let t: ReturnType<typeof testProvisioner>;
  let app: FastifyInstance;
  let context: BrowserContext;
  let page: Page;
  const problems: string[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rb-dash-lifecycle-'));
    t = testProvisioner();
    t.clock.now = () => Date.now();
    const token = new ApiTokenStore(t.db).rotate(Date.now(), 'dashboard-test');
    t.provisioner.registerMachine({ name: 'blade-01', macs: ['52:54:00:dd:00:01'], ip: '10.99.0.11', role: null, labels: { rack: 'r12', zone: 'a' } });
    t.provisioner.registerMachine({ name: 'blade-02', macs: ['52:54:00:dd:00:02'], ip: '10.99.0.12', role: null });
    app = await buildApp({
      provisioner: t.provisioner,
      assetsDir: dir,
      firmwareDir: dir,
      logger: silentLogger(),
      operator: { overview: new OverviewStore(t.db), tokens: new ApiTokenStore(t.db), defaultMetrics: false, pollMs: 100 },
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const { chromium } = await import('playwright-core');
    context = await chromium.launchPersistentContext(join(dir, 'profile'), { executablePath: CHROMIUM, headless: true, args: FLAGS, viewport: { width: 1440, height: 900 }, timeout: 30_000 });
    page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(10_000);
    page.on('pageerror', (error) => problems.push(error.message));
    await page.goto(`${base}/`);
    await page.evaluate((value) => (globalThis as unknown as { localStorage: { setItem(k: string, v: string): void } }).localStorage.setItem('rackboot.apiToken', value), token);
    await page.reload();
  });

  after(async () => {
    await context?.close().catch(() => {});
    await app?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('the labels are shown; an edit asks, then saves through the API', async () => {
    await page.click('#machines tbody tr[data-name="blade-01"]');
    await page.waitForSelector('#detail .label-chip');
    const chips = await page.$$eval('#detail .label-chip', (els) => els.map((el) => (el as unknown as { textContent: string }).textContent));
    assert.deepEqual(chips, ['rack=r12', 'zone=a']);

    await page.click('#detail details.lifecycle summary');
    await page.fill('#detail .lifecycle-form input[name="ip"]', '10.99.0.21');
    await page.fill('#detail .lifecycle-form input[name="labels"]', 'rack=r14');
    await page.click('#detail [data-action="edit"]');
    await page.waitForSelector('#confirm-dialog[open]');
    assert.match((await page.textContent('#confirm-message')) ?? '', /Change blade-01: ip → 10\.99\.0\.21, labels → rack=r14\?/);
    await page.click('#confirm-ok');
    await until('the edit in the store', () => t.provisioner.machineByRef('blade-01')?.ip === '10.99.0.21');
    assert.deepEqual(t.provisioner.machineByRef('blade-01')?.labels, { rack: 'r14' });
    await until('the new labels in the panel', async () => ((await page.textContent('#detail .detail-labels')) ?? '').includes('rack=r14'));
  });

  test('delete: cancel keeps the machine, confirm removes it from the store and the table', async () => {
    await page.click('#detail details.lifecycle summary').catch(() => {});
    if (!(await page.isVisible('#detail [data-action="delete"]'))) await page.click('#detail details.lifecycle summary');
    await page.click('#detail [data-action="delete"]');
    await page.waitForSelector('#confirm-dialog[open]');
    await page.click('#confirm-cancel');
    assert.ok(t.provisioner.machineByRef('blade-01'), 'cancel changes nothing');
    await page.click('#detail [data-action="delete"]');
    await page.waitForSelector('#confirm-dialog[open]');
    assert.match((await page.textContent('#confirm-message')) ?? '', /Delete blade-01 \(52:54:00:dd:00:01 → 10\.99\.0\.21\)/);
    await page.click('#confirm-ok');
    await until('the delete in the store', () => t.provisioner.machineByRef('blade-01') === null);
    await page.waitForSelector('#machines tbody tr[data-name="blade-01"]', { state: 'detached' });
    assert.equal(await page.isVisible('#detail'), false);
    assert.deepEqual(problems, []);
  });
});
