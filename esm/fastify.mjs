// The ES module entry of zerosend/fastify: the plugin, as the default export and by name. Like the
// main entry, it re-exports the one CommonJS instance (dist/), so `import` and `require` share one
// binding. (cjs-module-lexer cannot see the name Object.assign adds there: it is named here.)
import plugin from '../dist/http/frameworks/fastify.js';

export default plugin;
export const zerosendFastify = plugin;
