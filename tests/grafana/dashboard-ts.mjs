// node dashboard-ts.mjs DASHBOARD.json OUT.ts
// Writes a TypeScript module holding the dashboard as an object literal checked with
// `satisfies` against the types in dashboard-types.ts (a JSON import would widen every string
// to `string` and skip excess property checks, so the literal is written out instead).
import { readFileSync, writeFileSync } from 'node:fs';

const [src, out] = process.argv.slice(2);
if (!src || !out) {
  console.error('usage: node dashboard-ts.mjs DASHBOARD.json OUT.ts');
  process.exit(2);
}
const text = JSON.stringify(JSON.parse(readFileSync(src, 'utf8')), null, 2);
writeFileSync(
  out,
  `// Generated from ${src} by dashboard-ts.mjs: do not edit.\n` +
    `import type { JoulesDashboard, SchemaDashboard } from './dashboard-types.js';\n\n` +
    `export const dashboard = ${text} satisfies JoulesDashboard;\n\n` +
    `export const schemaDashboard: SchemaDashboard = dashboard;\n`,
);
