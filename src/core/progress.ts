/**
 * Progress for long work: a redrawn line with rate and ETA on a terminal, plain lines
 * (at most one every few seconds, plus the last) when stdout is not a terminal.
 * Commands take a Progress from their caller, so tests pass a silent one.
 */

export interface ProgressOptions {
  /** What is being counted, e.g. "files", "samples". */
  unit: string;
  total: number;
  label: string;
}

export interface ProgressTask {
  /** Advance by n units (default 1). */
  tick(n?: number, note?: string): void;
  /** Finish and print the closing line. */
  done(note?: string): void;
}

export interface Progress {
  start(options: ProgressOptions): ProgressTask;
  /** A plain message line (never redrawn). */
  log(message: string): void;
}

/** Progress that prints nothing: for tests and --quiet. */
export const silentProgress: Progress = {
  start: () => ({ tick: () => {}, done: () => {} }),
  log: () => {},
};

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

function formatRate(rate: number, unit: string): string {
  if (rate >= 1e6) return `${(rate / 1e6).toFixed(2)}M ${unit}/s`;
  if (rate >= 1e4) return `${(rate / 1e3).toFixed(1)}k ${unit}/s`;
  return `${rate.toFixed(rate >= 100 ? 0 : 1)} ${unit}/s`;
}

/** Progress on a stream; redraws in place only when the stream is a TTY. */
export function streamProgress(stream: NodeJS.WriteStream = process.stderr, plainIntervalMs = 5000): Progress {
  const tty = Boolean(stream.isTTY);
  return {
    log(message: string) {
      if (tty) stream.write('\r\x1b[K');
      stream.write(message + '\n');
    },
    start({ unit, total, label }: ProgressOptions): ProgressTask {
      const t0 = performance.now();
      let count = 0;
      let lastPrint = -Infinity;
      let lastNote = '';
      const line = (final: boolean) => {
        const elapsed = (performance.now() - t0) / 1000;
        const rate = elapsed > 0 ? count / elapsed : 0;
        const eta = rate > 0 ? (total - count) / rate : Infinity;
        const pct = total > 0 ? Math.min(100, (100 * count) / total) : 100;
        const timing = final ? `in ${formatDuration(elapsed)}` : `ETA ${formatDuration(eta)}`;
        const note = lastNote ? `  ${lastNote}` : '';
        return `${label}: ${count}/${total} ${unit} (${pct.toFixed(0)}%)  ${formatRate(rate, unit)}  ${timing}${note}`;
      };
      return {
        tick(n = 1, note?: string) {
          count += n;
          if (note !== undefined) lastNote = note;
          const now = performance.now();
          if (tty) {
            if (now - lastPrint > 100) {
              stream.write('\r\x1b[K' + line(false));
              lastPrint = now;
            }
          } else if (now - lastPrint >= plainIntervalMs) {
            stream.write(line(false) + '\n');
            lastPrint = now;
          }
        },
        done(note?: string) {
          if (note !== undefined) lastNote = note;
          stream.write((tty ? '\r\x1b[K' : '') + line(true) + '\n');
        },
      };
    },
  };
}
