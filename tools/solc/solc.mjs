#!/usr/bin/env node
// A `solc` command-line front end over solc-js (npm `solc`, the emscripten build), so that
// forge, slither and snark-verifier-sdk can use solc 0.8.37 on machines that cannot download a
// native compiler. It implements the subset of the native CLI those tools call:
//
//   solc --version
//   solc [--allow-paths A,B] [--base-path P] [--include-path I]... --standard-json [FILE]
//   solc --bin [--optimize] [--evm-version V] -          (source on stdin; snark-verifier-sdk)
//
// Standard input is read asynchronously: forge hands it a non-blocking pipe on which a
// synchronous read fails with EAGAIN.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';

const require = createRequire(import.meta.url);
const solc = require('solc');

function nativeVersion() {
  // solc-js reports e.g. "0.8.37+commit.f401782d.Emscripten.clang"; the native CLI prints the
  // platform as Linux.g++, and tools parse this exact shape.
  const v = solc.version().replace(/\.Emscripten\.clang$/, '.Linux.g++');
  return `solc, the solidity compiler commandline interface\nVersion: ${v}\n`;
}

function readStdin() {
  return new Promise((resolve, reject) => {
    const chunks = [];
    process.stdin.on('data', (c) => chunks.push(c));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    process.stdin.on('error', reject);
  });
}

function parseArgs(argv) {
  const opts = { basePath: process.cwd(), includePaths: [], allowPaths: [], files: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const take = () => {
      if (i + 1 >= argv.length) fail(`missing value after ${a}`);
      return argv[++i];
    };
    if (a === '--version') opts.version = true;
    else if (a === '--standard-json') opts.standardJson = true;
    else if (a === '--bin') opts.bin = true;
    else if (a === '--optimize') opts.optimize = true;
    else if (a === '--base-path') opts.basePath = take();
    else if (a === '--include-path') opts.includePaths.push(take());
    else if (a === '--allow-paths') opts.allowPaths.push(...take().split(','));
    else if (a === '--evm-version') opts.evmVersion = take();
    else if (a === '--optimize-runs') opts.runs = Number(take());
    else if (a.startsWith('--')) fail(`unsupported option ${a} (this is a solc-js shim)`);
    else opts.files.push(a);
  }
  return opts;
}

function fail(msg) {
  process.stderr.write(`solc shim: ${msg}\n`);
  process.exit(1);
}

function importResolver(opts) {
  const roots = [opts.basePath, ...opts.includePaths, ...opts.allowPaths, process.cwd()];
  return (p) => {
    const candidates = path.isAbsolute(p) ? [p] : roots.map((r) => path.resolve(r, p));
    for (const c of candidates) {
      try {
        return { contents: fs.readFileSync(c, 'utf8') };
      } catch {
        /* try the next root */
      }
    }
    return { error: `File not found: ${p} (searched ${roots.join(', ')})` };
  };
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.version) {
    process.stdout.write(nativeVersion());
    return;
  }
  if (opts.standardJson) {
    const input = opts.files.length ? fs.readFileSync(opts.files[0], 'utf8') : await readStdin();
    process.stdout.write(solc.compile(input, { import: importResolver(opts) }));
    return;
  }
  if (opts.bin) {
    if (opts.files.length !== 1 || opts.files[0] !== '-') fail('--bin is supported with source on stdin (`-`) only');
    const source = await readStdin();
    const settings = {
      optimizer: { enabled: !!opts.optimize, runs: opts.runs ?? 200 },
      outputSelection: { '*': { '*': ['evm.bytecode.object'] } },
    };
    if (opts.evmVersion) settings.evmVersion = opts.evmVersion;
    const input = { language: 'Solidity', sources: { '<stdin>': { content: source } }, settings };
    const out = JSON.parse(solc.compile(JSON.stringify(input), { import: importResolver(opts) }));
    const errors = (out.errors ?? []).filter((e) => e.severity === 'error');
    if (errors.length) fail(errors.map((e) => e.formattedMessage).join('\n'));
    for (const [name, c] of Object.entries(out.contracts?.['<stdin>'] ?? {})) {
      process.stdout.write(`\n======= <stdin>:${name} =======\nBinary:\n${c.evm.bytecode.object}\n`);
    }
    return;
  }
  fail('nothing to do: pass --version, --standard-json or --bin -');
}

main().catch((e) => fail(e?.stack ?? String(e)));
