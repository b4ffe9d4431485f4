/**
 * The dashboard in real headless Chromium (Debian's `chromium`, driven by playwright-core; no
 * browser is downloaded): rackboot's app on 127.0.0.1 with a temporary store, a few machines and
 * events. Checks the table and the counts, a live update without reload, an action round trip
 * (assign a role, adopt a discovered MAC), then 5,000 machines: the virtualised list keeps a bounded
 * number of rows in the DOM, filters, search, keyboard use, the Discovered table's pages, and layout
 * facts at 1440 and 420 px. Screenshots are kept in test-artifacts/ for a human to look at.
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
  readonly id: string;
  readonly dataset: Record<string, string | undefined>;
  getAttribute(name: string): string | null;
  getBoundingClientRect(): { top: number; bottom: number; left: number; right: number; height: number };
  closest(selector: string): El | null;
  scrollTop: number;
  readonly scrollHeight: number;
  readonly clientHeight: number;
  readonly innerText: string;
  readonly textContent: string | null;
}
interface PageGlobals {
  readonly document: { querySelector(selector: string): El | null; querySelectorAll(selector: string): Iterable<El>; readonly activeElement: El | null; elementFromPoint(x: number, y: number): El | null };
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

/** ROWS: the machine rows the virtual list has in the DOM (the spacer rows above and below are not machines). */
const ROWS = '#machines tbody tr[data-id]';
type EventType = Parameters<Provisioner['record']>[1];
const at = (machine: Machine, type: EventType, message: string) => provisioner.record(machine, type, message);

/** A machine's events from its first DHCP packet up to step `upTo` of a Flatcar install. */
function walk(machine: Machine, upTo: number): void {
  const steps: Array<[EventType, string]> = [
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
}

function seed(): void {
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


/**
 * Waits for a selector's state by interval polling. Playwright's default (requestAnimationFrame)
 * polling missed the detail panel's rows on an idle page after the lifecycle panel landed, and
 * waited out its timeout with the element on screen.
 */
async function waitFor(page: Page, selector: string, state: 'visible' | 'hidden' | 'detached' = 'visible'): Promise<void> {
  await page.waitForFunction(
    ([sel, want]) => {
      const el = (globalThis as unknown as { document: { querySelector(s: string): { checkVisibility(): boolean } | null } }).document.querySelector(sel);
      if (want === 'detached') return el === null;
      const visible = el !== null && el.checkVisibility();
      return want === 'visible' ? visible : !visible;
    },
    [selector, state] as const,
    { polling: 100 },
  );
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
    page.on("pageerror", (error) => { problems.push(error.message); process.stderr.write(`PAGEERROR ${error.message}\n${error.stack}\n`); });
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
    await waitFor(page, '#machines tbody tr[data-name="rack1-node05"]');
    const rows = await page.$$eval(ROWS, (trs) => trs.map((tr) => [(tr as unknown as El).dataset.name, (tr as unknown as El).dataset.state]));
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
    await waitFor(page, '#plan tbody tr.plan-add');
    const plan = await page.$$eval('#plan tbody tr', (trs) => trs.map((tr) => (tr as unknown as El).innerText.replace(/\s+/g, ' ').trim()));
    assert.deepEqual(plan, [
      'update 10.1.0.11 rack1-node01 10.99.0.11 link to its BMC',
      'add 10.1.0.21 node-10-99-0-21 10.99.0.21 MACs 52:54:00:10:00:21',
    ]);
    assert.equal(await page.locator('#plan-summary').textContent(), '1 add, 1 update');
    // the BMC list names each BMC's protocol (IPMI here: an RMCP+ session)
    const bmcRows = await page.$$eval('#bmcs tbody tr', (trs) => trs.map((tr) => (tr as unknown as El).innerText.replace(/\s+/g, ' ').trim()));
    assert.equal(bmcRows.length, 2);
    for (const row of bmcRows) assert.match(row, / ipmi rmcp\+ suite 17 /);
    assert.equal(await page.locator('#plan-apply').isDisabled(), false);
    assert.equal(await page.locator('#discovered tbody tr[data-mac="52:54:00:99:00:07"]').count(), 1);
    await until('the live indicator', async () => (await page.locator('#live').getAttribute('data-state')) === 'live');
    await screenshot('dashboard-overview.png');
  });

  test('live: a callback changes the row and the open timeline without a reload', async () => {
    await page.evaluate(() => ((globalThis as unknown as PageGlobals).notReloaded = true));
    await page.click('tr[data-name="rack1-node02"]');
    // interval polling: a wait started in the same frame as the panel's first render missed the timeline's rows (rAF polling)
    await page.waitForFunction(() => (globalThis as unknown as PageGlobals).document.querySelector('#detail .timeline li[data-type="progress"]') !== null, undefined, { polling: 100 });
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
    await waitFor(page, 'tr[data-name="rack1-node02"][data-state="installed"]');
    // and an event appended directly through the provisioner
    provisioner.record(byName('rack1-node05'), 'dhcp', 'DHCPACK 10.99.0.15 to PXE firmware (UEFI x64)');
    await waitFor(page, 'tr[data-name="rack1-node05"][data-state="dhcp"]');
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
    // a refusal shows the API's message, whatever shape its error body has
    await page.fill('#adopt-form input[name="name"]', 'rack1-node01');
    await page.click('#adopt-form button[type="submit"]');
    await waitFor(page, '#adopt-error:not([hidden])');
    const refusal = await page.locator('#adopt-error').innerText();
    assert.match(refusal, /rack1-node01/);
    assert.doesNotMatch(refusal, /object Object|^\d{3} /);
    const problems = (globalThis as { pageProblems?: string[] }).pageProblems ?? [];
    const conflict = problems.findIndex((p) => p.includes('409 (Conflict)'));
    if (conflict !== -1) problems.splice(conflict, 1);
    await page.fill('#adopt-form input[name="name"]', 'rack1-node07');
    await page.fill('#adopt-form input[name="ip"]', '10.99.0.17');
    await page.selectOption('#adopt-form select[name="role"]', 'production-worker');
    await page.click('#adopt-form button[type="submit"]');
    const adopted = await until('the adopted machine', () => store.machineByName('rack1-node07'));
    assert.deepEqual(adopted.macs, ['52:54:00:99:00:07']);
    assert.equal(adopted.ip, '10.99.0.17');
    assert.equal(adopted.role, 'production-worker');
    assert.equal(adopted.uuid, '4c4c4544-0042-3510-8051-b4c04f4e3232', 'the UUID DHCP reported comes along');
    await waitFor(page, 'tr[data-name="rack1-node07"]');
    await waitFor(page, '#discovered tr[data-mac="52:54:00:99:00:07"]', 'detached');
    assert.deepEqual((globalThis as { pageProblems?: string[] }).pageProblems, [], 'no errors in the page');
  });
  const shownRows = () => page.$$eval(ROWS, (trs) => trs.map((tr) => (tr as unknown as El).dataset.name));
  /** Waits until the list shows exactly these machines (a count alone may still be the previous query's). */
  const showsExactly = (names: readonly string[]) =>
    page.waitForFunction((want) => [...(globalThis as unknown as PageGlobals).document.querySelectorAll('#machines tbody tr[data-id]')].map((tr) => tr.dataset.name).join(' ') === want, names.join(' '));

  test('search: a MAC in any form, an IP, a UUID in any case; every word of a two-word query must match', async () => {
    for (const form of ['52-54-00-10-00-03', '5254.0010.0003', '525400100003', '52:54:00:10:00:03', '52-54-00-10-00-03'.toUpperCase()]) {
      await page.fill('#search', form);
      await showsExactly(['rack1-node03']).catch(async () => assert.fail(`${form}: ${(await shownRows()).join(' ')}`));
    }
    for (const [query, name] of [['10.99.0.17', 'rack1-node07'], ['4C4C4544-0042-3510-8051-B4C04F4E3232', 'rack1-node07'], ['4c4c454400423510805', 'rack1-node07']] as const) {
      await page.fill('#search', query);
      await showsExactly([name]).catch(async () => assert.fail(`${query}: ${(await shownRows()).join(' ')}`));
    }
    await page.fill('#search', 'rack1 failed');
    await showsExactly(['rack1-node03']);
    await page.fill('#search', 'worker rack1');
    await showsExactly(['rack1-node02', 'rack1-node03', 'rack1-node07']);
    assert.match(await page.locator('#filter-note').innerText(), /^3 of 6 shown/);
    await page.fill('#search', '');
    await waitFor(page, 'tr[data-name="rack1-node01"]');
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
        await waitFor(page, '#confirm-dialog[open]');
        assert.match(await page.locator('#confirm-message').innerText(), /rack1-node01/);
        if (action === 'power-off') await screenshot('dashboard-confirm.png');
        await page.click('#confirm-cancel');
        await waitFor(page, '#confirm-dialog', 'hidden');
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

  // ---------- 5,000 machines ----------

  /** Each machine's expected state after seedThousands (every 5th one gets events; the rest stay registered). */
  const BULK = 4994;
  const bulkName = (i: number) => `bulk-${String(i).padStart(4, '0')}`;
  const ROLES = ['production-worker', 'small', null, 'production-central'] as const;

  /** Registers machines up to 5,000 in bulk, and walks every 5th through DHCP, installs, failures and hangs. */
  function seedThousands(): void {
    for (let from = 1; from <= BULK; from += 500) {
      const batch = [];
      for (let i = from; i < Math.min(from + 500, BULK + 1); i++) {
        const mac = `52:54:01:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}:${(i % 7).toString(16).padStart(2, '0')}`;
        batch.push({ name: bulkName(i), macs: [mac], ip: `10.100.${i >> 8}.${i & 0xff}`, role: ROLES[i % ROLES.length] ?? null, bootMode: 'install' as const, bmcAddress: null });
      }
      provisioner.registerMachines(batch);
    }
    for (let i = 5; i <= BULK; i += 5) {
      const machine = byName(bulkName(i));
      const kind = (i / 5) % 5;
      if (kind === 0) walk(machine, 1);
      else if (kind === 1) walk(machine, 7);
      else if (kind === 2) walk(machine, 10);
      else if (kind === 3) {
        walk(machine, 6);
        at(machine, 'failed', `flatcar-install: /dev/sda not found on ${machine.name}`);
      } else {
        walk(machine, 3);
        at(machine, 'stuck', 'no kernel download 5 min after the iPXE script');
      }
    }
  }

  const countsByState = () => {
    const counts = new Map<string, number>();
    for (const m of provisioner.listMachines()) counts.set(m.state, (counts.get(m.state) ?? 0) + 1);
    return counts;
  };
  const chipTexts = () => page.$$eval('#counts .chip', (els) => els.map((el) => (el as unknown as El).innerText.replace(/\s+/g, ' ').trim()));
  /** The list's state: machine rows in the DOM, the table's aria-rowcount, the scroller's geometry. */
  const listFacts = () =>
    page.evaluate(() => {
      const d = (globalThis as unknown as PageGlobals).document;
      const scroller = d.querySelector('#machines-scroll') as El;
      const rows = [...d.querySelectorAll('#machines tbody tr[data-id]')];
      const box = scroller.getBoundingClientRect();
      // what is drawn in the middle of the scrolled list: never a gap
      const middle = d.elementFromPoint(box.left + 60, box.top + box.height / 2)?.closest('tr');
      return {
        rows: rows.length,
        rowCount: Number(d.querySelector('#machines')?.getAttribute('aria-rowcount')),
        names: rows.map((tr) => tr.dataset.name ?? ''),
        indexes: rows.map((tr) => Number(tr.getAttribute('aria-rowindex'))),
        heights: [...new Set(rows.map((tr) => Math.round(tr.getBoundingClientRect().height * 10) / 10))],
        middle: middle?.dataset.name ?? null,
        scrollTop: scroller.scrollTop,
        scrollHeight: scroller.scrollHeight,
        clientHeight: scroller.clientHeight,
      };
    });
  /** The DOM keeps what is visible plus a few rows each side: far fewer than the machines. */
  const ROW_BOUND = 80;

  test('5,000 machines: paged load, counts, and only the visible rows in the DOM wherever the list is scrolled', async () => {
    seedThousands();
    assert.equal(provisioner.listMachines().length, 5000);
    // the API hands out 1,000 a page here: the dashboard follows `next` to the end
    const pages: string[] = [];
    await page.route('**/api/v1/machines*', async (route) => {
      const url = new URL(route.request().url());
      if (url.pathname !== '/api/v1/machines') return route.continue();
      url.searchParams.set('limit', '1000');
      pages.push(url.search);
      return route.continue({ url: url.href });
    });
    await page.goto(`${base}/`);
    await until('5000 machines in the chips', async () => (await chipTexts()).includes('5000 machines'), 30_000);
    await page.unroute('**/api/v1/machines*');
    // the power test's server has gone: what its page said about that is not this page's problem
    (globalThis as { pageProblems?: string[] }).pageProblems?.splice(0);
    assert.equal(pages.length, 5, `five pages of 1000: ${pages.join(' ')}`);
    const chips = await chipTexts();
    for (const [s, n] of countsByState()) assert.ok(chips.includes(`${n} ${s}`), `${n} ${s} in ${chips.join(' | ')}`);
    await until('the live indicator', async () => (await page.locator('#live').getAttribute('data-state')) === 'live');

    const top = await listFacts();
    assert.equal(top.rowCount, 5001, 'aria-rowcount: the header and every machine');
    assert.ok(top.rows > 5 && top.rows <= ROW_BOUND, `rows in the DOM at the top: ${top.rows}`);
    assert.deepEqual(top.names.slice(0, 3), [bulkName(1), bulkName(2), bulkName(3)]);
    assert.deepEqual(top.indexes.slice(0, 2), [2, 3]);
    assert.ok(top.scrollHeight > 5000 * 40, `the list is as tall as 5,000 rows: ${top.scrollHeight}`);
    await screenshot('dashboard-5000-1440.png');

    // the middle: the rows drawn are the ones at that height, in order, with no gap
    await page.locator('#machines-scroll').evaluate((el) => ((el as unknown as El).scrollTop = (el as unknown as El).scrollHeight / 2));
    await until('rows around the middle', async () => {
      const facts = await listFacts();
      return facts.middle !== null && facts.indexes[0]! > 2000 ? facts : null;
    });
    const middle = await listFacts();
    assert.ok(middle.rows <= ROW_BOUND, `rows in the DOM in the middle: ${middle.rows}`);
    const rowHeight = middle.scrollHeight / 5001;
    const expectedIndex = Math.round(middle.scrollTop / rowHeight);
    const middleIndex = middle.indexes[middle.names.indexOf(middle.middle ?? '')]!;
    assert.ok(Math.abs(middleIndex - (expectedIndex + middle.clientHeight / 2 / rowHeight)) < 4, `row ${middleIndex} in the middle, expected about ${expectedIndex + middle.clientHeight / 2 / rowHeight}`);
    for (let i = 1; i < middle.indexes.length; i++) assert.equal(middle.indexes[i], middle.indexes[i - 1]! + 1, 'contiguous rows');
    assert.equal(middle.heights.length, 1, `one height for every row, with or without a problem line: ${middle.heights.join(', ')}`);
    // the end: the last machine by name is drawn
    await page.locator('#machines-scroll').evaluate((el) => ((el as unknown as El).scrollTop = (el as unknown as El).scrollHeight));
    await waitFor(page, 'tr[data-name="rack1-node07"]');
    const bottom = await listFacts();
    assert.ok(bottom.rows <= ROW_BOUND, `rows in the DOM at the end: ${bottom.rows}`);
    assert.equal(bottom.names.at(-1), 'rack1-node07');
    assert.equal(bottom.indexes.at(-1), 5001);
  });

  test('5,000 machines: an event re-renders only the row of the machine that changed', async () => {
    await page.locator('#machines-scroll').evaluate((el) => ((el as unknown as El).scrollTop = 0));
    await waitFor(page, `tr[data-name="${bulkName(1)}"]`);
    await page.waitForFunction(() => !(globalThis as unknown as PageGlobals).document.querySelector('#machines tbody tr.flash'), undefined, { timeout: 20_000 });
    await page.evaluate(() => {
      const g = globalThis as unknown as PageGlobals;
      g.rowsBefore = new Set(g.document.querySelectorAll('#machines tbody tr[data-id]'));
    });
    provisioner.record(byName(bulkName(3)), 'dhcp', 'DHCPACK to PXE firmware (BIOS)');
    provisioner.record(byName(bulkName(4000)), 'dhcp', 'DHCPACK to PXE firmware (BIOS): a machine out of view');
    await waitFor(page, `tr[data-name="${bulkName(3)}"][data-state="dhcp"]`);
    await until('the count of dhcp machines', async () => (await chipTexts()).includes(`${countsByState().get('dhcp')} dhcp`));
    const kept = await page.evaluate(() => {
      const g = globalThis as unknown as PageGlobals;
      const rows = [...g.document.querySelectorAll('#machines tbody tr[data-id]')];
      return { same: rows.filter((tr) => g.rowsBefore?.has(tr)).length, before: g.rowsBefore?.size ?? 0, changedIsNew: !rows.some((tr) => tr.dataset.name === 'bulk-0003' && g.rowsBefore?.has(tr)) };
    });
    assert.deepEqual(kept, { same: kept.before - 1, before: kept.before, changedIsNew: true });
  });

  test('5,000 machines: filters by state, role and label, and the search, give the right machines', async () => {
    const all = provisioner.listMachines();
    const note = () => page.locator('#filter-note').innerText();
    // state: the failed chip
    await page.click('#counts .chip[data-state="failed"]');
    const failed = all.filter((m) => m.state === 'failed').length;
    await until('the failed filter', async () => (await note()).startsWith(`${failed} of 5000 shown`));
    assert.ok((await listFacts()).names.every((name) => byName(name).state === 'failed'));
    assert.equal(await page.locator('#counts .chip[data-state="failed"]').getAttribute('aria-pressed'), 'true');
    await page.click('#counts .chip.total');
    // role, then role and search together
    await page.selectOption('#role-filter', 'small');
    const small = all.filter((m) => m.role === 'small');
    await until('the role filter', async () => (await note()).startsWith(`${small.length} of 5000 shown`));
    await page.fill('#search', 'bulk-00 ready');
    const expected = small.filter((m) => m.name.startsWith('bulk-00') && m.state === 'ready').map((m) => m.name).sort();
    assert.ok(expected.length > 0 && expected.length < 30, `a handful of small ready machines: ${expected.length}`);
    await showsExactly(expected);
    await page.selectOption('#role-filter', '');
    await page.fill('#search', '');
    // labels: machine.labels where the inventory has them; without labels, a selector matches nothing
    const labelled = all.filter((m) => (m as { labels?: Record<string, string> }).labels?.rack === 'r12').length;
    await page.fill('#label-filter', 'rack=r12');
    await until('the label filter', async () => (await note()).startsWith(`${labelled} of 5000 shown`));
    const labelRows = await listFacts();
    assert.ok(labelled === 0 ? labelRows.rows === 0 : labelRows.names.every((name) => (byName(name) as { labels?: Record<string, string> }).labels?.rack === 'r12'), labelRows.names.join(' '));
    await page.fill('#label-filter', '=r12');
    await until('the selector error', async () => /key=value/.test(await note()));
    assert.equal(await page.locator('#label-filter').getAttribute('aria-invalid'), 'true');
    await page.fill('#label-filter', '');
    await until('every machine again', async () => (await note()) === '' && (await listFacts()).rows > 5);
    assert.deepEqual((globalThis as { pageProblems?: string[] }).pageProblems, [], 'no errors in the page');
  });

  test('5,000 machines: the keyboard moves, opens and closes; the panel is on screen and the list keeps its place', async () => {
    const focused = () => page.evaluate(() => (globalThis as unknown as PageGlobals).document.activeElement?.dataset.name ?? (globalThis as unknown as PageGlobals).document.activeElement?.id ?? null);
    await page.locator('#machines-scroll').evaluate((el) => ((el as unknown as El).scrollTop = 0));
    // Tab reaches the list at its first row in view (one tab stop for the whole list)
    await page.focus('#add-button');
    await page.keyboard.press('Tab');
    assert.equal(await focused(), bulkName(1));
    await page.locator('body').click({ position: { x: 5, y: 5 } });
    await page.keyboard.press('/');
    assert.equal(await focused(), 'search');
    await page.keyboard.type('bulk-1');
    await until('the search', async () => (await page.locator('#filter-note').innerText()).startsWith('1000 of 5000'));
    await page.keyboard.press('Escape');
    assert.equal(await page.locator('#search').inputValue(), 'bulk-1', 'Esc leaves the search, keeping it');
    await page.keyboard.press('j');
    assert.equal(await focused(), 'bulk-1000');
    await page.keyboard.press('j');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('k');
    assert.equal(await focused(), 'bulk-1001');
    await page.keyboard.press('End');
    assert.equal(await focused(), 'bulk-1999');
    const scrolled = (await listFacts()).scrollTop;
    assert.ok(scrolled > 1000 * 40, `End scrolled the list: ${scrolled}`);
    await page.keyboard.press('Enter');
    await waitFor(page, '#detail .detail-head h2');
    assert.equal(await page.locator('#detail .detail-head h2').innerText(), 'bulk-1999');
    const box = await page.locator('#detail').boundingBox();
    assert.ok(box && box.y >= 0 && box.y < 900 - 200 && box.x + box.width <= 1440, `the panel is on screen: ${JSON.stringify(box)}`);
    assert.equal((await listFacts()).scrollTop, scrolled, 'the list kept its place');
    assert.equal(await page.locator('tr[data-name="bulk-1999"]').getAttribute('aria-selected'), 'true');
    await screenshot('dashboard-5000-1440-detail.png');
    // with the panel open, it follows the cursor
    await page.keyboard.press('k');
    await until('the panel of the row above', async () => (await page.locator('#detail .detail-head h2').innerText()) === 'bulk-1998');
    await page.keyboard.press('Escape');
    await waitFor(page, '#detail', 'hidden');
    assert.equal(await focused(), 'bulk-1998', 'the focus is back on the row');
    const cursorRow = await page.locator('tr[data-name="bulk-1998"]').boundingBox();
    const scroller = await page.locator('#machines-scroll').boundingBox();
    assert.ok(cursorRow && scroller && cursorRow.y >= scroller.y && cursorRow.y + cursorRow.height <= scroller.y + scroller.height + 1, `the cursor's row is inside the list: ${JSON.stringify({ cursorRow, scroller })}`);
    // a click far down the list opens that machine's panel, also on screen
    await page.keyboard.press('Home');
    await page.fill('#search', '');
    // (again until it holds: the list grows back to 5,000 rows on the next frame after the search is cleared)
    const far = await until('rows far down', async () => {
      await page.locator('#machines-scroll').evaluate((el) => ((el as unknown as El).scrollTop = (el as unknown as El).scrollHeight * 0.6));
      // the row drawn in the middle of the list: a click needs no scrolling
      const { middle } = await listFacts();
      return middle?.startsWith('bulk-3') ? middle : null;
    });
    await page.click(`tr[data-name="${far}"]`);
    await waitFor(page, '#detail .detail-head h2');
    assert.equal(await page.locator('#detail .detail-head h2').innerText(), far);
    const farBox = await page.locator('#detail').boundingBox();
    assert.ok(farBox && farBox.y >= 0 && farBox.y < 900 - 200, `the panel is on screen: ${JSON.stringify(farBox)}`);
    await page.keyboard.press('Escape');
  });

  test('5,000 machines at 420 px: the state column and the panel are on screen', async () => {
    await page.setViewportSize({ width: 420, height: 860 });
    try {
      await page.evaluate(() => (globalThis as unknown as { scrollTo(x: number, y: number): void }).scrollTo(0, 0));
      await page.locator('#machines-scroll').evaluate((el) => ((el as unknown as El).scrollTop = 0));
      await waitFor(page, `tr[data-name="${bulkName(1)}"]`);
      const facts = await listFacts();
      assert.ok(facts.rows <= ROW_BOUND, `rows in the DOM at 420 px: ${facts.rows}`);
      const cell = await page.locator(`tr[data-name="${bulkName(5)}"] td.state`).boundingBox();
      assert.ok(cell && cell.x >= 0 && cell.x + cell.width <= 420, `state cell inside 420 px: ${JSON.stringify(cell)}`);
      const header = await page.locator('#machines thead th', { hasText: 'State' }).boundingBox();
      assert.ok(header && header.x + header.width <= 420, `State header inside 420 px: ${JSON.stringify(header)}`);
      const width = await page.evaluate(() => (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document.documentElement.scrollWidth);
      assert.ok(width <= 420, `nothing wider than the screen: ${width}`);
      await screenshot('dashboard-5000-420.png');
      await page.click(`tr[data-name="${bulkName(4)}"]`);
      await waitFor(page, '#detail .detail-head h2');
      const box = await page.locator('#detail').boundingBox();
      assert.ok(box && box.y >= 0 && box.x >= 0 && box.x + box.width <= 420 && box.y + box.height <= 860, `the panel is inside the viewport: ${JSON.stringify(box)}`);
      await screenshot('dashboard-5000-420-detail.png');
      await page.keyboard.press('Escape');
      await waitFor(page, '#detail', 'hidden');
    } finally {
      await page.setViewportSize({ width: 1440, height: 900 });
    }
  });

  test('Discovered: newest first, a page at a time with "Load more", to the end', async () => {
    const now = Date.now();
    const macs: string[] = [];
    for (let i = 0; i < 250; i++) {
      const mac = `52:54:02:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;
      store.noteDiscovered(mac, { firmware: 'uefi', arch: 7, archName: 'x86-64 UEFI', uuid: null, ipxe: false }, now - i * 1000);
      macs.push(mac);
    }
    // a machine-less event makes the page read the table again
    provisioner.record(null, 'discovered', `DHCP from unknown MAC ${macs[0]}`, {}, macs[0]);
    const shown = () => page.$$eval('#discovered tbody tr', (trs) => trs.map((tr) => (tr as unknown as El).dataset.mac ?? ''));
    await until('the first page', async () => (await shown()).length === 100);
    assert.deepEqual(await shown(), macs.slice(0, 100));
    await page.click('#discovered-more');
    await until('the second page', async () => (await shown()).length === 200);
    await page.click('#discovered-more');
    await until('the third page', async () => (await shown()).length === 250);
    assert.deepEqual(await shown(), macs);
    await waitFor(page, '#discovered-more', 'hidden');
    assert.match(await page.locator('#discovered-note').innerText(), /^250 shown, newest first$/);
    assert.deepEqual((globalThis as { pageProblems?: string[] }).pageProblems, [], 'no errors in the page');
  });
});
