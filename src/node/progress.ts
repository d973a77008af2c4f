/** Progress on stderr: a bar with rate and ETA on a terminal, one JSON line per update otherwise (for logs and jobs). */
export class Progress {
  private readonly started = performance.now();
  private readonly tty: boolean;

  constructor(
    private readonly total: number,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {
    this.tty = Boolean(stream.isTTY);
  }

  update(done: number, failed: number): void {
    const seconds = (performance.now() - this.started) / 1000;
    const rate = done / Math.max(seconds, 1e-9);
    const eta = rate > 0 ? (this.total - done) / rate : undefined;
    if (!this.tty) {
      const etaS = eta === undefined ? null : Math.round(eta * 10) / 10;
      this.stream.write(`${JSON.stringify({ event: 'progress', done, total: this.total, failed, inputsPerSecond: round(rate), etaS })}\n`);
      return;
    }
    const width = 30;
    const filled = Math.round((width * done) / Math.max(this.total, 1));
    const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
    const etaText = eta === undefined ? '--' : formatSeconds(eta);
    this.stream.write(`\r${bar} ${done}/${this.total}${failed ? ` (${failed} failed)` : ''}  ${round(rate)} inputs/s  ETA ${etaText}  `);
  }

  finish(): void {
    if (this.tty) this.stream.write('\n');
  }
}

const round = (n: number) => Math.round(n * 100) / 100;

function formatSeconds(s: number): string {
  if (s < 60) return `${Math.ceil(s)}s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m}m${String(Math.ceil(s % 60)).padStart(2, '0')}s` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}
