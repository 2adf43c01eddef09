// Import rules for src/, checked by `npm run lint` (docs/architecture.md#layers): no import cycles,
// src/ never imports test, bench or chaos code, and a layer imports only its own layer and those
// below it. Type-only imports count: a cycle through types is still a cycle in the design.

/** Lowest first; a module belongs to the first layer whose path matches. */
const layers = [
  { name: 'foundation', path: '^src/(errors|storable|events|sql-files|webhook-signature)[.]ts$|^src/config/' },
  { name: 'engine', path: '^src/streams/' },
  { name: 'domain', path: '^src/(projections|consumers|llm|tenants|telemetry|admin)/' },
  { name: 'edges', path: '^src/(ingest|console|replay)/' },
  { name: 'runtime', path: '^src/runtime/' },
  { name: 'cli', path: '^src/cli/' },
];

const above = (index) => layers.slice(index + 1).map((layer) => `(${layer.path})`);

/** One rule per layer: nothing in it imports a higher layer. */
const layerRules = layers.slice(0, -1).map((layer, index) => ({
  name: `layer-${layer.name}`,
  comment: `${layer.name} must not import a higher layer (${layers
    .slice(index + 1)
    .map((higher) => higher.name)
    .join(', ')})`,
  severity: 'error',
  from: { path: layer.path },
  to: { path: above(index) },
}));

export default {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'import cycles make load order and ownership unclear',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'no-test-code',
      comment: 'src/ is the product: it never imports tests, benchmarks or chaos scenarios',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|bench|chaos)/' },
    },
    {
      name: 'in-a-layer',
      comment: 'every module of src/ belongs to a layer (add new folders to .dependency-cruiser.mjs)',
      severity: 'error',
      from: { path: '^src/', pathNot: [...layers.map((layer) => layer.path), '^src/[^/]+[.]d[.]ts$'] },
      to: { path: '^src/' },
    },
    ...layerRules,
  ],
  options: {
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    includeOnly: '^(src|test|bench|chaos)/',
  },
};
