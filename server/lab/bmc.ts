/**
 * Virtual BMCs for the lab: one OpenIPMI `ipmi_sim` per BMC, each on its own address (UDP 623) in a
 * management namespace joined to the lab bridge.
 *
 *   lab namespace      br0 also gets an address in the management subnet (rackboot talks to BMCs
 *                      from here); BMC-managed VMs run here, on taps on br0.
 *   <lab>-<label>      eth0 carries every BMC address; the ipmi_sim processes run here.
 *
 * Each BMC gets a generated lan.conf (user, MD5 for IPMI 1.5, a `guid` line, which RMCP+ needs),
 * an emulator command file (the MC, FRU data from a file), a LAN-config program (its IP and MAC),
 * and a `chassis_control` program: the power mode in which ipmi_sim supports Set System Boot
 * Options. When the spec has a VM, that program starts QEMU (daemonized, PID file) on power on and
 * kills it on power off; otherwise it keeps a power bit in a file. Optionally a small `loadlib`
 * module answers Dell's OEM Get System Info parameter 0xDA (host NIC MACs).
 *
 * ipmi_sim reads those programs through popen until EOF, so nothing they start may keep their
 * stdout: QEMU's output goes to a file. Everything is stopped by PID in stop(); the lab's
 * destroy() sweeps whatever is left in its namespaces.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatIpv4, parseCidr, parseIpv4 } from '../core/ipv4.js';
import { uuidBytes } from '../core/uuid-match.js';
import { encodeFru, type FruSpec } from '../protocol/ipmi/fru.js';
import type { LabNetwork, LabPeer } from './netns.js';
import { checkLabPrereqs, findExecutable, findFirmware, type LabPrereqResult } from './prereqs.js';
import { execCommand, pidAlive, sleep, waitForPidExit, type LabProcess } from './process.js';
import { qemuArgs, type VmFirmware } from './qemu.js';

export interface VirtualBmcVm {
  /** A tap made with `lab.addTap()`. */
  readonly tap: string;
  readonly mac: string;
  /** Default 'bios-ipxe-rom' (the fastest PXE path under TCG). */
  readonly firmware?: VmFirmware;
  readonly memoryMb?: number;
  /** SMBIOS system UUID. */
  readonly uuid?: string;
}

export interface VirtualBmcSpec {
  /** [a-z0-9-], up to 16: names its directory and the ipmi_sim instance. */
  readonly name: string;
  readonly address: string;
  readonly port?: number;
  /** 8-4-4-4-12; Get System GUID returns these bytes in this order. */
  readonly guid: string;
  /** The BMC's own MAC (LAN parameter 5). */
  readonly bmcMac: string;
  readonly username?: string;
  readonly password?: string;
  /** IANA number for Get Device ID (default 4753, MontaVista, as ipmi_sim's examples). */
  readonly manufacturerId?: number;
  readonly productId?: number;
  /** FRU device 0, e.g. with board extras ['MAC0=52:54:00:99:00:01']. */
  readonly fru?: FruSpec;
  /** Host NIC MACs answered through Dell's OEM parameter 0xDA (needs gcc for the loadlib module). */
  readonly dellMacs?: readonly string[];
  /** A VM that this BMC powers on and off. */
  readonly vm?: VirtualBmcVm;
}

export interface BmcLabOptions {
  readonly lab: LabNetwork;
  /** Management subnet, e.g. '10.1.0.0/24'. */
  readonly subnet: string;
  /** The lab namespace's address in it (default: the first host address). */
  readonly labAddress?: string;
  /** Peer namespace label (default 'bmc'). */
  readonly label?: string;
  readonly log?: (line: string) => void;
}

export interface VirtualBmc {
  readonly spec: VirtualBmcSpec;
  readonly address: string;
  readonly port: number;
  readonly process: LabProcess;
  readonly dir: string;
  /** QEMU's PID while the VM runs. */
  vmPid(): number | null;
  /** The VM's serial console (the last power-on's). */
  serial(): string;
  /** Every call ipmi_sim made to the chassis_control program. */
  chassisLog(): string;
  /** What ipmi_sim last stored as boot device ("pxe", "default", ...). */
  bootDevice(): string;
}

export interface VirtualBmcRack {
  readonly bmcs: readonly VirtualBmc[];
  readonly peer: LabPeer;
  readonly labAddress: string;
  bmc(name: string): VirtualBmc;
  /** Stops every ipmi_sim and every VM they started, by PID. Idempotent. */
  stop(): Promise<void>;
}

const NAME_RE = /^[a-z0-9][a-z0-9-]{0,15}$/;
const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/** What the virtual BMCs need on top of the lab itself. */
export function checkBmcLabPrereqs(opts: { needDellOem?: boolean; needVm?: boolean } = {}): LabPrereqResult {
  const base = checkLabPrereqs({ needQemu: opts.needVm ?? false, needIpxeRom: opts.needVm ?? false });
  const missing = base.ok ? [] : [...base.missing];
  if (!findExecutable('ipmi_sim')) missing.push('ipmi_sim: apt-get install openipmi');
  if (!findExecutable('ss')) missing.push('ss: apt-get install iproute2');
  if (opts.needDellOem && !findExecutable('gcc')) missing.push('gcc (builds the ipmi_sim OEM module): apt-get install gcc');
  return missing.length === 0 ? { ok: true } : { ok: false, missing };
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

export function shellQuote(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

function guidHex(guid: string): string {
  const bytes = uuidBytes(guid);
  if (!bytes) throw new Error(`bad GUID ${JSON.stringify(guid)}`);
  return Buffer.from(bytes).toString('hex');
}

/** ipmi_sim's LAN configuration for one BMC. */
export function lanConf(spec: VirtualBmcSpec, paths: { lanControl: string; chassisControl: string; oemModule?: string }): string {
  const user = spec.username ?? 'admin';
  const password = spec.password ?? 'password';
  for (const v of [user, password]) if (/["\s]/.test(v)) throw new Error(`user names and passwords for ipmi_sim may not contain quotes or spaces: ${JSON.stringify(v)}`);
  return [
    `name "rb-${spec.name}"`,
    'set_working_mc 0x20',
    '  startlan 1',
    `    addr ${spec.address} ${spec.port ?? 623}`,
    '    priv_limit admin',
    // IPMI 1.5 logins: MD5 only (never none or straight password).
    '    allowed_auths_callback md5',
    '    allowed_auths_user md5',
    '    allowed_auths_operator md5',
    '    allowed_auths_admin md5',
    `    guid ${guidHex(spec.guid)}`,
    `    lan_config_program "${paths.lanControl} eth0"`,
    '  endlan',
    `  chassis_control "${paths.chassisControl}"`,
    `  user 2 true "${user}" "${password}" admin 10 md5`,
    ...(paths.oemModule ? [`  loadlib "${paths.oemModule}" "${(spec.dellMacs ?? []).join(' ')}"`] : []),
    '',
  ].join('\n');
}

/** The emulator commands: the BMC's MC (Get Device ID values) and FRU device 0 from a file. */
export function emuCommands(spec: VirtualBmcSpec, fru?: { path: string; size: number }): string {
  const hex = (n: number) => `0x${n.toString(16)}`;
  return [
    'mc_setbmc 0x20',
    // address, device ID, SDRs, device revision, firmware 9.08, device support (incl. FRU), IANA, product
    `mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f ${hex(spec.manufacturerId ?? 4753)} ${hex(spec.productId ?? 0x0f02)}`,
    ...(fru ? [`mc_add_fru_data 0x20 0 ${fru.size} file 0 "${fru.path}"`] : []),
    'mc_enable 0x20',
    '',
  ].join('\n');
}

/** LAN configuration program: `<prog> eth0 get ip_addr mac_addr ...`. */
export function lanControlScript(spec: Pick<VirtualBmcSpec, 'name' | 'address' | 'bmcMac'>, subnet: { netmask: string; gateway: string }): string {
  return `#!/bin/sh
# ipmi_sim LAN configuration for BMC ${spec.name}: answers "get"; "set" is accepted and ignored.
shift
op=$1; shift
[ "$op" = get ] || exit 0
for p in "$@"; do
  case $p in
    ip_addr) echo "ip_addr:${spec.address}" ;;
    ip_addr_src) echo "ip_addr_src:static" ;;
    mac_addr) echo "mac_addr:${spec.bmcMac}" ;;
    subnet_mask) echo "subnet_mask:${subnet.netmask}" ;;
    default_gw_ip_addr) echo "default_gw_ip_addr:${subnet.gateway}" ;;
    *_mac_addr) echo "$p:00:00:00:00:00:00" ;;
    *) echo "$p:0.0.0.0" ;;
  esac
done
exit 0
`;
}

/** chassis_control program: `<prog> get power boot`, `<prog> set power 1`, `set boot pxe`, `set reset 1`. */
export function chassisControlScript(dir: string, start: string | null): string {
  return `#!/bin/sh
# ipmi_sim chassis control. Runs under popen: nothing started here may keep stdout open.
STATE=${shellQuote(dir)}
PIDFILE="$STATE/qemu.pid"
echo "$(date +%s.%N) $*" >> "$STATE/chassis.log"
running() {
  [ -f "$PIDFILE" ] || return 1
  pid=$(cat "$PIDFILE" 2>/dev/null)
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -q qemu "/proc/$pid/cmdline" 2>/dev/null
}
${
  start === null
    ? `power_get() { cat "$STATE/power" 2>/dev/null || echo 0; }
power_on() { echo 1 > "$STATE/power"; }
power_off() { echo 0 > "$STATE/power"; }`
    : `power_get() { if running; then echo 1; else echo 0; fi; }
power_on() {
  running && return 0
  rm -f "$PIDFILE"
  ${start} </dev/null >>"$STATE/qemu.log" 2>&1
}
power_off() {
  running || return 0
  kill "$pid" 2>/dev/null
  i=0
  while running && [ $i -lt 30 ]; do sleep 0.1; i=$((i+1)); done
  running && kill -9 "$pid" 2>/dev/null
  rm -f "$PIDFILE"
  return 0
}`
}
op=$1; shift
case "$op" in
  get)
    for p in "$@"; do
      case $p in
        power) echo "power:$(power_get)" ;;
        boot) echo "boot:$(cat "$STATE/boot" 2>/dev/null || echo default)" ;;
        *) echo "Invalid parameter: $p"; exit 1 ;;
      esac
    done ;;
  set)
    while [ $# -ge 2 ]; do
      case $1 in
        power) if [ "$2" = 1 ]; then power_on || exit 1; else power_off; fi ;;
        reset) power_off; power_on || exit 1 ;;
        shutdown) power_off ;;
        boot) echo "$2" > "$STATE/boot" ;;
        identify) ;;
        *) echo "Invalid parameter: $1"; exit 1 ;;
      esac
      shift 2
    done ;;
  *) echo "Unknown operation: $op"; exit 1 ;;
esac
exit 0
`;
}

/**
 * A tiny ipmi_sim module: registers a handler for App 59h (Get System Info Parameters) that answers
 * parameter 0xDA like a Dell iDRAC: the table length, then 8-byte records (flags, NIC number, MAC).
 * Options: the MACs, space-separated. The struct mirrors the leading fields of ipmi_sim 2.0's msg_t.
 */
export const DELL_OEM_MODULE_SOURCE = String.raw`/* rackboot lab: Dell-style LOM MACs (Get System Info Parameters 0xDA) for ipmi_sim. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

struct sim_msg {
    void *src_addr;
    int src_len;
    long oem_data;
    unsigned char channel;
    void *orig_channel;
    unsigned char authtype;
    uint32_t seq;
    uint32_t sid;
    union {
        struct { unsigned char *authcode; unsigned char authcode_data[16]; } rmcp;
        struct {
            unsigned char payload, encrypted, authenticated, iana[3];
            uint16_t payload_id;
            unsigned char *authdata;
            unsigned int authdata_len;
        } rmcpp;
    } u;
    unsigned char netfn, rs_addr, rs_lun, rq_addr, rq_lun, rq_seq, cmd;
    unsigned char *data;
    unsigned int len;
};

typedef void (*handler_f)(void *mc, struct sim_msg *msg, unsigned char *rdata, unsigned int *rdata_len, void *cb);
extern int ipmi_emu_register_cmd_handler(unsigned char netfn, unsigned char cmd, handler_f handler, void *cb);

static unsigned char table[64];
static unsigned int table_len;

static void get_system_info(void *mc, struct sim_msg *msg, unsigned char *rdata, unsigned int *rdata_len, void *cb)
{
    unsigned int offset, count;
    (void) mc; (void) cb;
    if (msg->len < 4) { rdata[0] = 0xc7; *rdata_len = 1; return; }
    if (msg->data[1] != 0xda) { rdata[0] = 0x80; *rdata_len = 1; return; }
    rdata[0] = 0x00;
    rdata[1] = 0x11;
    if (msg->len < 6 || msg->data[5] == 0) {
        rdata[2] = (unsigned char) table_len;
        *rdata_len = 3;
        return;
    }
    offset = msg->data[4];
    count = msg->data[5];
    if (offset >= table_len) { rdata[0] = 0xc9; *rdata_len = 1; return; }
    if (offset + count > table_len) count = table_len - offset;
    memcpy(rdata + 2, table + offset, count);
    *rdata_len = 2 + count;
}

int ipmi_sim_module_print_version(void *sys, char *options)
{
    (void) sys; (void) options;
    printf("rackboot lab Dell OEM MAC module 1\n");
    return 0;
}

int ipmi_sim_module_init(void *sys, const char *options)
{
    const char *p = options ? options : "";
    unsigned int nic = 0;
    (void) sys;
    while (*p && nic < 8) {
        unsigned int m[6];
        int used = 0, i;
        unsigned char *record = table + nic * 8;
        if (sscanf(p, " %x:%x:%x:%x:%x:%x%n", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5], &used) != 6) break;
        record[0] = 0x00; /* blade slot 0, Ethernet, enabled */
        record[1] = (unsigned char) nic;
        for (i = 0; i < 6; i++) record[2 + i] = (unsigned char) m[i];
        nic++;
        p += used;
    }
    table_len = nic * 8;
    return ipmi_emu_register_cmd_handler(0x06, 0x59, get_system_info, NULL);
}
`;

async function buildDellOemModule(dir: string): Promise<string> {
  const gcc = findExecutable('gcc');
  if (!gcc) throw new Error('gcc is needed to build the Dell OEM module for ipmi_sim: apt-get install gcc');
  const source = join(dir, 'dell-oem.c');
  const module = join(dir, 'dell-oem.so');
  writeFileSync(source, DELL_OEM_MODULE_SOURCE);
  await execCommand(gcc, ['-shared', '-fPIC', '-O2', '-Wall', '-o', module, source], { timeoutMs: 60_000 });
  return module;
}

function validate(specs: readonly VirtualBmcSpec[], cidr: NonNullable<ReturnType<typeof parseCidr>>): void {
  const names = new Set<string>();
  const endpoints = new Set<string>();
  for (const s of specs) {
    if (!NAME_RE.test(s.name)) throw new Error(`bad BMC name ${JSON.stringify(s.name)} ([a-z0-9-], up to 16)`);
    if (names.has(s.name)) throw new Error(`two BMCs named ${s.name}`);
    names.add(s.name);
    const a = parseIpv4(s.address);
    if (a === null || ((a & cidr.mask) >>> 0) !== cidr.network) throw new Error(`BMC ${s.name}: ${s.address} is not in the management subnet`);
    const endpoint = `${s.address}:${s.port ?? 623}`;
    if (endpoints.has(endpoint)) throw new Error(`two BMCs on ${endpoint}`);
    endpoints.add(endpoint);
    if (!MAC_RE.test(s.bmcMac)) throw new Error(`BMC ${s.name}: bad MAC ${s.bmcMac}`);
    for (const mac of s.dellMacs ?? []) if (!MAC_RE.test(mac)) throw new Error(`BMC ${s.name}: bad Dell OEM MAC ${mac}`);
    if (s.vm && !MAC_RE.test(s.vm.mac)) throw new Error(`BMC ${s.name}: bad VM MAC ${s.vm.mac}`);
    guidHex(s.guid);
  }
}

async function waitForUdpListener(peer: LabPeer, address: string, port: number, proc: LabProcess, timeoutMs: number): Promise<void> {
  const want = `${address}:${port}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exitStatus) throw new Error(`ipmi_sim for ${want} exited (${proc.exitStatus.code ?? proc.exitStatus.signal}): ${proc.output().slice(-2000)}`);
    const r = await peer.exec(findExecutable('ss') ?? 'ss', ['-Hnul'], { allowFailure: true, timeoutMs: 5000 });
    if (r.stdout.split('\n').some((line) => line.split(/\s+/).includes(want))) return;
    if (Date.now() > deadline) throw new Error(`ipmi_sim did not open UDP ${want} within ${timeoutMs} ms; it said: ${proc.output().slice(-2000)}`);
    await sleep(50);
  }
}

export async function startVirtualBmcs(opts: BmcLabOptions, specs: readonly VirtualBmcSpec[]): Promise<VirtualBmcRack> {
  const { lab } = opts;
  const log = opts.log ?? (() => {});
  const cidr = parseCidr(opts.subnet);
  if (!cidr || cidr.prefix > 29) throw new Error(`bad management subnet ${JSON.stringify(opts.subnet)}`);
  validate(specs, cidr);
  const ipmiSim = findExecutable('ipmi_sim');
  if (!ipmiSim) throw new Error('ipmi_sim not found: apt-get install openipmi');
  const labAddress = opts.labAddress ?? formatIpv4(cidr.network + 1);
  if (specs.some((s) => s.address === labAddress)) throw new Error(`a BMC uses the lab's own management address ${labAddress}`);
  const netmask = formatIpv4(cidr.mask);

  const root = join(lab.workDir, `bmc-${opts.label ?? 'bmc'}`);
  mkdirSync(root, { recursive: true });
  const oemModule = specs.some((s) => (s.dellMacs ?? []).length > 0) ? await buildDellOemModule(root) : undefined;

  await lab.exec('ip', ['addr', 'add', `${labAddress}/${cidr.prefix}`, 'dev', lab.bridge]);
  const [first, ...rest] = specs;
  const peer = await lab.addPeer(opts.label ?? 'bmc', first ? { address: `${first.address}/${cidr.prefix}` } : {});
  for (const s of rest) {
    if (s.address !== first?.address) await peer.exec('ip', ['addr', 'add', `${s.address}/${cidr.prefix}`, 'dev', peer.ifname], { allowFailure: true });
  }

  const bmcs: VirtualBmc[] = [];
  let stopped: Promise<void> | undefined;
  const rack: VirtualBmcRack = {
    bmcs,
    peer,
    labAddress,
    bmc(name) {
      const found = bmcs.find((b) => b.spec.name === name);
      if (!found) throw new Error(`no virtual BMC ${name}`);
      return found;
    },
    stop() {
      stopped ??= (async () => {
        const problems: string[] = [];
        await Promise.all(
          bmcs.map(async (b) => {
            await b.process.stop(2000).catch((e: unknown) => problems.push(String(e)));
            const pid = b.vmPid();
            if (pid !== null) {
              signal(pid, 'SIGTERM');
              if (!(await waitForPidExit(pid, 3000))) {
                signal(pid, 'SIGKILL');
                if (!(await waitForPidExit(pid, 3000))) problems.push(`QEMU ${pid} of BMC ${b.spec.name} survived SIGKILL`);
              }
            }
          }),
        );
        if (problems.length > 0) throw new Error(`virtual BMCs did not stop: ${problems.join('; ')}`);
      })();
      return stopped;
    },
  };

  try {
    for (const spec of specs) {
      const dir = join(root, spec.name);
      mkdirSync(join(dir, 'state'), { recursive: true });
      const lanControl = join(dir, 'lan-control');
      const chassisControl = join(dir, 'chassis-control');
      writeFileSync(lanControl, lanControlScript(spec, { netmask, gateway: labAddress }), { mode: 0o755 });
      writeFileSync(chassisControl, chassisControlScript(dir, spec.vm ? qemuStartCommand(lab, spec.vm, dir) : null), { mode: 0o755 });
      let fru: { path: string; size: number } | undefined;
      if (spec.fru) {
        const image = encodeFru(spec.fru);
        fru = { path: join(dir, 'fru.bin'), size: image.length };
        writeFileSync(fru.path, image);
      }
      const conf = join(dir, 'lan.conf');
      const emu = join(dir, 'bmc.emu');
      writeFileSync(conf, lanConf(spec, { lanControl, chassisControl, ...(oemModule && spec.dellMacs?.length ? { oemModule } : {}) }));
      writeFileSync(emu, emuCommands(spec, fru));
      const proc = await peer.spawn(ipmiSim, ['-c', conf, '-f', emu, '-s', join(dir, 'state'), '-n'], { logFile: join(dir, 'ipmi_sim.log') });
      const read = (file: string) => (existsSync(join(dir, file)) ? readFileSync(join(dir, file), 'utf8') : '');
      const bmc: VirtualBmc = {
        spec,
        address: spec.address,
        port: spec.port ?? 623,
        process: proc,
        dir,
        vmPid() {
          const pid = Number(read('qemu.pid').trim());
          return Number.isInteger(pid) && pid > 0 && pidAlive(pid) ? pid : null;
        },
        serial: () => read('serial.log'),
        chassisLog: () => read('chassis.log'),
        bootDevice: () => read('boot').trim() || 'default',
      };
      bmcs.push(bmc);
      await waitForUdpListener(peer, bmc.address, bmc.port, proc, 5000);
      log(`virtual BMC ${spec.name} on ${bmc.address}:${bmc.port} (pid ${proc.pid})${spec.vm ? `, VM ${spec.vm.mac} on ${spec.vm.tap}` : ''}`);
    }
  } catch (error) {
    await rack.stop().catch(() => {});
    throw error;
  }
  return rack;
}

/** The shell command the chassis program runs to power the VM on: QEMU daemonized, with a PID file. */
function qemuStartCommand(lab: LabNetwork, vm: VirtualBmcVm, dir: string): string {
  const qemu = findExecutable('qemu-system-x86_64');
  if (!qemu) throw new Error('qemu-system-x86_64 not found: apt-get install qemu-system-x86');
  const firmware = vm.firmware ?? 'bios-ipxe-rom';
  let varsCopy: string | undefined;
  if (firmware === 'uefi-pxe' || firmware === 'uefi-ipxe-rom') {
    const ovmf = findFirmware().ovmf;
    if (!ovmf) throw new Error('no OVMF code+vars: apt-get install ovmf');
    varsCopy = join(dir, 'OVMF_VARS.fd');
    copyFileSync(ovmf.vars, varsCopy);
  }
  const args = qemuArgs(
    {
      netns: lab,
      tap: vm.tap,
      mac: vm.mac,
      firmware,
      serialLog: join(dir, 'serial.log'),
      // A BMC-managed machine reboots like real hardware; a guest power-off still ends QEMU.
      noReboot: false,
      ...(vm.memoryMb ? { memoryMb: vm.memoryMb } : {}),
      ...(vm.uuid ? { uuid: vm.uuid } : {}),
    },
    varsCopy,
  );
  const ip = findExecutable('ip') ?? 'ip';
  return [ip, 'netns', 'exec', lab.netns, qemu, ...args, '-daemonize', '-pidfile', join(dir, 'qemu.pid')].map(shellQuote).join(' ');
}
