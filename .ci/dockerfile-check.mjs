// Runs the Dockerfile without Docker (which these machines lack): each stage's COPY, ENV, WORKDIR
// and build-stage RUN steps in a scratch folder standing for the image's root, then the final
// stage's CMD, checked to start and serve its CapabilityStatement. What it cannot run as the image
// would (the final stage's RUN lines, which prepare the operating system: users, owners of
// folders) it names and skips; absolute paths in ENV are mapped into the scratch root.
import { execSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';

const repo = resolve(dirname(new URL(import.meta.url).pathname), '..');
const lines = readFileSync(join(repo, 'Dockerfile'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
const stages = [];
for (const line of lines) {
  const [op, ...rest] = line.split(/\s+/);
  const args = line.slice(op.length).trim();
  if (op === 'FROM') stages.push({ name: /\bAS\s+(\S+)/i.exec(args)?.[1], steps: [], root: mkdtempSync(join(tmpdir(), 'kiln-image-')) });
  else stages.at(-1).steps.push({ op, args, rest });
}
const scratch = stages.map((s) => s.root);
// The image's absolute paths, inside the folder standing for its root.
const inRoot = (root, path) => join(root, path);

function runStage(stage, final) {
  let workdir = stage.root;
  const env = {};
  let cmd;
  for (const { op, args, rest } of stage.steps) {
    switch (op) {
      case 'WORKDIR':
        workdir = inRoot(stage.root, args);
        mkdirSync(workdir, { recursive: true });
        break;
      case 'ENV':
        for (const [, key, value] of args.matchAll(/(\w+)=(\S+)/g)) env[key] = value.startsWith('/') ? inRoot(stage.root, value) : value;
        break;
      case 'COPY': {
        const from = /^--from=(\S+)$/.exec(rest[0])?.[1];
        const paths = from ? rest.slice(1) : rest;
        const destination = paths.at(-1);
        const source = from ? stages.find((s) => s.name === from) : undefined;
        for (const path of paths.slice(0, -1)) {
          const origin = source ? inRoot(source.root, path) : join(repo, path);
          const base = destination.startsWith('/') ? inRoot(stage.root, destination) : join(workdir, destination);
          const target = destination.endsWith('/') ? join(base, basename(path)) : base;
          if (!existsSync(origin)) throw new Error(`COPY ${path}: not found (${origin})`);
          cpSync(origin, target, { recursive: true });
        }
        break;
      }
      case 'RUN':
        if (final) {
          console.log(`(skipped in the final stage, it prepares the operating system) RUN ${args}`);
          break;
        }
        console.log(`RUN ${args}`);
        execSync(args, { cwd: workdir, stdio: 'inherit', shell: '/bin/bash', env: { ...process.env, ...env } });
        break;
      case 'CMD':
        cmd = JSON.parse(args);
        break;
      default:
        console.log(`(not checked here) ${op} ${args}`);
    }
  }
  return { workdir, env, cmd };
}

async function main() {
  let last;
  stages.forEach((stage, i) => (last = runStage(stage, i === stages.length - 1)));
  const port = 20_000 + Math.floor(Math.random() * 10_000);
  const child = spawn(last.cmd[0], last.cmd.slice(1), { cwd: last.workdir, env: { PATH: process.env.PATH, ...last.env, PORT: String(port), HOST: '127.0.0.1' }, stdio: ['ignore', 'inherit', 'inherit'] });
  try {
    for (let i = 0; ; i++) {
      if (child.exitCode !== null) throw new Error(`the image's command exited with ${child.exitCode}`);
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(2000) }).then((r) => r.ok, () => false);
      if (ready) break;
      if (i > 600) throw new Error("the image's command did not become ready within a minute");
      await new Promise((r) => setTimeout(r, 100));
    }
    const metadata = await fetch(`http://127.0.0.1:${port}/fhir/metadata`);
    if (metadata.status !== 200) throw new Error(`GET /fhir/metadata answered ${metadata.status}`);
    console.log('The image builds, starts and serves its CapabilityStatement.');
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    for (const root of scratch) rmSync(root, { recursive: true, force: true });
  }
}

main().catch((error) => {
  for (const root of scratch) rmSync(root, { recursive: true, force: true });
  console.error(`Dockerfile check failed: ${error.message}`);
  process.exit(1);
});
