#!/usr/bin/env node
/**
 * Sets up native TensorFlow for @tensorflow/tfjs-node without Google's libtensorflow bucket.
 *
 * tfjs-node's own installer downloads libtensorflow 2.9.1 from storage.googleapis.com, which
 * answers 403 (tensorflow/tfjs#8742) or is unreachable. TensorFlow's maintainers point C-library
 * users at the PyPI wheel instead (tensorflow/tensorflow#47065), so this script:
 *   1. makes sure @tensorflow/tfjs-node is in node_modules (npm 10 removes it when its own
 *      install script fails; npm 11 keeps it but never runs that script);
 *   2. with TFJS_NODE_BASE_URI / TFJS_NODE_CDN_STORAGE set, first tries tfjs-node's own
 *      installer against that mirror;
 *   3. otherwise `pip download --no-deps` the pinned tensorflow-cpu wheel, checks its sha256,
 *      and takes libtensorflow_cc.so.2 (which exports the TF_/TFE_ C API), the framework
 *      library and the C headers out of it;
 *   4. builds tfjs-node's addon from source with node-pre-gyp, node-gyp and the machine's g++;
 *   5. lays the libraries and the addon out where tfjs-node loads them, and checks in a child
 *      process that `tensorflow` becomes the backend with every symbol resolved (LD_BIND_NOW);
 *   6. compiles windcast's fused LSTM kernels (native/lstm_ops.cc, TensorFlow's C kernel API
 *      plus Eigen from the same wheel) into deps/lib/windcast_lstm_ops.node, for this CPU's
 *      instruction level, and checks in a child process that the op registers and computes.
 *      Rebuilt whenever native/lstm_ops.cc changes (src/runtime/lstm-kernels.ts refuses a stale build).
 * The shared flags, log and helpers are in setup-native/shared.mjs, step 6 in setup-native/lstm-ops.mjs.
 * Everything expensive is cached outside the repository (default ~/.cache/windcast/native), so
 * a second install, or CI on the same machine, takes seconds. ABI facts: docs/native-backend.md.
 *
 * Usage: node scripts/setup-native.mjs [--optional] [--force] [--check]
 *   --optional  never fail (npm postinstall): on any problem print one line saying how to
 *               enable native TensorFlow later, and exit 0
 *   --force     rebuild even when native TensorFlow already loads / the cache is filled
 *   --check     only report whether native TensorFlow loads (exit 0 yes, 1 no)
 * Environment: WINDCAST_NATIVE_CACHE (cache folder), WINDCAST_SKIP_NATIVE=1 (do nothing),
 *   WINDCAST_TF_WHEEL (use this local wheel file instead of pip download; sha256 still checked),
 *   TFJS_NODE_BASE_URI / TFJS_NODE_CDN_STORAGE (tfjs-node's own mirror variables).
 */
import { spawnSync } from 'node:child_process';
import {
  copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync, cpSync, chmodSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { lstmOpsCurrent, setUpLstmOps } from './setup-native/lstm-ops.mjs';
import {
  ENABLE_LATER, ROOT, SetupError, WHEEL, cacheRoot, checkOnly, force, linkOrCopy, logFile, openLog, optional, packageDir,
  readJson, run, say, sha256, started,
} from './setup-native/shared.mjs';

/** Members of the wheel we keep: the C API library, its framework library, the C headers. */
const WHEEL_LIBS = ['tensorflow/libtensorflow_cc.so.2', 'tensorflow/libtensorflow_framework.so.2'];
/**
 * The addon includes only tensorflow/c/** (c_api.h, eager/c_api.h) and what they pull in: the
 * C tstring headers and xla/tsl's C status header (g++ -M over binding/*.cc); native/lstm_ops.cc
 * adds tensorflow/c/kernels.h, ops.h and Eigen; ~11 MB, not the wheel's 287 MB include tree.
 */
const WHEEL_HEADER_PREFIXES = [
  'tensorflow/include/tensorflow/c/',
  // native/lstm_ops.cc: kernels.h pulls in the rendezvous C API header; Eigen (header-only,
  // 7.6 MB) does its GEMM.
  'tensorflow/include/tensorflow/core/common_runtime/next_pluggable_device/c/',
  'tensorflow/include/Eigen/',
  'tensorflow/include/tensorflow/core/platform/',
  'tensorflow/include/tsl/platform/',
  'tensorflow/include/xla/tsl/c/',
];

/**
 * Check in a fresh process that tfjs-node loads with every symbol resolved now (LD_BIND_NOW:
 * a C function missing from the library fails here, not mid-training), makes 'tensorflow' the
 * backend and computes. Returns the TensorFlow version, or throws SetupError with the reason.
 */
function verifyNative() {
  const probe = `
    const tf = require('@tensorflow/tfjs-node');
    const y = tf.matMul(tf.tensor2d([[1, 2], [3, 4]]), tf.tensor2d([[5], [6]])).dataSync();
    if (tf.getBackend() !== 'tensorflow' || y[0] !== 17 || y[1] !== 39) throw new Error('wrong result ' + tf.getBackend() + ' ' + y);
    process.stdout.write(JSON.stringify({ tf: tf.backend().binding.TF_Version, tfjsNode: tf.version['tfjs-node'] }));`;
  const result = run(process.execPath, ['-e', probe], {
    env: { ...process.env, LD_BIND_NOW: '1', TF_CPP_MIN_LOG_LEVEL: '2' },
    allowFail: true,
    what: 'loading @tensorflow/tfjs-node',
  });
  if (result.status !== 0) {
    const message = (result.stderr || '').split('\n').find((l) => /Error|error:|undefined symbol|cannot open/.test(l)) ?? `exit ${result.status}`;
    throw new SetupError(`@tensorflow/tfjs-node does not load: ${message.trim()}`);
  }
  return JSON.parse(result.stdout.trim().split('\n').pop());
}

function nativeLoads() {
  try {
    return verifyNative();
  } catch {
    return undefined;
  }
}

/** npm command for a nested install: the npm that runs us when there is one. */
function npmCommand() {
  const execPath = process.env.npm_execpath;
  if (execPath && /npm-cli\.js$/.test(execPath)) return [process.execPath, [execPath]];
  return ['npm', []];
}

/**
 * npm 10 runs tfjs-node's install script, which fails without the bucket, and then removes
 * the optional package and its own dependencies. Reinstall them from the lock file with
 * scripts off, so the download is never attempted again.
 */
function ensureTfjsNode() {
  let dir = packageDir('@tensorflow/tfjs-node');
  if (dir && packageDir('@mapbox/node-pre-gyp')) return dir;
  say('@tensorflow/tfjs-node is missing from node_modules (npm 10 removes it when its own download fails); reinstalling it from the lock file with scripts off');
  const [cmd, pre] = npmCommand();
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_(lifecycle|package)_/.test(k)));
  run(cmd, [...pre, 'install', '--ignore-scripts', '--no-audit', '--no-fund', '--no-save'], { env, what: 'npm install --ignore-scripts' });
  dir = packageDir('@tensorflow/tfjs-node');
  if (!dir) throw new SetupError('@tensorflow/tfjs-node is still not installed after npm install --ignore-scripts');
  return dir;
}

function findPython() {
  for (const cmd of ['python3', 'python']) {
    const r = spawnSync(cmd, ['-m', 'pip', '--version'], { encoding: 'utf8' });
    if (r.status === 0) return cmd;
  }
  throw new SetupError('pip is not available (tried python3 -m pip and python -m pip); install python3-pip');
}

/** Download (or take WINDCAST_TF_WHEEL), verify and unpack the wheel's libraries into the cache. */
async function ensureTensorflowLibrary() {
  const dest = join(cacheRoot, `${WHEEL.name}-${WHEEL.version}-${WHEEL.sha256.slice(0, 12)}`);
  const complete = ['Eigen/Core', 'tensorflow/core/common_runtime/next_pluggable_device/c/tf_rendezvous_c_api.h'];
  if (existsSync(join(dest, 'wheel.json')) && complete.every((h) => existsSync(join(dest, 'include', h)))) return dest;
  // Unpacked by an older windcast, without the headers the fused kernels need: unpack again.
  if (existsSync(dest)) rmSync(dest, { recursive: true, force: true });
  const python = findPython();
  const stage = mkdtempSync(join(cacheRoot, 'stage-lib-'));
  try {
    let wheelPath = process.env.WINDCAST_TF_WHEEL;
    if (wheelPath) {
      say(`using the local wheel ${wheelPath}`);
    } else {
      say(`downloading ${WHEEL.name}==${WHEEL.version} (${WHEEL.file}, ~275 MB) with pip`);
      run(python, ['-m', 'pip', 'download', '--no-deps', '--only-binary=:all:', '--platform', WHEEL.platform,
        '--python-version', WHEEL.pythonVersion, '--implementation', 'cp', '--abi', WHEEL.abi,
        '--progress-bar', 'off', '-d', stage, `${WHEEL.name}==${WHEEL.version}`], { what: 'pip download' });
      wheelPath = join(stage, WHEEL.file);
      if (!existsSync(wheelPath)) {
        throw new SetupError(`pip download did not produce ${WHEEL.file} (got: ${readdirSync(stage).join(', ') || 'nothing'})`);
      }
    }
    const hash = await sha256(wheelPath);
    if (hash !== WHEEL.sha256) {
      throw new SetupError(`${wheelPath}: sha256 ${hash} is not the pinned ${WHEEL.sha256} of ${WHEEL.file}`);
    }
    say('unpacking libtensorflow_cc.so.2, libtensorflow_framework.so.2 and the C headers');
    // Python's zipfile: pip implies Python, while unzip is often not installed.
    const extract = `
import sys, zipfile, os
wheel, out, libs, prefixes = sys.argv[1], sys.argv[2], sys.argv[3].split(','), sys.argv[4].split(',')
with zipfile.ZipFile(wheel) as z:
    names = z.namelist()
    missing = [l for l in libs if l not in names]
    if missing: sys.exit('wheel lacks ' + ', '.join(missing))
    for n in names:
        if n in libs:
            z.extract(n, os.path.join(out, 'raw'))
        elif any(n.startswith(p) for p in prefixes) and not n.endswith('/'):
            z.extract(n, os.path.join(out, 'raw'))
`;
    run(python, ['-c', extract, wheelPath, stage, WHEEL_LIBS.join(','), WHEEL_HEADER_PREFIXES.join(',')], { what: 'unpacking the wheel' });
    mkdirSync(join(stage, 'lib'));
    for (const lib of WHEEL_LIBS) {
      const base = lib.split('/').pop();
      renameSync(join(stage, 'raw', lib), join(stage, 'lib', base));
      chmodSync(join(stage, 'lib', base), 0o755);
    }
    renameSync(join(stage, 'raw', 'tensorflow', 'include'), join(stage, 'include'));
    rmSync(join(stage, 'raw'), { recursive: true, force: true });
    if (!process.env.WINDCAST_TF_WHEEL) rmSync(wheelPath, { force: true });
    writeFileSync(join(stage, 'wheel.json'), JSON.stringify({ ...WHEEL, unpackedAt: new Date().toISOString() }, null, 2) + '\n');
    try {
      renameSync(stage, dest);
    } catch (err) {
      if (!existsSync(join(dest, 'wheel.json'))) throw err; // else a parallel install won the race
    }
    return dest;
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

/** The node headers node-gyp needs: the running Node's own install, else node-gyp downloads them. */
function nodeDir() {
  const candidates = [process.env.npm_config_nodedir, resolve(dirname(process.execPath), '..')].filter(Boolean);
  return candidates.find((dir) => existsSync(join(dir, 'include', 'node', 'node_api.h')));
}

/** Lay libtensorflow out the way binding.gyp links it and the addon's rpath finds it. */
function layOutLibraries(tfLibDir, depsDir) {
  const lib = join(depsDir, 'lib');
  mkdirSync(lib, { recursive: true });
  for (const name of readdirSync(lib)) rmSync(join(lib, name), { force: true, recursive: true });
  linkOrCopy(join(tfLibDir, 'lib', 'libtensorflow_cc.so.2'), join(lib, 'libtensorflow_cc.so.2'));
  linkOrCopy(join(tfLibDir, 'lib', 'libtensorflow_framework.so.2'), join(lib, 'libtensorflow_framework.so.2'));
  // -ltensorflow finds libtensorflow.so; the addon then records the SONAME libtensorflow_cc.so.2.
  symlinkSync('libtensorflow_cc.so.2', join(lib, 'libtensorflow.so'));
  symlinkSync('libtensorflow_cc.so.2', join(lib, 'libtensorflow.so.2'));
  symlinkSync('libtensorflow_framework.so.2', join(lib, 'libtensorflow_framework.so'));
}

/** Build tfjs-node's addon once per (tfjs-node, wheel, N-API version) in a scratch copy. */
function ensureAddon(tfjsNodeDir, tfLibDir, key) {
  const dest = join(cacheRoot, key);
  if (!force && existsSync(join(dest, 'addon.json'))) return dest;
  const nodePreGyp = join(packageDir('@mapbox/node-pre-gyp') ?? '', 'bin', 'node-pre-gyp');
  if (!existsSync(nodePreGyp)) throw new SetupError('@mapbox/node-pre-gyp (a dependency of tfjs-node) is not installed');
  for (const tool of ['g++', 'make']) {
    if (spawnSync(tool, ['--version']).status !== 0) throw new SetupError(`${tool} is not installed (apt-get install build-essential)`);
  }
  const python = findPython();
  const stage = mkdtempSync(join(cacheRoot, 'stage-addon-'));
  try {
    const src = join(stage, 'tfjs-node');
    mkdirSync(src);
    for (const part of ['binding', 'binding.gyp', 'package.json']) cpSync(join(tfjsNodeDir, part), join(src, part), { recursive: true });
    layOutLibraries(tfLibDir, join(src, 'deps'));
    symlinkSync(join(tfLibDir, 'include'), join(src, 'deps', 'include'));
    const dir = nodeDir();
    const gypArgs = ['install', '--build-from-source', `--python=${python}`, ...(dir ? [`--nodedir=${dir}`] : [])];
    say(`building tfjs-node's addon from source with node-gyp and g++ (a few minutes, once; log: ${logFile})`);
    run(process.execPath, [nodePreGyp, ...gypArgs], { cwd: src, env: { ...process.env, JOBS: 'max' }, what: 'node-pre-gyp install --build-from-source' });
    const libOut = join(src, 'lib');
    const napiDirs = existsSync(libOut) ? readdirSync(libOut).filter((d) => existsSync(join(libOut, d, 'tfjs_binding.node'))) : [];
    if (napiDirs.length === 0) throw new SetupError(`the build produced no tfjs_binding.node under ${libOut}`);
    mkdirSync(join(stage, 'out'));
    for (const d of napiDirs) {
      mkdirSync(join(stage, 'out', d));
      copyFileSync(join(libOut, d, 'tfjs_binding.node'), join(stage, 'out', d, 'tfjs_binding.node'));
    }
    const gxx = spawnSync('g++', ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0];
    writeFileSync(join(stage, 'out', 'addon.json'), JSON.stringify({ key, napiDirs, gxx, node: process.version, builtAt: new Date().toISOString() }, null, 2) + '\n');
    rmSync(dest, { recursive: true, force: true });
    try {
      renameSync(join(stage, 'out'), dest);
    } catch (err) {
      if (!existsSync(join(dest, 'addon.json'))) throw err;
    }
    return dest;
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

function installAddon(addonDir, tfjsNodeDir) {
  const meta = readJson(join(addonDir, 'addon.json'));
  for (const d of meta.napiDirs) {
    mkdirSync(join(tfjsNodeDir, 'lib', d), { recursive: true });
    copyFileSync(join(addonDir, d, 'tfjs_binding.node'), join(tfjsNodeDir, 'lib', d, 'tfjs_binding.node'));
  }
}

/** Mirror users: tfjs-node's own installer reads TFJS_NODE_BASE_URI / TFJS_NODE_CDN_STORAGE. */
function tryMirror(tfjsNodeDir) {
  const baseUri = process.env.TFJS_NODE_BASE_URI || process.env.npm_config_TFJS_NODE_BASE_URI || process.env.npm_config_tfjs_node_base_uri;
  const cdn = process.env.TFJS_NODE_CDN_STORAGE || process.env.npm_config_TFJS_NODE_CDN_STORAGE || process.env.npm_config_tfjs_node_cdn_storage;
  if (!baseUri && !cdn) return undefined;
  say(`trying tfjs-node's own installer with your mirror (${baseUri ? `TFJS_NODE_BASE_URI=${baseUri}` : `TFJS_NODE_CDN_STORAGE=${cdn}`})`);
  const pkg = join(tfjsNodeDir, 'package.json');
  const pkgBefore = readFileSync(pkg);
  const result = run(process.execPath, ['scripts/install.js'], {
    cwd: tfjsNodeDir,
    allowFail: true,
    timeoutMs: 20 * 60 * 1000,
    env: { ...process.env, ...(baseUri ? { TFJS_NODE_BASE_URI: baseUri } : {}), ...(cdn ? { TFJS_NODE_CDN_STORAGE: cdn } : {}) },
  });
  // install.js rewrites package.json's "binary" while it runs and may die before restoring it.
  writeFileSync(pkg, pkgBefore);
  if (result.status !== 0) {
    say(`the mirror install failed (see ${logFile}); using the PyPI wheel instead`);
    return undefined;
  }
  try {
    const versions = verifyNative();
    writeFileSync(join(tfjsNodeDir, 'deps', 'windcast-native.json'), JSON.stringify({
      source: 'tfjs-node-mirror', baseUri: baseUri ?? `${cdn}tensorflow/libtensorflow/`, tensorflowVersion: versions.tf, builtAt: new Date().toISOString(),
    }, null, 2) + '\n');
    return versions;
  } catch (err) {
    say(`the mirror's libtensorflow does not load (${err.message}); using the PyPI wheel instead`);
    return undefined;
  }
}

async function main() {
  if (process.env.WINDCAST_SKIP_NATIVE === '1') {
    say('WINDCAST_SKIP_NATIVE=1: skipped; windcast will use the wasm backend');
    return;
  }
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new SetupError(`native TensorFlow from the PyPI wheel is set up for Linux x86-64 only (this is ${process.platform} ${process.arch}); windcast uses wasm`);
  }
  if (checkOnly) {
    const v = nativeLoads();
    if (!v) throw new SetupError('native TensorFlow does not load');
    say(`native TensorFlow ${v.tf} loads (tfjs-node ${v.tfjsNode})`);
    return;
  }
  mkdirSync(cacheRoot, { recursive: true });
  openLog(join(cacheRoot, 'setup.log'), `windcast setup-native ${new Date().toISOString()} node ${process.version} in ${ROOT}\n`);

  const tfjsNodeDir = ensureTfjsNode();
  const tfjsNodeVersion = readJson(join(tfjsNodeDir, 'package.json')).version;
  const markerFile = join(tfjsNodeDir, 'deps', 'windcast-native.json');

  if (!force) {
    const v = nativeLoads();
    if (v) {
      const origin = existsSync(markerFile) ? readJson(markerFile).source : "tfjs-node's own installer";
      if (origin !== 'pypi-wheel') {
        // The kernels compile against the wheel's headers, which a mirror's libtensorflow lacks.
        say(`native TensorFlow ${v.tf} already loads (tfjs-node ${v.tfjsNode}, from ${origin}); the fused LSTM kernels need the PyPI wheel's build (--force)`);
        return;
      }
      if (await lstmOpsCurrent(tfjsNodeDir)) {
        say(`native TensorFlow ${v.tf} and the fused LSTM kernels already load (tfjs-node ${v.tfjsNode}, from ${origin}); nothing to do`);
        return;
      }
      if (await setUpLstmOps(tfjsNodeDir, await ensureTensorflowLibrary())) {
        say(`native TensorFlow ${v.tf} already loaded; fused LSTM kernels (re)built for native/lstm_ops.cc (${((Date.now() - started) / 1000).toFixed(0)} s)`);
      }
      return;
    }
  }

  const fromMirror = tryMirror(tfjsNodeDir);
  if (fromMirror) {
    say(`native TensorFlow ${fromMirror.tf} ready from your mirror (${((Date.now() - started) / 1000).toFixed(0)} s)`);
    return;
  }

  const tfLibDir = await ensureTensorflowLibrary();
  // The addon uses N-API, so it depends on the N-API level node-pre-gyp builds for, not on the
  // Node major: one build serves every Node with that N-API level.
  const napi = readJson(join(tfjsNodeDir, 'package.json')).binary.napi_versions.filter((v) => v <= Number(process.versions.napi)).pop();
  const key = `addon-tfjs-node-${tfjsNodeVersion}-tensorflow-cpu-${WHEEL.version}-napi${napi}-linux-x64`;
  const cached = !force && existsSync(join(cacheRoot, key, 'addon.json'));
  const addonDir = ensureAddon(tfjsNodeDir, tfLibDir, key);

  layOutLibraries(tfLibDir, join(tfjsNodeDir, 'deps'));
  installAddon(addonDir, tfjsNodeDir);
  const versions = verifyNative();
  // The marker first: if the kernels fail, the next run takes the "already loads" path and
  // retries only them.
  writeFileSync(markerFile, JSON.stringify({
    source: 'pypi-wheel', wheel: WHEEL.file, wheelVersion: WHEEL.version, wheelSha256: WHEEL.sha256,
    tensorflowVersion: versions.tf, cacheDir: cacheRoot, addon: key, builtAt: new Date().toISOString(),
  }, null, 2) + '\n');
  const kernels = await setUpLstmOps(tfjsNodeDir, tfLibDir);
  say(`native TensorFlow ${versions.tf}${kernels ? ' and the fused LSTM kernels' : ''} ready for tfjs-node ${versions.tfjsNode} (${cached ? 'from cache' : 'built'} in ${((Date.now() - started) / 1000).toFixed(0)} s; cache ${cacheRoot})`);
}

main().catch((err) => {
  const message = err instanceof SetupError ? err.message : (err?.stack ?? String(err));
  if (optional) {
    // npm install must not fail because of an optional speed-up: one line, exit 0.
    say(`native TensorFlow not set up (${message.split('\n')[0]}); windcast will use wasm. Enable later: ${ENABLE_LATER}${logFile ? ` (log: ${logFile})` : ''}`);
    process.exitCode = 0;
  } else {
    say(`failed: ${message}${logFile ? `\n  full log: ${logFile}` : ''}\n  retry: ${ENABLE_LATER}`);
    process.exitCode = 1;
  }
});
