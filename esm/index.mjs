// The ES module entry of zerosend. The package is compiled to CommonJS (dist/); this file re-exports
// that one instance rather than shipping a second build, so `import` and `require` share one loader,
// one native binding and one fallback warning (no dual-package hazard). Node finds the named
// exports of dist/index.js statically (cjs-module-lexer); __test__/packaging.spec.ts checks that
// every CommonJS export is also an ESM export.
export * from '../dist/index.js';
export { default } from '../dist/index.js';
