import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// core/ and protocol/ are pure: no sockets, files, processes, database, HTTP or templates.
const ioModules = [
  'fs', 'node:fs', 'fs/promises', 'node:fs/promises', 'dgram', 'node:dgram', 'net', 'node:net',
  'http', 'node:http', 'child_process', 'node:child_process', 'os', 'node:os', 'process', 'node:process',
  'better-sqlite3', 'fastify', '@fastify/*', 'handlebars', 'pino',
];
const adapterDirs = ['**/net/**', '**/services/**', '**/http/**', '**/store/**', '**/catalog/**', '**/lab/**', '**/install/**', '**/main', '**/main.js', '**/cli', '**/cli.js'];

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
    // catalog/cloudinit/ (the coreos-cloudinit -validate port) is pure too
    files: ['server/core/**/*.ts', 'server/protocol/**/*.ts', 'server/catalog/cloudinit/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: ioModules.filter((m) => !m.includes('*')).map((name) => ({ name, message: 'core/ and protocol/ are pure: do I/O in an adapter (net/, http/, store/).' })),
        patterns: [
          { group: ['@fastify/*'], message: 'core/ and protocol/ are pure.' },
          { group: adapterDirs, message: 'core/ and protocol/ must not depend on adapters.' },
        ],
      }],
      'no-restricted-globals': ['error', { name: 'process', message: 'core/ and protocol/ receive config; only main reads the environment.' }],
    },
  },
);
