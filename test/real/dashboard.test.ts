/**
 * The dashboard in real headless Chromium (Debian's `chromium`, driven by playwright-core; no
 * browser is downloaded): rackboot's app on 127.0.0.1 with a temporary store, a few machines and
 * events. Checks the table and the counts, a live update without reload, an action round trip
 * (assign a role, adopt a discovered MAC) and keeps screenshots in test-artifacts/.
 * Skips, saying why, when /usr/bin/chromium (or $RACKBOOT_CHROMIUM) or playwright-core is missing.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { BrowserContext, Page } from 'playwright-core';
import { Catalog } from '../../server/catalog/catalog.js';
import { Provisioner } from '../../server/core/provisioner.js';
import type { PowerDriver } from '../../server/bmc/power-driver.js';
import type { Machine } from '../../server/core/types.js';
import { buildApp } from '../../server/http/app.js';
import { silentLogger } from '../../server/log.js';
import { catalogDirs } from '../../server/paths.js';
import { ApiTokenStore } from '../../server/store/api-token-store.js';
import { BmcStore } from '../../server/store/bmc-store.js';
import { openDatabase, type Db } from '../../server/store/db.js';
import { OverviewStore } from '../../server/store/overview-store.js';
import { SqliteStore } from '../../server/store/sqlite-store.js';
import { TEST_SETTINGS } from '../helpers/provisioner.js';

const CHROMIUM = process.env.RACKBOOT_CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACTS = join(import.meta.dirname, '..', '..', 'test-artifacts');
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** The few DOM shapes the page callbacks use (the project compiles without the DOM lib; types are erased). */
interface El {
  readonly dataset: Record<string, string | undefined>;
  readonly innerText: string;
  readonly textContent: string | null;
}
interface PageGlobals {
  readonly document: { querySelector(selector: string): El | null; querySelectorAll(selector: string): Iterable<El> };
  notReloaded?: boolean;
  rowsBefore?: Set<El>;
}

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

let dir: string;
let db: Db;
let store: SqliteStore;
let provisioner: Provisioner;
let app: FastifyInstance;
let base: string;
let token: string;
let context: BrowserContext;
let page: Page;

const byName = (name: string) => store.machineByName(name) as Machine;

async function until<T>(what: string, probe: () => T | Promise<T>, timeoutMs = 5000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Two discovered BMCs: one is rack1-node01's (unchanged in the plan), one is a new blade (added). */
function seedBmcs(database: Db): BmcStore {
  const bmcs = new BmcStore(database);
  const observe = (address: string, mac: string) =>
    bmcs.recordObservation(
      { address, port: 623, username: 'admin', guid: null, bmcMac: null, bmcIp: address, lanChannel: 1, manufacturerId: 674, productId: 1, firmware: '1.0', ipmiVersion: '2.0', session: 'rmcp+ suite 17', hostMacs: [{ mac, source: 'fru', label: 'MAC0' }] },
      Date.now(),
    );
  observe('10.1.0.11', '52:54:00:10:00:01');
  observe('10.1.0.21', '52:54:00:10:00:21');
  return bmcs;
}

function seed(): void {
  const at = (machine: Machine, type: Parameters<Provisioner['record']>[1], message: string) => provisioner.record(machine, type, message);
  const walk = (machine: Machine, upTo: number) => {
    const steps: Array<[Parameters<Provisioner['record']>[1], string]> = [
      ['dhcp', `DHCPACK ${machine.ip} to PXE firmware (BIOS), boot file undionly.kpxe`],
      ['firmware-loaded', 'TFTP undionly.kpxe: 70912 bytes in 312 ms'],
      ['ipxe', 'iPXE script served: flatcar (install)'],
      ['booting', 'kernel fetched (flatcar/flatcar_production_pxe.vmlinuz)'],
      ['configured', 'cloud-config production-worker served'],
      ['installing', 'flatcar-install started on /dev/sda'],
      ['progress', 'step 2/7: partitioning /dev/sda'],
      ['progress', 'step 3/7: writing the Flatcar image (1.2 GiB)'],
      ['installed', 'installed to /dev/sda in 6 min 12 s'],
      ['ready', 'first boot from disk: up, etcd healthy'],
    ];
    for (const [type, message] of steps.slice(0, upTo)) at(machine, type, message);
  };
  const add = (name: string, mac: string, ip: string, role: string | null, bmc: string | null = null) =>
    provisioner.registerMachine({ name, macs: [mac], ip, role, bootMode: 'install', bmcAddress: bmc });
  walk(add('rack1-node01', '52:54:00:10:00:01', '10.99.0.11', 'production-central', '10.1.0.11'), 10);
  walk(add('rack1-node02', '52:54:00:10:00:02', '10.99.0.12', 'production-worker', '10.1.0.12'), 8);
  const failed = add('rack1-node03', '52:54:00:10:00:03', '10.99.0.13', 'production-worker', '10.1.0.13');
  walk(failed, 6);
  at(failed, 'failed', 'flatcar-install: /dev/sda not found (no disk attached?)');
  const stuck = add('rack1-node04', '52:54:00:10:00:04', '10.99.0.14', 'small');
  walk(stuck, 3);
  at(stuck, 'stuck', 'no kernel download 5 min after the iPXE script: check the HTTP path from the machine');
  add('rack1-node05', '52:54:00:10:00:05', '10.99.0.15', null);
  const facts = { firmware: 'bios', arch: 0, archName: 'x86 BIOS', uuid: '4c4c4544-0042-3510-8051-b4c04f4e3232', ipxe: false };
  store.noteDiscovered('52:54:00:99:00:07', facts, Date.now());
  provisioner.record(null, 'discovered', 'DHCP from unknown MAC 52:54:00:99:00:07 (bios, arch x86 BIOS)', facts, '52:54:00:99:00:07');
}

async function screenshot(name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, name);
  await page.screenshot({ path, fullPage: false });
  return path;
}

describe('dashboard in headless Chromium', { skip: skipReason ?? false }, () => {
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rb-dash-'));
    const loaded = Catalog.load(catalogDirs());
    if (!loaded.ok) throw new Error(loaded.errors.join('\n'));
    db = openDatabase(join(dir, 'rackboot.db'));
    let n = 0;
    store = new SqliteStore(db);
    provisioner = new Provisioner({
      store,
      renderer: loaded.catalog,
      settings: TEST_SETTINGS,
      clock: { now: () => Date.now() },
      newToken: () => `tok${++n}`,
    });
    token = new ApiTokenStore(db).rotate(Date.now());
    seed();
    app = await buildApp({
      provisioner,
      assetsDir: dir,
      firmwareDir: dir,
      logger: silentLogger(),
      operator: { overview: new OverviewStore(db), tokens: new ApiTokenStore(db), defaultMetrics: false, pollMs: 100 },
      ipmi: { bmcs: seedBmcs(db), inventory: provisioner, rule: { kind: 'bmc-offset', hostSubnet: '10.99.0.0/24', bmcSubnet: '10.1.0.0/24', offset: 0 } },
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;

    const { chromium } = await import('playwright-core');
    context = await chromium.launchPersistentContext(join(dir, 'chromium-profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_FLAGS,
      viewport: { width: 1440, height: 900 },
      timeout: 30_000,
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(10_000);
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    await page.goto(`${base}/`);
    (globalThis as { pageProblems?: string[] }).pageProblems = problems;
  });

  after(async () => {
    await context?.close().catch(() => {});
    await app?.close();
    db?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('the table has the right rows, states, counts and problems', async () => {
    await page.waitForSelector('#machines tbody tr[data-name="rack1-node05"]');
    const rows = await page.$$eval('#machines tbody tr', (trs) => trs.map((tr) => [(tr as unknown as El).dataset.name, (tr as unknown as El).dataset.state]));
    assert.deepEqual(rows, [
      ['rack1-node01', 'ready'],
      ['rack1-node02', 'installing'],
      ['rack1-node03', 'failed'],
      ['rack1-node04', 'stuck'],
      ['rack1-node05', 'registered'],
    ]);
    const chips = await page.$$eval('#counts .chip', (els) => els.map((el) => (el as unknown as El).innerText.replace(/\s+/g, ' ').trim()));
    for (const chip of ['5 machines', '1 failed', '1 stuck', '1 installing', '1 ready', '1 registered']) assert.ok(chips.includes(chip), `${chip} in ${chips.join(' | ')}`);
    const failedRow = page.locator('tr[data-name="rack1-node03"]');
    assert.match((await failedRow.getAttribute('class')) ?? '', /row-failed/);
    assert.match(await failedRow.locator('.reason').innerText(), /\/dev\/sda not found/);
    assert.match(await page.locator('tr[data-name="rack1-node04"] .reason').innerText(), /no kernel download 5 min/);
    assert.equal(await page.locator('tr[data-name="rack1-node02"] .progress span').innerText(), 'step 3/7');
    assert.match(await page.locator('tr[data-name="rack1-node01"] td.last').innerText(), /ready/);
    // the IPMI discovery plan with its diff: the new blade would be added at its ordered address
    await page.waitForSelector('#plan tbody tr.plan-add');
    const plan = await page.$$eval('#plan tbody tr', (trs) => trs.map((tr) => (tr as unknown as El).innerText.replace(/\s+/g, ' ').trim()));
    assert.deepEqual(plan, [
      'update 10.1.0.11 rack1-node01 10.99.0.11 link to its BMC',
      'add 10.1.0.21 node-10-99-0-21 10.99.0.21 MACs 52:54:00:10:00:21',
    ]);
    assert.equal(await page.locator('#plan-summary').textContent(), '1 add, 1 update');
    assert.equal(await page.locator('#plan-apply').isDisabled(), false);
    assert.equal(await page.locator('#discovered tbody tr[data-mac="52:54:00:99:00:07"]').count(), 1);
    await until('the live indicator', async () => (await page.locator('#live').getAttribute('data-state')) === 'live');
    await screenshot('dashboard-overview.png');
  });

  test('live: a callback changes the row and the open timeline without a reload', async () => {
    await page.evaluate(() => ((globalThis as unknown as PageGlobals).notReloaded = true));
    await page.click('tr[data-name="rack1-node02"]');
    await page.waitForSelector('#detail .timeline li[data-type="progress"]');
    const node02 = byName('rack1-node02');
    store.setBootToken(node02.id, 'live-token');
    // callbacks come from the machine's own address (boot tokens are bound to it)
    const callback = (payload: object) => app.inject({ method: 'POST', url: '/callback/live-token', remoteAddress: node02.ip ?? '', payload });
    const progress = await callback({ event: 'progress', message: 'step 6/7: installing the bootloader' });
    assert.equal(progress.statusCode, 200, progress.body);
    await page.waitForFunction(() => (globalThis as unknown as PageGlobals).document.querySelector('tr[data-name="rack1-node02"] .progress span')?.textContent === 'step 6/7');
    await page.waitForFunction(() => [...(globalThis as unknown as PageGlobals).document.querySelectorAll('#detail .timeline li .msg')].some((el) => el.textContent?.includes('installing the bootloader')));
    const installed = await callback({ event: 'installed', message: 'installed to /dev/sda' });
    assert.equal(installed.statusCode, 200, installed.body);
    await page.waitForSelector('tr[data-name="rack1-node02"][data-state="installed"]');
    // and an event appended directly through the provisioner
    provisioner.record(byName('rack1-node05'), 'dhcp', 'DHCPACK 10.99.0.15 to PXE firmware (UEFI x64)');
    await page.waitForSelector('tr[data-name="rack1-node05"][data-state="dhcp"]');
    const counts = await page.$$eval('#counts .chip', (els) => els.map((el) => (el as unknown as El).innerText.replace(/\s+/g, ' ').trim()));
    assert.ok(counts.includes('1 installed') && counts.includes('1 dhcp') && !counts.includes('1 installing'), counts.join(' | '));
    assert.equal(await page.evaluate(() => (globalThis as unknown as PageGlobals).notReloaded), true, 'the page was not reloaded');
    await screenshot('dashboard-timeline.png');
  });

  test('actions: assign a role through the UI, then it is in the store; power is disabled without a driver', async () => {
    await page.click('#token-button');
    await page.fill('#token-input', token);
    await page.click('#token-form button[type="submit"]');
    await page.click('tr[data-name="rack1-node05"]');
    const power = page.locator('#detail button[data-action="power-on"]');
    assert.equal(await power.isDisabled(), true);
    assert.match((await power.getAttribute('title')) ?? '', /no power driver/);
    await page.selectOption('#detail select[name="role"]', 'small');
    await page.selectOption('#detail select[name="bootMode"]', 'memory');
    await page.click('#detail button[data-action="assign"]');
    const stored = await until('the role in the store', () => {
      const m = byName('rack1-node05');
      return m.role === 'small' ? m : null;
    });
    assert.equal(stored.bootMode, 'memory');
    await page.waitForFunction(() => [...(globalThis as unknown as PageGlobals).document.querySelectorAll('#detail .timeline li')].some((li) => li.dataset.type === 'role-assigned'));
    await page.waitForFunction(() => (globalThis as unknown as PageGlobals).document.querySelector('tr[data-name="rack1-node05"] td.col-role')?.textContent?.startsWith('small'));
  });

  test('adopt a discovered MAC with a name, IP and role', async () => {
    await page.click('#discovered tr[data-mac="52:54:00:99:00:07"] button');
    await page.fill('#adopt-form input[name="name"]', 'rack1-node07');
    await page.fill('#adopt-form input[name="ip"]', '10.99.0.17');
    await page.selectOption('#adopt-form select[name="role"]', 'production-worker');
    await page.click('#adopt-form button[type="submit"]');
    const adopted = await until('the adopted machine', () => store.machineByName('rack1-node07'));
    assert.deepEqual(adopted.macs, ['52:54:00:99:00:07']);
    assert.equal(adopted.ip, '10.99.0.17');
    assert.equal(adopted.role, 'production-worker');
    assert.equal(adopted.uuid, '4c4c4544-0042-3510-8051-b4c04f4e3232', 'the UUID DHCP reported comes along');
    await page.waitForSelector('tr[data-name="rack1-node07"]');
    await page.waitForSelector('#discovered tr[data-mac="52:54:00:99:00:07"]', { state: 'detached' });
    assert.deepEqual((globalThis as { pageProblems?: string[] }).pageProblems, [], 'no errors in the page');
  });
  const shownRows = () => page.$$eval('#machines tbody tr', (trs) => trs.map((tr) => (tr as unknown as El).dataset.name));

  test('search: a dash-form MAC finds its machine, and every word of a two-word query must match', async () => {
    await page.fill('#search', '52-54-00-10-00-03');
    await page.waitForFunction(() => [...(globalThis as unknown as PageGlobals).document.querySelectorAll('#machines tbody tr')].length === 1);
    assert.deepEqual(await shownRows(), ['rack1-node03']);
    await page.fill('#search', 'rack1 failed');
    await page.waitForFunction(() => [...(globalThis as unknown as PageGlobals).document.querySelectorAll('#machines tbody tr')].length === 1);
    assert.deepEqual(await shownRows(), ['rack1-node03']);
    await page.fill('#search', 'worker rack1');
    await page.waitForFunction(() => [...(globalThis as unknown as PageGlobals).document.querySelectorAll('#machines tbody tr')].length === 3);
    assert.deepEqual(await shownRows(), ['rack1-node02', 'rack1-node03', 'rack1-node07']);
    await page.fill('#search', '');
    await page.waitForSelector('tr[data-name="rack1-node01"]');
  });

  test('a machine clicked far down the list opens its panel inside the viewport', async () => {
    for (let i = 1; i <= 60; i++) provisioner.registerMachine({ name: `bulk-${String(i).padStart(3, '0')}`, macs: [`52:54:00:20:00:${i.toString(16).padStart(2, '0')}`], ip: null, role: null });
    await page.waitForSelector('tr[data-name="bulk-060"]');
    if (await page.locator('#detail').isVisible()) await page.keyboard.press('Escape');
    await page.waitForSelector('#detail', { state: 'hidden' });
    // the 60 new machines arrive over the event stream in several batches: a batch may re-attach the row
    for (let attempt = 1; ; attempt++) {
      try {
        await page.locator('tr[data-name="rack1-node05"]').scrollIntoViewIfNeeded({ timeout: 2_000 });
        break;
      } catch (error) {
        if (attempt >= 5) throw error;
      }
    }
    const scrolled = await page.evaluate(() => (globalThis as unknown as { scrollY: number }).scrollY);
    assert.ok(scrolled > 500, 'the page is scrolled down');
    await page.click('tr[data-name="rack1-node05"]');
    await page.waitForSelector('#detail .detail-head h2');
    // on a wide screen the panel sticks beside the table: the list keeps its place
    assert.equal(await page.evaluate(() => (globalThis as unknown as { scrollY: number }).scrollY), scrolled);
    assert.equal(await page.locator('#detail .detail-head h2').innerText(), 'rack1-node05');
    const box = await page.locator('#detail').boundingBox();
    assert.ok(box && box.y >= 0 && box.y < 900 - 200, `the panel is on screen: ${JSON.stringify(box)}`);
    await screenshot('dashboard-1440-scrolled-detail.png');
    await page.keyboard.press('Escape');
    await page.waitForSelector('#detail', { state: 'hidden' });
  });

  test('500 machines: an update re-renders only the row of the machine that changed', async () => {
    for (let i = 61; i <= 494; i++) provisioner.registerMachine({ name: `bulk-${String(i).padStart(3, '0')}`, macs: [`52:54:00:20:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`], ip: null, role: null });
    await page.waitForFunction(() => [...(globalThis as unknown as PageGlobals).document.querySelectorAll('#machines tbody tr')].length === 500, undefined, { timeout: 20_000 });
    await page.waitForFunction(() => !(globalThis as unknown as PageGlobals).document.querySelector('#machines tbody tr.flash'), undefined, { timeout: 20_000 });
    await page.evaluate(() => {
      const g = globalThis as unknown as PageGlobals;
      g.rowsBefore = new Set(g.document.querySelectorAll('#machines tbody tr'));
    });
    provisioner.record(byName('bulk-250'), 'dhcp', 'DHCPACK to PXE firmware (BIOS)');
    await page.waitForSelector('tr[data-name="bulk-250"][data-state="dhcp"]');
    const kept = await page.evaluate(() => {
      const g = globalThis as unknown as PageGlobals;
      const rows = [...g.document.querySelectorAll('#machines tbody tr')];
      return { total: rows.length, same: rows.filter((tr) => g.rowsBefore?.has(tr)).length, changedIsNew: !rows.some((tr) => tr.dataset.name === 'bulk-250' && g.rowsBefore?.has(tr)) };
    });
    assert.deepEqual(kept, { total: 500, same: 499, changedIsNew: true });
  });

  test('at 420 px the state column is on screen, and a clicked machine brings its panel into view', async () => {
    await page.setViewportSize({ width: 420, height: 860 });
    try {
      await page.evaluate(() => (globalThis as unknown as { scrollTo(x: number, y: number): void }).scrollTo(0, 0));
      const cell = await page.locator('tr[data-name="bulk-001"] td.state').boundingBox();
      assert.ok(cell && cell.x >= 0 && cell.x + cell.width <= 420, `state cell inside 420 px: ${JSON.stringify(cell)}`);
      const header = await page.locator('#machines thead th', { hasText: 'State' }).boundingBox();
      assert.ok(header && header.x + header.width <= 420, `State header inside 420 px: ${JSON.stringify(header)}`);
      await screenshot('dashboard-420.png');
      await page.click('tr[data-name="bulk-003"]');
      await page.waitForSelector('#detail .detail-head h2');
      const box = await page.locator('#detail').boundingBox();
      assert.ok(box && box.y >= 0 && box.y < 860 - 200, `the panel is on screen: ${JSON.stringify(box)}`);
      await screenshot('dashboard-420-detail.png');
      await page.keyboard.press('Escape');
    } finally {
      await page.setViewportSize({ width: 1440, height: 900 });
    }
    await page.evaluate(() => (globalThis as unknown as { scrollTo(x: number, y: number): void }).scrollTo(0, 0));
    await screenshot('dashboard-1440.png');
  });

  test('power off, power cycle and reprovision ask first; cancel does nothing, confirm acts', async () => {
    const calls: string[] = [];
    const power: PowerDriver = {
      unavailableReason: () => null,
      power: async (machine, action) => {
        calls.push(`${machine.name} ${action}`);
        return { ok: true, message: `power ${action} sent` };
      },
    };
    const powered = await buildApp({
      provisioner,
      assetsDir: dir,
      firmwareDir: dir,
      logger: silentLogger(),
      operator: { overview: new OverviewStore(db), tokens: new ApiTokenStore(db), defaultMetrics: false, pollMs: 100, power },
    });
    await powered.listen({ host: '127.0.0.1', port: 0 });
    try {
      await page.goto(`http://127.0.0.1:${(powered.server.address() as AddressInfo).port}/`);
      await page.click('#token-button');
      await page.fill('#token-input', token);
      await page.click('#token-form button[type="submit"]');
      await page.click('tr[data-name="rack1-node01"]');
      const eventsBefore = provisioner.listEvents({ machineId: byName('rack1-node01').id }).length;
      for (const action of ['power-off', 'power-cycle', 'reprovision']) {
        await page.click(`#detail button[data-action="${action}"]`);
        await page.waitForSelector('#confirm-dialog[open]');
        assert.match(await page.locator('#confirm-message').innerText(), /rack1-node01/);
        if (action === 'power-off') await screenshot('dashboard-confirm.png');
        await page.click('#confirm-cancel');
        await page.waitForSelector('#confirm-dialog', { state: 'hidden' });
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.deepEqual(calls, [], 'cancel sent no power command');
      assert.equal(byName('rack1-node01').state, 'ready', 'cancel did not reprovision');
      assert.equal(provisioner.listEvents({ machineId: byName('rack1-node01').id }).length, eventsBefore);
      await page.click('#detail button[data-action="power-off"]');
      await page.click('#confirm-ok');
      await until('the power command', () => calls.length > 0);
      assert.deepEqual(calls, ['rack1-node01 off']);
    } finally {
      await powered.close();
    }
  });
});
