/**
 * One simulated machine's boot, end to end, the way firmware, iPXE and the booted OS do it:
 *
 *   PXE ROM DHCP (broadcast) -> TFTP undionly.kpxe | snponly.efi -> iPXE DHCP -> GET /boot.ipxe ->
 *   GET /ipxe?mac=... (its script) -> kernel -> initrd -> cloud-config (from its own address) ->
 *   callbacks (booted, progress, installed)
 *
 * Every step retries as the real client would (DHCP and TFTP by their timers, HTTP after a failed
 * connection or a 5xx). A refused token (403: a request the server completed but whose answer never
 * arrived, e.g. across a crash) sends the machine back to the start, as iPXE's `|| goto failed` ->
 * reboot would.
 */
import { createHash } from 'node:crypto';
import type { TftpOption } from '../../server/protocol/tftp/codec.js';
import { DhcpNak, DhcpTimeout, type DhcpClient } from './dhcp.js';
import { HttpFailure, MachineHttp } from './http.js';
import type { Ack, SimMachine, StepName, StormPlan } from './plan.js';
import { tftpRead, TftpError, type TftpCounters } from './tftp.js';

export interface MachineRun {
  readonly plan: StormPlan;
  readonly dhcp: DhcpClient;
  readonly tftp: TftpCounters;
  readonly counters: Record<string, number>;
  /** performance.now() after which nothing new is started. */
  readonly deadline: number;
  step(name: StepName, ms: number): void;
  ack(ack: Ack): void;
  error(reason: string): void;
}

/** The machine has to start over (a spent token, a failed DHCP or TFTP). */
class Reboot extends Error {
  override readonly name = 'Reboot';
}

class PastDeadline extends Error {
  override readonly name = 'PastDeadline';
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function count(run: MachineRun, key: string, by = 1): void {
  run.counters[key] = (run.counters[key] ?? 0) + by;
}

/** Boots until `installed` is acknowledged; false when it gave up (too many reboots, or the deadline). */
export async function bootMachine(machine: SimMachine, run: MachineRun): Promise<boolean> {
  const http = new MachineHttp(machine.ip);
  const powerOn = performance.now();
  try {
    for (let boot = 1; boot <= run.plan.retry.maxBoots; boot += 1) {
      if (boot > 1) count(run, 'reboots');
      try {
        await bootOnce(machine, run, http);
        run.step('machine', performance.now() - powerOn);
        return true;
      } catch (error) {
        if (error instanceof PastDeadline) {
          run.error('deadline reached before installed');
          return false;
        }
        run.error(error instanceof Error ? error.message : String(error));
        http.reset();
        if (!(error instanceof Reboot)) return false;
        await sleep(run.plan.retry.rebootMs);
      }
    }
    run.error(`gave up after ${run.plan.retry.maxBoots} boots`);
    return false;
  } finally {
    http.close();
  }
}

async function timed<T>(run: MachineRun, name: StepName, work: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const result = await work();
  run.step(name, performance.now() - started);
  return result;
}

function checkDeadline(run: MachineRun): void {
  if (performance.now() > run.deadline) throw new PastDeadline('deadline');
}

async function dora(machine: SimMachine, run: MachineRun, stage: 'firmware' | 'ipxe'): Promise<{ bootFile: string; server: string }> {
  checkDeadline(run);
  const timeouts = stage === 'firmware' ? run.plan.retry.firmwareDhcpMs : run.plan.retry.ipxeDhcpMs;
  try {
    const answer = await timed(run, stage === 'firmware' ? 'dhcp-firmware' : 'dhcp-ipxe', () => run.dhcp.dora(machine, stage, timeouts));
    if (answer.yiaddr !== machine.ip) throw new Error(`DHCP offered ${answer.yiaddr}, not the reservation ${machine.ip}`);
    run.ack({ kind: 'lease', mac: machine.mac, ip: answer.yiaddr, at: Date.now() });
    const server = answer.siaddr !== '0.0.0.0' ? answer.siaddr : run.plan.serverAddress;
    return { bootFile: answer.bootFile, server };
  } catch (error) {
    if (error instanceof DhcpTimeout || error instanceof DhcpNak) throw new Reboot(`${stage} DHCP: ${error.message}`);
    throw error;
  }
}

async function fetchFirmware(machine: SimMachine, run: MachineRun, file: string, server: string): Promise<void> {
  const uefi = machine.firmware === 'uefi';
  // OVMF asks blksize 1468 windowsize 4 after a tsize probe; iPXE-era BIOS ROMs blksize 1432.
  const options: TftpOption[] = uefi
    ? [{ name: 'tsize', value: '0' }, { name: 'blksize', value: '1468' }, { name: 'windowsize', value: '4' }]
    : [{ name: 'blksize', value: '1432' }, { name: 'tsize', value: '0' }];
  const expected = run.plan.tftpFiles[file];
  const { retry } = run.plan;
  const base = { server, port: run.plan.tftpPort, localAddress: machine.ip, file, options, timeoutMs: retry.tftpTimeoutMs, maxTimeouts: retry.tftpMaxTimeouts };
  await timed(run, 'tftp', async () => {
    for (let attempt = 1; ; attempt += 1) {
      checkDeadline(run);
      try {
        if (uefi) await tftpRead({ ...base, dallyMs: 0, probeOnly: true }, run.tftp);
        const { data, tsize } = await tftpRead({ ...base, dallyMs: retry.tftpDallyMs }, run.tftp);
        if (tsize !== null && tsize !== data.length) throw new TftpError(`${file}: tsize ${tsize} but ${data.length} bytes`);
        if (expected && (data.length !== expected.size || createHash('sha256').update(data).digest('hex') !== expected.sha256)) {
          throw new TftpError(`${file}: content differs from the server's file (${data.length} bytes)`);
        }
        return;
      } catch (error) {
        if (!(error instanceof TftpError)) throw error;
        count(run, 'tftpRestarts');
        if (attempt >= 4) throw new Reboot(`TFTP: ${error.message}`);
        await sleep(500 * attempt);
      }
    }
  });
}

interface HttpStep {
  readonly step: StepName;
  readonly method: 'GET' | 'POST';
  readonly url: string;
  readonly body?: string;
  readonly keepBody: boolean;
}

/** One HTTP step with the client's retries; 403/404 (a spent or unknown token) means start over. */
async function httpStep(run: MachineRun, http: MachineHttp, s: HttpStep): Promise<string> {
  const { retry } = run.plan;
  return timed(run, s.step, async () => {
    let delay = retry.httpRetryMs;
    for (;;) {
      checkDeadline(run);
      try {
        const result = await http.send(s.method, s.url, { timeoutMs: retry.httpTimeoutMs, keepBody: s.keepBody, ...(s.body === undefined ? {} : { body: s.body }) });
        if (result.status === 200) return result.text;
        if (result.status === 403 || result.status === 404) throw new Reboot(`${s.step}: HTTP ${result.status}`);
        count(run, 'http5xx');
      } catch (error) {
        if (!(error instanceof HttpFailure)) throw error;
        count(run, 'httpRetries');
        http.reset();
      }
      await sleep(delay);
      delay = Math.min(delay * 2, 4000);
    }
  });
}

/** iPXE's expansion of the settings the chain script uses. */
function expandIpxe(url: string, machine: SimMachine): string {
  const bios = machine.firmware === 'bios';
  return url
    .replaceAll('${mac:hexhyp}', machine.mac.replaceAll(':', '-'))
    .replaceAll('${uuid}', machine.uuid)
    .replaceAll('${buildarch}', bios ? 'i386' : 'x86_64')
    .replaceAll('${platform}', bios ? 'pcbios' : 'efi');
}

interface ScriptUrls {
  readonly kernel: string;
  readonly initrds: readonly string[];
  readonly cloudConfig: string;
  readonly callback: string;
  readonly bootToken: string;
}

function parseScript(script: string): ScriptUrls {
  const kernelLine = /^kernel (\S+)(.*)$/m.exec(script);
  if (!kernelLine?.[1]) throw new Error(`script without a kernel line: ${script.slice(0, 120)}`);
  const args = kernelLine[2] ?? '';
  const cloudConfig = /cloud-config-url=(\S+)/.exec(args)?.[1];
  const callback = /rackboot\.callback=(\S+)/.exec(args)?.[1];
  const bootToken = /\/boot\/([^/]+)\/kernel\//.exec(kernelLine[1])?.[1];
  if (!cloudConfig || !callback || !bootToken) throw new Error('script without cloud-config-url, rackboot.callback or a boot token');
  const initrds = [...script.matchAll(/^initrd (\S+)/gm)].map((m) => m[1] ?? '');
  return { kernel: kernelLine[1], initrds, cloudConfig, callback, bootToken };
}

async function bootOnce(machine: SimMachine, run: MachineRun, http: MachineHttp): Promise<void> {
  const { plan } = run;
  const firmware = await dora(machine, run, 'firmware');
  const expectedFile = machine.firmware === 'bios' ? 'undionly.kpxe' : 'snponly.efi';
  if (firmware.bootFile !== expectedFile) throw new Error(`PXE ROM was told to boot "${firmware.bootFile}", expected ${expectedFile}`);
  await fetchFirmware(machine, run, firmware.bootFile, firmware.server);
  if (plan.thinkMs.afterFirmware > 0) await sleep(plan.thinkMs.afterFirmware);

  const ipxe = await dora(machine, run, 'ipxe');
  if (!/^https?:\/\//.test(ipxe.bootFile)) throw new Error(`iPXE was handed "${ipxe.bootFile}", expected the HTTP boot script`);
  const chain = await httpStep(run, http, { step: 'boot.ipxe', method: 'GET', url: ipxe.bootFile, keepBody: true });
  const chainUrl = /^chain (?:--\S+ )*(\S+)/m.exec(chain)?.[1];
  if (!chainUrl) throw new Error('boot.ipxe without a chain line');
  const script = await httpStep(run, http, { step: 'script', method: 'GET', url: expandIpxe(chainUrl, machine), keepBody: true });
  const urls = parseScript(script);
  run.ack({ kind: 'script', mac: machine.mac, bootToken: urls.bootToken, at: Date.now() });

  await httpStep(run, http, { step: 'kernel', method: 'GET', url: urls.kernel, keepBody: false });
  for (const url of urls.initrds) await httpStep(run, http, { step: 'initrd', method: 'GET', url, keepBody: false });
  if (plan.thinkMs.afterKernel > 0) await sleep(plan.thinkMs.afterKernel);

  await httpStep(run, http, { step: 'cloud-config', method: 'GET', url: urls.cloudConfig, keepBody: true });
  run.ack({ kind: 'config', mac: machine.mac, at: Date.now() });

  for (const event of plan.callbacks) {
    if (event === 'installed' && plan.thinkMs.beforeInstalled > 0) await sleep(plan.thinkMs.beforeInstalled);
    const body = JSON.stringify({ event, message: `${event} (storm)` });
    const answer = await httpStep(run, http, { step: 'callback', method: 'POST', url: urls.callback, body, keepBody: true });
    const parsed = JSON.parse(answer) as { recorded?: string; id?: number };
    if (parsed.recorded !== event || typeof parsed.id !== 'number') throw new Error(`callback ${event} answered ${answer}`);
    run.ack({ kind: 'event', mac: machine.mac, type: event, id: parsed.id, at: Date.now() });
  }
}
