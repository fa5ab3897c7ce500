// `npm run bench:indexing`: the CPU a write spends checking a resource and working out its search
// columns, with the interpreters (@medplum/core's R4 validator, every FHIRPath expression
// interpreted: the baseline) and with the compiled paths (resources/compiled-validation/,
// resources/search/compiled-expression.ts), over the same Synthea resources in the same process.
// The two take turns, round after round, so that a change in the machine's load falls on both.
// No database: this is the work a write does before its statement.
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { evalFhirPathTyped, toTypedValue } from '@medplum/core';
import { interpretedStructuralIssues, structuralIssues } from '../resources/compiled-validation/structure-validator.js';
import { loadValidation, validationErrors } from '../resources/validate.js';
import { compileExpression } from '../resources/search/compiled-expression.js';
import { indexValues, interpretedIndexValues } from '../resources/search/index-values.js';
import { hasRoot, indexedParameters, rootNames } from '../resources/search/parameters.js';

const USAGE = `npm run bench:indexing [-- --files N --rounds N --data folder]
  --files   Synthea patient records to read (default 10)
  --rounds  rounds of each side, alternating (default 8)
  --data    folder of FHIR Bundles (default ../shared/data/synthea-r4)`;

function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 && process.argv[at + 1] ? process.argv[at + 1] : fallback;
}

function loadResources(folder: string, files: number): Resource[] {
  const names = readdirSync(folder)
    .filter((name) => name.endsWith('.json'))
    .sort()
    .slice(0, files);
  return names.flatMap((name) => ((JSON.parse(readFileSync(join(folder, name), 'utf8')) as Bundle).entry ?? []).map((entry) => entry.resource as Resource));
}

/** µs of CPU per resource for `work` over every resource. */
function timed(resources: Resource[], work: (resource: Resource) => void): number {
  const started = process.cpuUsage();
  for (const resource of resources) work(resource);
  const used = process.cpuUsage(started);
  return (used.user + used.system) / resources.length;
}

/** Only the FHIRPath: every parameter's expression on the resource, one way or the other. */
function expressionsOnly(compiled: boolean): (resource: Resource) => void {
  return (resource) => {
    const root = [toTypedValue(resource)];
    const names = rootNames(resource as unknown as Record<string, unknown>);
    for (const parameter of indexedParameters(resource.resourceType).values()) {
      if (!hasRoot(names, parameter.roots)) continue;
      const run = compiled ? compileCached(parameter.parsed) : undefined;
      if (run) run(root);
      else evalFhirPathTyped(parameter.parsed, root, { '%resource': root[0] });
    }
  };
}

const compiledCache = new Map<unknown, ReturnType<typeof compileExpression>>();
function compileCached(parsed: Parameters<typeof compileExpression>[0]): ReturnType<typeof compileExpression> {
  if (!compiledCache.has(parsed)) compiledCache.set(parsed, compileExpression(parsed));
  return compiledCache.get(parsed);
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

function main(): void {
  if (process.argv.includes('--help')) {
    console.log(USAGE);
    return;
  }
  const files = Number(option('files', '10'));
  const rounds = Number(option('rounds', '8'));
  const folder = resolve(option('data', process.env.BENCH_IMPORT_DATA ?? '../shared/data/synthea-r4'));
  loadValidation();
  const resources = loadResources(folder, files);
  console.log(`bench:indexing: ${resources.length.toLocaleString('en')} resources from ${files} Synthea records, ${rounds} alternating rounds of each side`);
  const sides = {
    'validation and search columns, interpreted': (r: Resource) => void [validationErrors(r, interpretedStructuralIssues), interpretedIndexValues(r)],
    'validation and search columns, compiled': (r: Resource) => void [validationErrors(r), indexValues(r)],
    'R4 structural validation, interpreted': (r: Resource) => void interpretedStructuralIssues(r),
    'R4 structural validation, compiled': (r: Resource) => void structuralIssues(r),
    'search columns, interpreted': (r: Resource) => void interpretedIndexValues(r),
    'search columns, compiled': (r: Resource) => void indexValues(r),
    'FHIRPath only, interpreted': expressionsOnly(false),
    'FHIRPath only, compiled': expressionsOnly(true),
  };
  const figures = new Map<string, number[]>(Object.keys(sides).map((name) => [name, []]));
  // One warm-up round of each, then the measured ones.
  for (const work of Object.values(sides)) timed(resources, work);
  for (let round = 0; round < rounds; round++) for (const [name, work] of Object.entries(sides)) figures.get(name)?.push(timed(resources, work));
  console.log('\n| work per resource | median µs CPU | min | max |\n| --- | --- | --- | --- |');
  for (const [name, values] of figures) console.log(`| ${name} | ${median(values).toFixed(1)} | ${Math.min(...values).toFixed(1)} | ${Math.max(...values).toFixed(1)} |`);
  const ratio = (a: string, b: string) => (median(figures.get(a) ?? []) / median(figures.get(b) ?? [])).toFixed(2);
  console.log(`\nvalidation and search columns: the interpreters take ${ratio('validation and search columns, interpreted', 'validation and search columns, compiled')}× the compiled paths' CPU`);
  console.log(`R4 structural validation: the interpreter takes ${ratio('R4 structural validation, interpreted', 'R4 structural validation, compiled')}× the compiled path's CPU`);
  console.log(`search columns: the interpreter takes ${ratio('search columns, interpreted', 'search columns, compiled')}× the compiled path's CPU`);
  console.log(`FHIRPath alone: the interpreter takes ${ratio('FHIRPath only, interpreted', 'FHIRPath only, compiled')}× the compiled path's CPU`);
}

main();
