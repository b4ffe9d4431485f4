/**
 * `rackboot clusters [name]`: every etcd cluster's health, checked now from this host with rackboot's
 * client certificate (members, leader, who is missing, cold start); exit 1 when a cluster is not
 * healthy. `rackboot clusters forget <name>`: after a cold start, lets the next boots form a new,
 * empty cluster (the operator accepts that its data is gone).
 */
import type { Command } from 'commander';
import { createProvisioner, etcdMembership } from '../main.js';
import { FormedClusters } from '../services/etcd-membership.js';
import { CliError, EXIT_FAILED, type CliContext } from './context.js';
import { terminalText } from './format.js';

export function registerClusterCommands(program: Command, ctx: CliContext): void {
  const clusters = program
    .command('clusters')
    .description('etcd clusters: members, leader, who is missing, cold start (checked now over TLS)')
    .argument('[name]', 'one cluster (small, production, test)')
    .option('--json', 'print JSON')
    .action(async (name: string | undefined, options: { json?: boolean }) => {
      const config = ctx.config();
      const { provisioner, etcdPki, close } = createProvisioner(config);
      try {
        const all = await etcdMembership(config, provisioner, etcdPki).checkHealth();
        const shown = name === undefined ? all : all.filter((c) => c.cluster === name);
        if (name !== undefined && shown.length === 0) throw new CliError(`no etcd cluster ${name} (known: ${all.map((c) => c.cluster).join(', ') || 'none'})`, EXIT_FAILED);
        if (options.json) process.stdout.write(`${JSON.stringify(shown, null, 2)}\n`);
        else {
          if (shown.length === 0) process.stdout.write('no etcd clusters (no machine has a role with etcd members)\n');
          for (const c of shown) {
            process.stdout.write(`${c.cluster.padEnd(12)} ${c.state.padEnd(11)} leader ${c.leader ?? '-'}  members ${c.members.map((m) => `${m.name}${m.healthy ? '' : '(down)'}`).join(',') || '-'}  missing ${c.missing.join(',') || '-'}\n`);
            process.stdout.write(`  ${terminalText(c.message)}\n`);
          }
        }
        if (shown.some((c) => c.state !== 'healthy')) process.exitCode = EXIT_FAILED;
      } finally {
        close();
      }
    });
  clusters
    .command('forget')
    .description('after a cold start: forget that the cluster ran, so the next boots form a new, empty cluster')
    .argument('<name>', 'the cluster (small, production, test)')
    .action((name: string) => {
      const forgotten = new FormedClusters(ctx.config().dataDir).forget(name);
      process.stdout.write(forgotten ? `forgot etcd cluster ${name}: the next member boots form a new, empty cluster\n` : `rackboot has no record of etcd cluster ${name}; nothing to forget\n`);
    });
}
