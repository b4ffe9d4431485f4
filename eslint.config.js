import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// core/, protocol/ and the top of bmc/ (the BMC port, registry and workflows) are pure: no sockets,
// files, processes, database, HTTP or templates. bmc/ipmi/ and bmc/redfish/ are the adapters behind the port.
const ioModules = [
  'fs', 'node:fs', 'fs/promises', 'node:fs/promises', 'dgram', 'node:dgram', 'net', 'node:net',
  'http', 'node:http', 'child_process', 'node:child_process', 'os', 'node:os', 'process', 'node:process',
  'better-sqlite3', 'fastify', '@fastify/*', 'handlebars', 'pino',
];
const adapterDirs = ['**/net/**', '**/services/**', '**/http/**', '**/store/**', '**/catalog/**', '**/lab/**', '**/install/**', '**/bmc/ipmi/**', '**/bmc/redfish/**', '**/cli/**', '**/main', '**/main.js', '**/cli', '**/cli.js'];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.cache/**', 'build/**', 'var/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', URL: 'readonly', fetch: 'readonly', AbortController: 'readonly', AbortSignal: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    // catalog/cloudinit/ (the coreos-cloudinit -validate port) and bmc/*.ts (the BMC port and workflows) are pure too
    files: ['server/core/**/*.ts', 'server/protocol/**/*.ts', 'server/catalog/cloudinit/**/*.ts', 'server/bmc/*.ts', 'server/bmc/redfish/resources.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: ioModules.filter((m) => !m.includes('*')).map((name) => ({ name, message: 'core/, protocol/ and bmc/*.ts are pure: do I/O in an adapter (net/, http/, store/, bmc/ipmi/).' })),
        patterns: [
          { group: ['@fastify/*'], message: 'core/, protocol/ and bmc/*.ts are pure.' },
          { group: adapterDirs, message: 'core/, protocol/ and bmc/*.ts must not depend on adapters.' },
        ],
      }],
      'no-restricted-globals': ['error', { name: 'process', message: 'core/, protocol/ and bmc/*.ts receive config; only main reads the environment.' }],
    },
  },
);
