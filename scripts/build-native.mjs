#!/usr/bin/env node
// Builds the native backend (native/ → native/build/Release/xverse_native.node) with node-gyp.
// Run by `npm ci` / `npm install` (the "install" script) and by `npm run build:native`.
//
// The addon is optional: when it cannot be built (no compiler, no Node headers, an unsupported
// platform) this prints ONE warning and exits 0, so installing never fails; xverse-ts then runs on
// its TypeScript backend. `--strict` (npm run build:native) or XVERSE_NATIVE_STRICT=1 makes a failed
// build an error instead (CI, development); `--verbose` shows node-gyp's output.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const nativeDir = path.join(root, 'native');
const strict = process.argv.includes('--strict') || process.env.XVERSE_NATIVE_STRICT === '1';
const verbose = process.argv.includes('--verbose');

if (process.env.XVERSE_SKIP_NATIVE === '1') {
  console.log('xverse-ts: XVERSE_SKIP_NATIVE=1, not building the native backend');
  process.exit(0);
}

/** How to run node-gyp: npm's bundled copy first (no download), then one on PATH, then npx. */
function nodeGypCommand() {
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm && fs.existsSync(fromNpm)) return [process.execPath, [fromNpm]];
  // npm installed beside this node (…/bin/node → …/lib/node_modules/npm/…)
  const bundled = path.resolve(path.dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js');
  if (fs.existsSync(bundled)) return [process.execPath, [bundled]];
  const onPath = spawnSync(process.platform === 'win32' ? 'where' : 'which', ['node-gyp'], { encoding: 'utf8' });
  if (onPath.status === 0 && onPath.stdout.trim()) return [onPath.stdout.trim().split(/\r?\n/)[0], []];
  return [process.platform === 'win32' ? 'npx.cmd' : 'npx', ['--yes', 'node-gyp']];
}

/** Node's own headers when they are installed beside it (distro packages, official tarballs): no download. */
function nodedirArgs() {
  if (process.env.npm_config_nodedir) return [];
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  return fs.existsSync(path.join(prefix, 'include/node/node_api.h')) ? [`--nodedir=${prefix}`] : [];
}

function warn(reason) {
  const message = `xverse-ts: native backend not built: ${reason}; xverse-ts will use the slower TypeScript backend`;
  if (strict) {
    console.error(message);
    process.exit(1);
  }
  console.warn(message);
  process.exit(0);
}

const [cmd, prefixArgs] = nodeGypCommand();
const args = [...prefixArgs, 'rebuild', '--release', ...nodedirArgs(), `--jobs=${Math.max(1, (await import('node:os')).cpus().length)}`];
const started = Date.now();
const result = spawnSync(cmd, args, { cwd: nativeDir, encoding: 'utf8', stdio: verbose ? 'inherit' : 'pipe', shell: process.platform === 'win32' });
if (result.error) warn(`could not run node-gyp (${result.error.message})`);
if (result.status !== 0) {
  const output = `${result.stdout ?? ''}\n${result.stderr ?? ''}`;
  // The first compiler error, else node-gyp's own error, says most; the full log goes to build.log.
  const lines = output.split('\n').map((l) => l.trim());
  const first = lines.find((l) => /: (fatal )?error:|command not found/.test(l))
    ?? lines.find((l) => l.startsWith('gyp ERR! stack Error:'))?.replace('gyp ERR! stack Error:', '').trim()
    ?? lines.find((l) => /ERR!|error/i.test(l))
    ?? `node-gyp exited with ${result.status}`;
  try {
    fs.mkdirSync(path.join(nativeDir, 'build'), { recursive: true });
    fs.writeFileSync(path.join(nativeDir, 'build/build.log'), output);
  } catch { /* the log is a convenience */ }
  warn(`${first.slice(0, 300)} (full log: native/build/build.log)`);
}
const built = path.join(nativeDir, 'build/Release/xverse_native.node');
if (!fs.existsSync(built)) warn(`node-gyp succeeded but ${path.relative(root, built)} is missing`);
console.log(`xverse-ts: native backend built in ${((Date.now() - started) / 1000).toFixed(1)} s (${path.relative(root, built)})`);
