// ES module user: `import { transfer } from 'zerosend'` and the default import, one instance.
import zerosendDefault, * as zerosend from 'zerosend';
import { createRequire } from 'node:module';

import lib from './smoke-lib.cjs';

const require = createRequire(import.meta.url);
try {
  if (zerosendDefault !== require('zerosend')) throw new Error('import and require see two different instances');
  for (const name of Object.keys(require('zerosend'))) {
    if (!(name in zerosend)) throw new Error(`ESM entry lacks the export ${name}`);
  }
  await lib.runSmoke(zerosend, 'esm');
} catch (error) {
  console.error(`smoke (esm) failed: ${error.stack || error}`);
  process.exit(1);
}
