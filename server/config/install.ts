/**
 * The `install:` block of the configuration: what the per-machine install script does (disk rules,
 * partition profiles, hardware minimums, the OS image from the offline mirror, the Kubernetes or
 * DC/OS payload of each role) and the server's stuck-state timeouts. See docs/install.md.
 */
import { z } from 'zod';
import { ROLE_TABLE, type Role, type RoleInstallDefaults } from '../core/roles.js';

const NAME = /^[a-z0-9][a-z0-9-]{0,30}$/;
/** A version folder of an imported mirror (rackboot assets import): `1.2.3`, `v1.31.2`, `4081.2.0`. */
export const ASSET_VERSION = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/;
/** A mirror kind (the first folder below boot.assetsDir): flatcar, kubernetes, dcos, ... */
export const ASSET_KIND = /^[a-z][a-z0-9-]{0,31}$/;
/** A file inside a version folder (no `..`, no leading dot, no white space). */
const ASSET_FILE = /^(?!.*(^|\/)\.)[A-Za-z0-9_][A-Za-z0-9._+-]*(\/[A-Za-z0-9_][A-Za-z0-9._+-]*)*$/;
/** `by-id:<glob>` or `by-path:<glob>`: matched against /dev/disk/by-id and /dev/disk/by-path names. */
const DISK_RULE = /^(by-id|by-path):[A-Za-z0-9*?._:+-]+$/;

const partitionSchema = z.strictObject({
  /** File-system label (and GPT name); at most 11 characters so vfat can carry it. */
  label: z.string().regex(/^[A-Z0-9_-]{1,11}$/, 'upper-case letters, digits, _ and -, at most 11'),
  /** Size in MiB; leave it out on the last entry to take the rest of the disk. */
  sizeMiB: z.number().int().min(1).optional(),
  filesystem: z.enum(['ext4', 'xfs', 'btrfs', 'vfat', 'none']).default('ext4'),
  /** Where the installed system mounts it (a systemd .mount unit); none: not mounted. */
  mountPoint: z.string().regex(/^\/[a-z0-9_]+(\/[a-z0-9_.-]+)*$/, 'an absolute path of lower-case letters, digits, _ . -').optional(),
});

const minimumsSchema = z.strictObject({
  cpus: z.number().int().min(1).default(1),
  memoryMb: z.number().int().min(1).default(2048),
  disks: z.number().int().min(1).default(1),
  /** Size of the install disk; Flatcar needs 8 GiB. */
  diskMb: z.number().int().min(1).default(8192),
  nics: z.number().int().min(1).default(1),
});

const roleInstallSchema = ({ payload, kubernetes }: RoleInstallDefaults) =>
  z
    .strictObject({
      minimums: minimumsSchema.prefault({}),
      /** install.profiles.<name>: partitions added after the OS image. */
      profile: z.string().regex(NAME).default('default'),
      /** What the install lays down besides the OS. */
      payload: z.enum(['none', 'kubernetes', 'dcos']).default(payload),
      /** control-plane, worker, or etcd-member (control plane where this machine is an etcd member). */
      kubernetes: z.enum(['control-plane', 'worker', 'etcd-member']).default(kubernetes),
      dcos: z.enum(['master', 'slave', 'slave_public']).default('slave'),
      /** Pin this role to another OS version than install.os.version. */
      osVersion: z.string().regex(ASSET_VERSION).optional(),
    })
    .prefault({});

const STUCK_STATES = ['dhcp', 'firmware-loaded', 'ipxe', 'booting', 'configured', 'booted', 'installing', 'installed'] as const;
export type StuckState = (typeof STUCK_STATES)[number];
const seconds = z.number().int().min(0).max(7 * 86_400);
/** A boot step takes seconds; the OS and the install take minutes. Config entries override these one by one. */
const DEFAULT_STUCK_TIMEOUTS: Readonly<Record<StuckState, number>> = {
  dhcp: 600,
  'firmware-loaded': 600,
  ipxe: 600,
  booting: 900,
  configured: 1800,
  booted: 1800,
  installing: 3600,
  installed: 1800,
};

export const installSchema = z
  .strictObject({
    os: z
      .strictObject({
        /** The mirror kind below boot.assetsDir. */
        mirror: z.string().regex(ASSET_KIND).default('flatcar'),
        /** The imported version to install (rackboot assets list); unset: install mode refuses to render. */
        version: z.string().regex(ASSET_VERSION).optional(),
        /** The disk image in that version folder: .bin.bz2, .bin.gz, .bin.xz or a raw .bin. */
        image: z.string().regex(ASSET_FILE).default('flatcar_production_image.bin.bz2'),
      })
      .prefault({}),
    /** Tried in order; the first rule that matches a disk picks it (the lowest id when several match). */
    diskRules: z
      .array(z.string().regex(DISK_RULE, 'by-id:<glob> or by-path:<glob>'))
      .min(1)
      .default(['by-id:wwn-*', 'by-id:nvme-eui.*', 'by-id:nvme-*', 'by-id:ata-*', 'by-id:scsi-*', 'by-id:virtio-*', 'by-path:pci-*']),
    /** Partition profiles: data partitions appended after the OS image's own partitions. `default` is empty. */
    profiles: z.record(z.string().regex(NAME), z.array(partitionSchema)).default({}),
    /** One entry per role; its defaults are the role table's (core/roles.ts). */
    roles: z
      .strictObject(Object.fromEntries(ROLE_TABLE.map((r) => [r.name, roleInstallSchema(r.install)])) as Record<Role, ReturnType<typeof roleInstallSchema>>)
      .prefault({}),
    /** The script sets the clock from rackboot's /time and fails when it stays off by more than this. */
    maxClockSkewSeconds: z.number().int().min(1).max(3600).default(5),
    /** Every install script only prints its plan (and reports it as progress); nothing is written. */
    dryRun: z.boolean().default(false),
    kubernetes: z
      .strictObject({
        /** assets: kubernetes/<version>/ (rackboot assets import). */
        version: z.string().regex(/^v\d+\.\d+\.\d+$/).default('v1.31.2'),
        /** Executables in that folder, installed to /opt/bin. */
        binaries: z.array(z.string().regex(/^[a-z0-9][a-z0-9_.-]*$/)).min(1).default(['kubeadm', 'kubelet', 'kubectl', 'crictl']),
        /** Image tarball (ctr -n k8s.io images import) in that folder; '' for none. */
        images: z.union([z.literal(''), z.string().regex(ASSET_FILE)]).default('images.tar'),
        podSubnet: z.cidrv4().default('10.244.0.0/16'),
        serviceSubnet: z.cidrv4().default('10.96.0.0/12'),
        /** Bootstrap token lifetime (kubeadm duration); 0 never expires. */
        tokenTtl: z.string().regex(/^(0|(\d+h)?(\d+m)?(\d+s)?)$/).default('24h0m0s'),
        apiServerPort: z.number().int().min(1).max(65535).default(6443),
      })
      .prefault({}),
    dcos: z
      .strictObject({
        /** assets: dcos/<version>/ holds genconf/serve (its bootstrap_url is <publicUrl>/assets/dcos/<version>). */
        version: z.string().regex(ASSET_VERSION).optional(),
        /** Resolvers written to the installed system; default: the subnet's DNS servers. */
        resolvers: z.array(z.ipv4()).default([]),
      })
      .prefault({}),
    stuck: z
      .strictObject({
        checkIntervalSeconds: z.number().int().min(1).max(3600).default(30),
        /** Seconds a machine may stay in a state without progress; 0: never stuck there. Merged with the defaults. */
        timeouts: z
          .strictObject(Object.fromEntries(STUCK_STATES.map((s) => [s, seconds.optional()])) as Record<StuckState, z.ZodOptional<typeof seconds>>)
          .prefault({})
          .transform((set) => ({ ...DEFAULT_STUCK_TIMEOUTS, ...set })),
      })
      .prefault({}),
  })
  .superRefine((value, ctx) => {
    for (const [name, partitions] of Object.entries(value.profiles)) {
      partitions.forEach((p, i) => {
        if (p.sizeMiB === undefined && i !== partitions.length - 1) {
          ctx.addIssue({ code: 'custom', path: ['profiles', name, i, 'sizeMiB'], message: 'only the last partition may take the rest of the disk' });
        }
      });
      const labels = partitions.map((p) => p.label);
      if (new Set(labels).size !== labels.length) ctx.addIssue({ code: 'custom', path: ['profiles', name], message: 'labels must be unique' });
      if (labels.includes('ROOT') || labels.includes('OEM')) ctx.addIssue({ code: 'custom', path: ['profiles', name], message: 'ROOT and OEM are the OS image\'s labels' });
    }
    for (const [role, settings] of Object.entries(value.roles)) {
      if (settings.profile !== 'default' && !(settings.profile in value.profiles)) {
        ctx.addIssue({ code: 'custom', path: ['roles', role, 'profile'], message: `no profile ${settings.profile} in install.profiles` });
      }
    }
  })
  .prefault({});

export type InstallConfig = z.infer<typeof installSchema>;
