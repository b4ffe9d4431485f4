/**
 * Turns on install mode in a running rackboot (`rackboot serve`): the install script template, the
 * mirror's manifests and the Kubernetes secrets go to the Provisioner, and a timer marks machines
 * that make no progress as `stuck`. Returns a stop function (the timer is unref'd either way).
 */
import type { Config } from '../config/config.js';
import type { Provisioner } from '../core/provisioner.js';
import type { Logger } from '../log.js';
import { DirectoryAssetIndex } from '../assets/mirror.js';
import { ensureKubernetesSecrets } from './kube-pki.js';
import { catalogDirs } from '../paths.js';
import { loadInstallTemplate } from './templates.js';

export interface InstallService {
  stop(): void;
}

export function enableInstall(provisioner: Provisioner, config: Config, logger: Logger, bootTemplates = catalogDirs().bootTemplates): InstallService {
  const usesKubernetes = Object.values(config.install.roles).some((r) => r.payload === 'kubernetes');
  provisioner.setInstall({
    settings: config.install,
    renderer: loadInstallTemplate(bootTemplates),
    assets: new DirectoryAssetIndex(config.boot.assetsDir),
    kubernetes: usesKubernetes ? ensureKubernetesSecrets(config.dataDir) : null,
  });
  const check = () => {
    try {
      for (const event of provisioner.checkStuck()) logger.warn({ machineId: event.machineId }, event.message);
    } catch (error) {
      logger.error({ err: error }, 'stuck check failed');
    }
  };
  const timer = setInterval(check, config.install.stuck.checkIntervalSeconds * 1000);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
