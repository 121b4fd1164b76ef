import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import type { Command } from 'commander';
import { buildProgram, flagBindings, runCli } from '../src/cli.js';
import { DEFAULTS, type Config } from '../src/core/config.js';
import { EXIT_CODES } from '../src/core/errors.js';

const BIN = fileURLToPath(new URL('../../bin/windcast', import.meta.url));
const tmp = () => mkdtempSync(join(tmpdir(), 'windcast-cli-'));

/** Which config key each flag sets, written out here rather than read from the CLI. */
const EXPECTED: Record<string, Record<string, string>> = {
  synth: {
    '--hours': 'synth.hours', '--seed': 'synth.seed', '--start': 'synth.start', '--step': 'synth.step',
    '--bbox': 'synth.bbox', '--bands': 'synth.bands', '--compress': 'synth.compress', '--lon180': 'synth.lon180',
  },
  inspect: { '--glob': 'ingest.glob', '--time-pattern': 'ingest.timePattern', '--variables': 'ingest.variables', '--target-height': 'ingest.targetHeight' },
  doctor: { '--backend': 'runtime.backend' },
  evaluate: { '--stride': 'evaluate.stride', '--full': 'evaluate.cellStride', '--turbine': 'evaluate.turbine', '--hub-height': 'evaluate.hubHeight', '--backend': 'runtime.backend', '--precision': 'runtime.inferencePrecision', '--memory-budget': 'runtime.memoryBudget' },
  export: { '--backend': 'runtime.backend' },
  train: {
    '--epochs': 'train.epochs', '--samples-per-epoch': 'train.samplesPerEpoch', '--backend': 'runtime.backend',
    '--seed': 'train.seed', '--sampler': 'train.sampler', '--models-dir': 'runtime.modelsDir', '--variables': 'ingest.variables', '--target-height': 'ingest.targetHeight',
    '--memory-budget': 'runtime.memoryBudget',
  },
  predict: {
    '--interpolation': 'predict.interpolation', '--multiband': 'predict.multiband', '--png': 'predict.png',
    '--batch-cells': 'predict.batchCells', '--engine': 'predict.engine', '--backend': 'runtime.backend', '--precision': 'runtime.inferencePrecision',
    '--turbine': 'predict.turbine', '--hub-height': 'predict.hubHeight', '--air-density': 'predict.airDensity', '--capacity-factor-maps': 'predict.capacityFactorMaps',
    '--no-quantile-maps': 'predict.quantileMaps',
  },
  demo: { '--step': 'synth.step', '--hours': 'synth.hours', '--models-dir': 'runtime.modelsDir', '--backend': 'runtime.backend', '--precision': 'runtime.inferencePrecision' },
};

/** Flags whose default is not a config value, each saying what it derives from instead. */
const DERIVED_DEFAULTS: Record<string, Record<string, string>> = {
  predict: { '--at': 'the latest hour in --data' },
  demo: { '--data': 'data/synth, or data/synth-<step>', '--run': 'demo, or demo-<step>' },
  merge: { '--out': 'the folder holding the shard folders' },
};

/** How the help shows a schema value; the two flags that describe theirs in words. */
function shownDefault(command: string, flag: string, section: keyof Config, key: string): string {
  if (flag === '--bbox') return 'the whole globe';
  if (flag === '--variables') return 'all the wind there is';
  if (flag === '--hub-height') return "the forecast's height";
  if (flag === '--memory-budget') return 'what the machine has available';
  if (command === 'evaluate' && flag === '--full') return `every ${DEFAULTS.evaluate.cellStride}th row and column`;
  const value = (DEFAULTS[section] as Record<string, unknown>)[key];
  return Array.isArray(value) ? value.join(',') : value === null ? 'none' : String(value);
}

/** Each option's help text as one line (commander wraps long descriptions). */
function optionHelp(command: Command): Map<string, string> {
  const blocks = new Map<string, string>();
  let current: string | undefined;
  for (const line of command.helpInformation().split('\n')) {
    const start = /^ {2}(?:-\w, )?(--[\w-]+)/.exec(line);
    if (start) {
      current = start[1]!;
      blocks.set(current, line.trim());
    } else if (current && /^ {4,}\S/.test(line)) {
      blocks.set(current, `${blocks.get(current)} ${line.trim()}`);
    } else {
      current = undefined;
    }
  }
  return blocks;
}

test('every flag that sets a config key is bound to the key this table expects', () => {
  const program = buildProgram();
  const actual: Record<string, Record<string, string>> = {};
  for (const b of flagBindings(program)) (actual[b.command] ??= {})[b.flag] = `${b.section}.${b.key}`;
  assert.deepEqual(actual, EXPECTED);
});

test('--help of every command shows each schema default, and no other default but the derived ones', () => {
  const program = buildProgram();
  for (const command of program.commands) {
    const name = command.name();
    const help = optionHelp(command);
    for (const [flag, path] of Object.entries(EXPECTED[name] ?? {})) {
      const [section, key] = path.split('.') as [keyof Config, string];
      const text = help.get(flag);
      assert.ok(text, `${name} --help lists ${flag}`);
      assert.ok(text.includes(`(default: ${shownDefault(name, flag, section, key)})`), `${name} ${flag}: ${text}`);
    }
    for (const [flag, text] of help) {
      if (EXPECTED[name]?.[flag] || !text.includes('(default:')) continue;
      const derived = DERIVED_DEFAULTS[name]?.[flag];
      assert.ok(derived && text.includes(`(default: ${derived})`), `${name} ${flag} states a default the schema does not own: ${text}`);
    }
  }
  assert.match(optionHelp(program).get('--config') ?? '', /\(default: none\)/);
  assert.doesNotMatch(program.commands.find((c) => c.name() === 'demo')!.description(), /mission/);
});

async function doctorJson(argv: string[]): Promise<{ configured: string; backend?: { name: string } }> {
  const out: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  // The CLI prints strings; the test runner's own reports (bytes) must still reach it.
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) =>
    typeof chunk === 'string' ? (out.push(chunk), true) : write(chunk, ...rest)) as typeof process.stdout.write;
  try {
    await runCli(argv);
  } finally {
    process.stdout.write = write;
  }
  return JSON.parse(out.join(''));
}

test('--backend and the config file set runtime.backend for doctor; the flag wins over the file', async () => {
  const path = join(tmp(), 'cpu.json');
  writeFileSync(path, JSON.stringify({ runtime: { backend: 'cpu' } }));
  const fromFile = await doctorJson(['--quiet', '--config', path, 'doctor', '--json']);
  assert.equal(fromFile.configured, 'cpu');
  assert.equal(fromFile.backend?.name, 'cpu');
  const fromFlag = await doctorJson(['--quiet', '--config', path, 'doctor', '--json', '--backend', 'wasm']);
  assert.equal(fromFlag.configured, 'wasm');
  assert.equal(fromFlag.backend?.name, 'wasm');
});

function windcast(args: string[]) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' } });
}

test('a bad config file: exit 3 and one stderr line naming the file and the key', () => {
  const dir = tmp();
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, JSON.stringify({ train: { epochz: 3, batchSize: 'big' } }));
  const r = windcast(['--config', bad, 'doctor']);
  assert.equal(r.status, EXIT_CODES.config, r.stderr);
  assert.equal(r.stderr, `windcast: ${bad}: invalid configuration: train.epochz: unknown key; train.batchSize: expected number, received string\n`);
  assert.equal(r.stdout, '');

  const old = join(dir, 'old.json');
  writeFileSync(old, JSON.stringify({ train: { backend: 'cpu' } }));
  const o = windcast(['--config', old, 'train', '--data', dir, '--run', 'x']);
  assert.equal(o.status, EXIT_CODES.config, o.stderr);
  assert.equal(o.stderr.split('\n').length, 2, o.stderr);
  assert.match(o.stderr, /^windcast: .*old\.json: train\.backend is now runtime\.backend .*"runtime": \{"backend": "cpu"\}/);
});

test('a checkpoint with an invalid meta.json: exit 5 and one stderr line naming meta.json', () => {
  const dir = tmp();
  const checkpoint = join(dir, 'best');
  mkdirSync(checkpoint);
  writeFileSync(join(checkpoint, 'meta.json'), JSON.stringify({ format: 'windcast-checkpoint', formatVersion: 1, kind: 'newest' }));
  const r = windcast(['--quiet', 'evaluate', '--model', checkpoint, '--data', dir, '--out', join(dir, 'report'), '--backend', 'cpu']);
  assert.equal(r.status, EXIT_CODES.checkpoint, r.stderr);
  const lines = r.stderr.split('\n');
  assert.equal(lines.length, 2, r.stderr);
  assert.ok(lines[0]!.startsWith(`windcast: ${join(checkpoint, 'meta.json')}: invalid checkpoint metadata: kind: expected one of "last"|"best"; run: missing`), r.stderr);
});

test('--precision bf16 where it cannot run is a config error saying why; fp32 always runs', async () => {
  const { loadBackend } = await import('../src/runtime/backend.js');
  const { useInferencePrecision } = await import('../src/commands/context.js');
  const { lstmFastOptions } = await import('../src/model/lstm-fast.js');
  const { ConfigError } = await import('../src/core/errors.js');
  const { tf } = await loadBackend('cpu');
  const before = lstmFastOptions.inferencePrecision;
  try {
    assert.throws(() => useInferencePrecision(tf, 'bf16'), (err: unknown) => err instanceof ConfigError && /--precision bf16 .*native TensorFlow with the fused LSTM kernels.*use fp32/.test(err.message));
    assert.equal(lstmFastOptions.inferencePrecision, before, 'a refused precision changes nothing');
    useInferencePrecision(tf, 'fp32');
    assert.equal(lstmFastOptions.inferencePrecision, 'fp32');
  } finally {
    lstmFastOptions.inferencePrecision = before;
  }
});
