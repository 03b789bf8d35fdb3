// The ES module entry of zerosend/fastify: the plugin, as the default export. Like the main entry,
// it re-exports the one CommonJS instance (dist/), so `import` and `require` share one binding.
export { default } from '../dist/http/frameworks/fastify.js';
