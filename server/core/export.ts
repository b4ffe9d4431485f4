/**
 * The inventory in the formats of the tools operators already run: ISC dhcpd host blocks, dnsmasq
 * dhcp-host lines, CSV, and an Ansible inventory grouped by role. Pure: machines in, text out.
 */
import type { Machine } from './types.js';

export const EXPORT_FORMATS = ['isc-dhcpd', 'dnsmasq', 'csv', 'ansible'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ExportResult {
  readonly text: string;
  /** Machines left out, with the reason (e.g. no reserved address for a DHCP format). */
  readonly skipped: readonly string[];
}

export function exportInventory(machines: readonly Machine[], format: ExportFormat): ExportResult {
  const sorted = [...machines].sort((a, b) => a.name.localeCompare(b.name));
  switch (format) {
    case 'isc-dhcpd':
      return withAddress(sorted, iscHostBlocks);
    case 'dnsmasq':
      return withAddress(sorted, dnsmasqLines);
    case 'csv':
      return { text: csv(sorted), skipped: [] };
    case 'ansible':
      return withAddress(sorted, ansibleInventory);
  }
}

function withAddress(machines: readonly Machine[], render: (m: readonly AddressedMachine[]) => string): ExportResult {
  const skipped: string[] = [];
  const addressed: AddressedMachine[] = [];
  for (const machine of machines) {
    if (machine.ip === null) skipped.push(`${machine.name}: no reserved IP address`);
    else if (machine.macs.length === 0) skipped.push(`${machine.name}: no MAC address`);
    else addressed.push({ ...machine, ip: machine.ip });
  }
  return { text: render(addressed), skipped };
}

type AddressedMachine = Machine & { readonly ip: string };

/** One host block per MAC: dhcpd binds a fixed address to one hardware address per block. */
function iscHostBlocks(machines: readonly AddressedMachine[]): string {
  const blocks = machines.flatMap((m) =>
    m.macs.map((mac, index) =>
      [
        `host ${m.macs.length > 1 ? `${m.name}-${index}` : m.name} {`,
        `  hardware ethernet ${mac};`,
        `  fixed-address ${m.ip};`,
        `  option host-name "${m.name}";`,
        '}',
      ].join('\n'),
    ),
  );
  return `# rackboot inventory: ${machines.length} machine(s)\n${blocks.join('\n')}\n`;
}

/** dnsmasq accepts several MACs for one address when a machine uses one NIC at a time. */
function dnsmasqLines(machines: readonly AddressedMachine[]): string {
  const lines = machines.map((m) => `dhcp-host=${[...m.macs, m.ip, m.name].join(',')}`);
  return `# rackboot inventory: ${machines.length} machine(s)\n${lines.join('\n')}\n`;
}

const CSV_COLUMNS = ['name', 'macs', 'ip', 'role', 'mode', 'bmc', 'uuid', 'state'] as const;

function csv(machines: readonly Machine[]): string {
  const rows = machines.map((m) => [m.name, m.macs.join(' '), m.ip ?? '', m.role ?? '', m.bootMode, m.bmcAddress ?? '', m.uuid ?? '', m.state]);
  return [CSV_COLUMNS.join(','), ...rows.map((row) => row.map(csvField).join(','))].join('\r\n') + '\r\n';
}

function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** YAML inventory: one group per role (machines without a role in `unassigned`). */
function ansibleInventory(machines: readonly AddressedMachine[]): string {
  const groups = new Map<string, AddressedMachine[]>();
  for (const m of machines) {
    const group = (m.role ?? 'unassigned').replace(/-/g, '_');
    groups.set(group, [...(groups.get(group) ?? []), m]);
  }
  const lines = ['all:', '  children:'];
  for (const [group, members] of [...groups].sort(([a], [b]) => a.localeCompare(b))) {
    lines.push(`    ${group}:`, '      hosts:');
    for (const m of members) {
      lines.push(
        `        ${m.name}:`,
        `          ansible_host: ${m.ip}`,
        `          rackboot_macs: [${m.macs.map((mac) => JSON.stringify(mac)).join(', ')}]`,
        `          rackboot_boot_mode: ${m.bootMode}`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}
