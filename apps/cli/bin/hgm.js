#!/usr/bin/env node
import('../dist/main.js')
  .then((m) => m.run(process.argv))
  .catch((e) => {
    console.error(e && e.stack ? e.stack : e);
    process.exit(70);
  });
