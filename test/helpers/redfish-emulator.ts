/**
 * The Redfish emulator for tests: server/lab/redfish-bmc.ts (the lab's Redfish BMCs are the same
 * code), serving test/fixtures/redfish/public-rackmount1 (DMTF's public mockup).
 */
export { makeTestCertificate, MOCKUP_DIR, RedfishEmulator, SYSTEM_PATH, type RedfishEmulatorOptions, type RedfishLogEntry } from '../../server/lab/redfish-bmc.js';
