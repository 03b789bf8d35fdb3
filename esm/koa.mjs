// The ES module entry of zerosend/koa: `serve` and `send`, re-exported from the one CommonJS
// instance (dist/), so `import` and `require` share one binding.
export * from '../dist/http/frameworks/koa.js';
