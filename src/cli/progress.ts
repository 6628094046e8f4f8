// Progress of long work on stderr: a redrawn bar with percent, rate and time left on a terminal,
// plain periodic lines otherwise (logs, pipes, CI).
import { duration, size } from './output';

export interface ProgressSample {
  /** Work done and total, in bytes. */
  done: bigint;
  total: bigint;
}

export interface ProgressOptions {
  label: string;
  stream?: NodeJS.WriteStream | { write(s: string): unknown; isTTY?: boolean; columns?: number };
  /** Default: whether the stream is a terminal. */
  tty?: boolean;
  /** Plain mode: at most one line per this many ms (default 2000; DMCTL_PROGRESS_MS overrides). */
  lineEveryMs?: number;
  now?: () => number;
}

/** Rate over the last `windowMs` of samples, in bytes per second. */
export class RateMeter {
  private samples: Array<{ t: number; done: bigint }> = [];
  constructor(private windowMs = 10_000) {}

  add(t: number, done: bigint): void {
    this.samples.push({ t, done });
    while (this.samples.length > 2 && t - this.samples[0].t > this.windowMs) this.samples.shift();
  }

  /** undefined until two samples lie apart in time. */
  rate(): number | undefined {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    if (!first || last.t <= first.t) return undefined;
    return Number(last.done - first.done) / ((last.t - first.t) / 1000);
  }
}

export interface Figures {
  fraction: number;
  rate?: number;
  etaSeconds?: number;
}

export function figures(s: ProgressSample, rate: number | undefined): Figures {
  const fraction = s.total > 0n ? Math.min(1, Math.max(0, Number(s.done) / Number(s.total))) : 1;
  const left = Number(s.total - s.done);
  const etaSeconds = rate && rate > 0 ? left / rate : undefined;
  return { fraction, rate, etaSeconds };
}

const pct = (f: number): string => `${(f * 100).toFixed(1)}%`;
const rateText = (r?: number): string => (r === undefined ? '--/s' : `${size(BigInt(Math.max(0, Math.round(r))))}/s`);
const etaText = (e?: number): string => (e === undefined ? '--' : duration(e));

/** One terminal frame: `label [#####-----]  42.0%  12M/s  3s left`. */
export function renderBar(label: string, f: Figures, width = 80): string {
  const tail = `  ${pct(f.fraction).padStart(6)}  ${rateText(f.rate).padStart(9)}  ${etaText(f.etaSeconds)} left`;
  const barWidth = Math.max(10, Math.min(40, width - label.length - tail.length - 4));
  const filled = Math.round(f.fraction * barWidth);
  return `${label} [${'#'.repeat(filled)}${'-'.repeat(barWidth - filled)}]${tail}`;
}

/** One plain line: `label: 42.0% (20M of 48M), 12M/s, 3s left`. */
export function renderLine(label: string, s: ProgressSample, f: Figures): string {
  return `${label}: ${pct(f.fraction)} (${size(s.done)} of ${size(s.total)}), ${rateText(f.rate)}, ${etaText(f.etaSeconds)} left`;
}

export class Progress {
  private readonly stream: NonNullable<ProgressOptions['stream']>;
  private readonly tty: boolean;
  private readonly every: number;
  private readonly now: () => number;
  private readonly meter = new RateMeter();
  private lastLine = -Infinity;
  private drawn = false;

  constructor(private readonly o: ProgressOptions) {
    this.stream = o.stream ?? process.stderr;
    // The rig's serial console is a terminal that cannot redraw a line; CI=... says so.
    this.tty = o.tty ?? (!!this.stream.isTTY && !process.env.CI && process.env.TERM !== 'dumb');
    this.every = o.lineEveryMs ?? (Number(process.env.DMCTL_PROGRESS_MS) || 2000);
    this.now = o.now ?? Date.now;
  }

  update(s: ProgressSample): void {
    const t = this.now();
    this.meter.add(t, s.done);
    const f = figures(s, this.meter.rate());
    if (this.tty) {
      this.stream.write(`\r${renderBar(this.o.label, f, this.stream.columns ?? 80)}\x1b[K`);
      this.drawn = true;
    } else if (t - this.lastLine >= this.every || s.done >= s.total) {
      this.lastLine = t;
      this.stream.write(`${renderLine(this.o.label, s, f)}\n`);
    }
  }

  /** Ends the bar's line so later output starts on a fresh one. */
  end(): void {
    if (this.tty && this.drawn) this.stream.write('\n');
    this.drawn = false;
  }
}
