// Types of the ES module entry: the same API as the CommonJS entry (see index.mjs).
export * from '../dist/index.js';
import * as zerosend from '../dist/index.js';
export default zerosend;
