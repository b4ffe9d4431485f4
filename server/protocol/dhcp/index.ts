export * from './constants.js';
export * from './packet.js';
export * from './decode.js';
export * from './encode.js';
export * from './options.js';
export * from './pxe-options.js';
