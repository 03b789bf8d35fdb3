// Types of the ES module entry of zerosend/koa (see koa.mjs).
export * from '../dist/http/frameworks/koa.js';
