// Types of the ES module entry of zerosend/fastify (see fastify.mjs).
import plugin = require('../dist/http/frameworks/fastify.js');
export default plugin;
export declare const zerosendFastify: typeof plugin;
