/**
 * `npm run bench`: every benchmark of the project, one after another, into BENCHMARKS.md.
 *
 *   npm run bench [-- --only synth,ingest] [--data DIR] [--models-dir DIR] [--list]
 *
 * Each step runs as its own process under /usr/bin/time -v, so its wall time and peak RSS are
 * its own. BENCHMARKS.md keeps one section per step between markers; a run replaces only the
 * sections of the steps it ran, so `--only predict` refreshes one table and keeps the rest.
 * Every section records the command, the date, the machine and the step's full output: the
 * benchmarks themselves measure their peer (GDAL, Keras, PyTorch, wasm) in the same run and
 * print ratios, because absolute times on a shared 2-core machine are noisy.
 *
 * The default dataset is the default `windcast synth` set (720 global hours) in data/bench,
 * written by the synth step and reused by the others; the demo step (default training, then
 * evaluate and predict, each timed) leaves its checkpoint in models/bench for the predict and
 * evaluate benchmarks.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(new URL('../../', import.meta.url)));
const OUTPUT = join(ROOT, 'BENCHMARKS.md');

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const data = resolve(ROOT, arg('data', 'data/bench'));
const modelsDir = resolve(ROOT, arg('models-dir', 'models'));
const checkpoint = join(modelsDir, 'bench', 'best');

interface Step {
  name: string;
  title: string;
  /** Why this step exists: the issue's target it measures. */
  target: string;
  argv: string[];
}

const STEPS: Step[] = [
  {
    name: 'synth',
    title: 'Synthetic data: 720 global hourly files',
    target: 'at most 60 s on 2 cores; persistence RMSE where real 10 m wind sits',
    argv: ['node', 'dist/bench/synth.js', '--out', data, '--keep'],
  },
  {
    name: 'ingest',
    title: 'Ingest: decoding 720 global files against GDAL, cache reload, peak memory',
    target: 'decode against GDAL at equal cores doing the same work, CPU per file beside wall time; reload >= 1 GB/s; peak RSS <= 1.5 x cube',
    argv: ['node', 'dist/bench/ingest.js', '--dir', data],
  },
  {
    name: 'backends',
    title: 'Model throughput: native TensorFlow against Keras (with and without XLA) and PyTorch (eager and torch.compile)',
    target: 'training and inference at least 1.3x the best peer in its best configuration (issue 14)',
    // Every peer in the configuration its users would pick as well as its default, alternating
    // over three rounds (medians and the spread); wasm and cpu: `--backends wasm,cpu --peers ''`.
    argv: ['node', 'dist/bench/backends.js', '--backends', 'tensorflow', '--lstm', 'fast', '--seconds', '15', '--rounds', '3'],
  },
  {
    name: 'train-throughput',
    title: 'Training loop: end-to-end samples/s against the bare model',
    target: 'end-to-end >= 80 % of the bare model on native TensorFlow',
    argv: ['node', 'dist/bench/train.js', '--data', data],
  },
  {
    name: 'demo',
    title: '`windcast demo`: the default train, evaluate and predict on the 720-hour global set',
    target: 'demo at most 10 minutes on 2 cores with native TensorFlow; default training at most 15 minutes',
    argv: ['bin/windcast', 'demo', '--data', data, '--run', 'bench', '--models-dir', modelsDir],
  },
  {
    name: 'predict',
    title: 'Global 24-hour forecast, reading to writing',
    target: 'at most 6 s end to end on 2 cores with the native backend (issue 14)',
    argv: ['node', 'dist/bench/predict.js', '--data', data, '--model', checkpoint, '--precision', 'fp32,bf16', '--rounds', '3'],
  },
  {
    name: 'evaluate',
    title: 'Default evaluation of the default synthetic run',
    target: 'at most 5 minutes on 2 cores with the native backend',
    argv: ['node', 'dist/bench/evaluate.js', '--model', checkpoint, '--data', data],
  },
];

function machine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const memGiB = (totalmem() / 2 ** 30).toFixed(0);
  return `${cpus().length} x ${cpu.trim()}, ${memGiB} GiB, Node ${process.version}, ${process.platform} ${process.arch}`;
}

/** Progress lines redrawn on a terminal, or emitted every few seconds, are noise in a report. */
function cleanOutput(text: string): string {
  return text
    .replace(/\x1b\[[0-9;]*[A-Za-z]/g, '')
    .split(/\r?\n/)
    .map((line) => line.split('\r').pop() ?? '')
    .filter((line) => !/ETA \S+/.test(line))
    .filter((line) => !/^(WARNING: All log messages|I0000 |W0000 )/.test(line))
    .join('\n')
    .trim();
}

interface StepResult {
  status: number;
  seconds: number;
  peakRssMiB: number | null;
  output: string;
}

function runStep(step: Step): StepResult {
  const started = performance.now();
  const child = spawnSync('/usr/bin/time', ['-v', ...step.argv], {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 64 * 2 ** 20,
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const seconds = (performance.now() - started) / 1000;
  const stderr = child.stderr ?? '';
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
  // /usr/bin/time appends its report to stderr: keep the step's own stderr, drop the report.
  const ownStderr = stderr.split(/(?:^|\n)\tCommand being timed:/)[0] ?? '';
  const output = cleanOutput(`${child.stdout ?? ''}\n${ownStderr}`);
  process.stdout.write(`${output}\n`);
  return { status: child.status ?? 1, seconds, peakRssMiB: rss ? Number(rss[1]) / 1024 : null, output };
}

function section(step: Step, result: StepResult): string {
  const when = new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
  const status = result.status === 0 ? '' : ` **(exited with status ${result.status})**`;
  return [
    `<!-- bench:${step.name} -->`,
    `## ${step.title}`,
    '',
    `Target: ${step.target}.`,
    '',
    `\`${step.argv.join(' ').replaceAll(ROOT + '/', '')}\` on ${when}; ${machine()}.`,
    `Whole step: ${result.seconds.toFixed(1)} s wall, peak RSS ${result.peakRssMiB !== null ? `${result.peakRssMiB.toFixed(0)} MiB` : 'n/a'} (/usr/bin/time -v)${status}.`,
    '',
    '```',
    result.output,
    '```',
    `<!-- /bench:${step.name} -->`,
  ].join('\n');
}

const HEADER = `# Benchmarks

Written by \`npm run bench\` (bench/run.ts); each section by one step, with its command, date and
machine. Ratios are against a peer measured in the same run on the same machine (GDAL, Keras,
PyTorch, the wasm backend), since absolute times on shared 2-core machines are noisy.
Refresh one section with \`npm run bench -- --only NAME\` (names: ${STEPS.map((s) => s.name).join(', ')}).
`;

function updateReport(sections: Map<string, string>): void {
  let text = existsSync(OUTPUT) ? readFileSync(OUTPUT, 'utf8') : HEADER;
  for (const step of STEPS) {
    const body = sections.get(step.name);
    if (!body) continue;
    const pattern = new RegExp(`<!-- bench:${step.name} -->[\\s\\S]*?<!-- /bench:${step.name} -->`);
    text = pattern.test(text) ? text.replace(pattern, () => body) : `${text.trimEnd()}\n\n${body}\n`;
  }
  writeFileSync(OUTPUT, text.endsWith('\n') ? text : `${text}\n`);
}

function main(): void {
  if (process.argv.includes('--list')) {
    for (const s of STEPS) console.log(`${s.name.padEnd(18)} ${s.title}`);
    return;
  }
  const only = arg('only', '').split(',').filter(Boolean);
  const unknown = only.filter((n) => !STEPS.some((s) => s.name === n));
  if (unknown.length > 0) {
    console.error(`bench: unknown step(s) ${unknown.join(', ')}; steps: ${STEPS.map((s) => s.name).join(', ')}`);
    process.exitCode = 2;
    return;
  }
  const steps = only.length > 0 ? STEPS.filter((s) => only.includes(s.name)) : STEPS;
  let failed = 0;
  for (const step of steps) {
    console.log(`\n=== bench ${step.name}: ${step.title}`);
    const result = runStep(step);
    if (result.status !== 0) failed++;
    updateReport(new Map([[step.name, section(step, result)]]));
  }
  console.log(`\nbench: ${steps.length - failed} of ${steps.length} steps ran; results in ${OUTPUT}`);
  if (failed > 0) process.exitCode = 1;
}

main();
