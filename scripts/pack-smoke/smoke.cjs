// CommonJS user: `require('zerosend')`.
'use strict';
require('./smoke-lib.cjs')
  .runSmoke(require('zerosend'), 'cjs')
  .catch((error) => {
    console.error(`smoke (cjs) failed: ${error.stack || error}`);
    process.exit(1);
  });
