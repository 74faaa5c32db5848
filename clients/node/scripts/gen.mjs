#!/usr/bin/env node
// Regenerates src/gen/ from /proto with pinned tools:
//   protoc:   Debian protobuf-compiler 3.21.x (/usr/bin/protoc or PROTOC)
//   ts-proto: the exact version in package.json (protoc-gen-ts_proto from node_modules)
//
//   npm run gen         rewrite src/gen/
//   npm run gen:check   generate into a temp dir and fail if src/gen/ differs
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, mkdirSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const pkg = resolve(here, '..');
const protoRoot = resolve(pkg, '../../proto');
const protos = ['herald/v1/records.proto', 'herald/v1/broker.proto', 'herald/v1/admin.proto'];
const protoc = process.env.PROTOC ?? 'protoc';
const plugin = join(pkg, 'node_modules/.bin/protoc-gen-ts_proto');
// Options are part of the pinned output: changing one changes src/gen/.
const options = [
  'outputServices=grpc-js',
  'env=node',
  'esModuleInterop=true',
  'forceLong=number', // offsets and ids stay below 2^53; ts-proto throws rather than lose precision
  'importSuffix=.js', // ESM needs explicit extensions
  'useExactTypes=false',
  'outputJsonMethods=false',
  'outputPartialMethods=true',
].join(',');

const version = execFileSync(protoc, ['--version']).toString().trim();
if (!version.startsWith('libprotoc 3.21.')) {
  console.error(`gen: protoc is '${version}', want 'libprotoc 3.21.x' (Debian protobuf-compiler)`);
  process.exit(1);
}

function generate(out) {
  mkdirSync(out, { recursive: true });
  execFileSync(protoc, [`--plugin=protoc-gen-ts_proto=${plugin}`, `--ts_proto_out=${out}`,
    `--ts_proto_opt=${options}`, `-I${protoRoot}`, ...protos], { stdio: 'inherit' });
}

function listFiles(dir, base = dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? listFiles(p, base) : [relative(base, p)];
  }).sort();
}

const target = join(pkg, 'src/gen');
const tmp = mkdtempSync(join(tmpdir(), 'herald-node-gen-'));
try {
  generate(tmp);
  if (process.argv.includes('--check')) {
    const want = listFiles(tmp);
    let have = [];
    try { have = listFiles(target); } catch { /* missing: stale */ }
    const stale = want.filter((f) => !have.includes(f) ||
      !readFileSync(join(tmp, f)).equals(readFileSync(join(target, f))));
    const extra = have.filter((f) => !want.includes(f));
    if (stale.length || extra.length) {
      console.error(`gen:check: src/gen is stale (differs: ${[...stale, ...extra].join(', ')}); run npm run gen`);
      process.exit(1);
    }
    console.log('gen:check: src/gen is up to date');
  } else {
    rmSync(target, { recursive: true, force: true });
    cpSync(tmp, target, { recursive: true });
    console.log(`gen: wrote ${listFiles(target).length} files to src/gen`);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
