import cliProgress from 'cli-progress';
import type { DownloadProgress } from '../hub/index.js';

/** Bytes in the short human form progress lines use (1.2 MB, 3.40 GB). */
export function formatSize(bytes: number): string {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(2)} GB`;
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(1)} MB`;
  if (bytes >= 1e3) return `${(bytes / 1e3).toFixed(1)} kB`;
  return `${bytes} B`;
}

export interface ProgressDisplay {
  onProgress: (p: DownloadProgress) => void;
  /** Removes the bars (call once, success or not). */
  stop: () => void;
}

/**
 * Download bars on an interactive stderr: one per file being fetched (removed when it is done) and
 * an overall one; nothing at all when stderr is not a terminal (piped output stays clean).
 * cli-progress redraws the stacked bars in place and throttles the redraws.
 */
export function downloadProgressBars(stream: NodeJS.WriteStream = process.stderr): ProgressDisplay | undefined {
  if (stream.isTTY !== true) return undefined;
  const multi = new cliProgress.MultiBar({
    stream,
    format: '{bar} {percentage}% {done}/{size} {name}',
    barsize: 30,
    hideCursor: true,
    clearOnComplete: true,
    autopadding: true,
  }, cliProgress.Presets.shades_classic);
  const bars = new Map<string, cliProgress.SingleBar>();
  let overall: cliProgress.SingleBar | undefined;
  const payload = (done: number, total: number, name: string) => ({ done: formatSize(done), size: formatSize(total), name });

  return {
    onProgress(p) {
      overall ??= multi.create(Math.max(1, p.totalBytes), 0, payload(0, p.totalBytes, ''));
      overall.setTotal(Math.max(1, p.totalBytes));
      overall.update(p.bytes, payload(p.bytes, p.totalBytes, `total (${p.filesDone}/${p.filesTotal} files)`));
      if (p.state === 'cached') return;
      const total = Math.max(1, p.fileTotal ?? p.fileBytes);
      let bar = bars.get(p.file);
      if (p.state === 'done') {
        if (bar) multi.remove(bar);
        bars.delete(p.file);
        return;
      }
      if (!bar) bars.set(p.file, (bar = multi.create(total, 0, payload(0, total, p.file))));
      bar.update(p.fileBytes, payload(p.fileBytes, total, p.file));
    },
    stop() {
      multi.stop();
    },
  };
}
