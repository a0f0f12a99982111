import fs from 'node:fs';
import { HubError, HubUnreachableError } from '../errors.js';
import { fetchRepoInfo, resolveUrl, type RepoFile } from './api.js';
import { cacheWriteError, RepoCache } from './cache.js';
import { downloadBlob, fetchFileMetadata } from './download-file.js';
import { DEFAULT_RETRY, HubClient, type RetryPolicy } from './http.js';
import { selectFiles } from './include.js';
import { validateRepoId } from './repo-id.js';
import { hubSettings, type HubEnv } from './settings.js';

/** One progress report: the file it is about, and the totals over every selected file. */
export interface DownloadProgress {
  file: string;
  /** 'cached': already in the cache, nothing fetched; 'downloading': bytes arrived; 'done': verified and in place. */
  state: 'cached' | 'downloading' | 'done';
  fileBytes: number;
  fileTotal: number | null;
  /** Bytes of all selected files that are in the cache or have arrived (sizes from the model info). */
  bytes: number;
  totalBytes: number;
  filesDone: number;
  filesTotal: number;
}

export interface SnapshotOptions {
  /** Branch, tag or commit hash (default 'main'). */
  revision?: string;
  /** fnmatch-style globs of the files to fetch (default: what a model needs, see DEFAULT_INCLUDE). */
  include?: readonly string[];
  /** Cache root (default: HF_HUB_CACHE / HF_HOME as huggingface_hub resolves them). */
  cacheDir?: string;
  /** Where HF_ENDPOINT, HF_TOKEN, HF_HOME, HF_HUB_OFFLINE … are read (default process.env). */
  env?: HubEnv;
  onProgress?: (progress: DownloadProgress) => void;
  /** Receives the notice that the Hub was unreachable and the cached snapshot is used (default: stderr). */
  onWarning?: (message: string) => void;
  /** Retries of network errors, stalls, 5xx and 429 (default: 5, from 1 s doubling to 8 s). */
  retry?: Partial<RetryPolicy>;
  /** No data for this long aborts and retries a request (default HF_HUB_DOWNLOAD_TIMEOUT, 10 s). */
  timeoutMs?: number;
  /** Files fetched at once (default 4). */
  concurrency?: number;
  signal?: AbortSignal;
}

const DEFAULT_REVISION = 'main';

/** `HF_HUB_OFFLINE=1`: the snapshot a revision last resolved to, or an error naming what is missing. */
function offlineSnapshot(cache: RepoCache, revision: string): string {
  const commit = cache.resolveRevision(revision);
  const dir = commit === null ? null : cache.snapshotDir(commit);
  if (dir === null || !fs.existsSync(dir)) {
    const missing = commit === null ? `no ${cache.root}/refs/${revision}` : `no snapshot ${dir}`;
    throw new HubError(`${cache.repoId} (revision ${revision}) is not in the cache (${missing}) and HF_HUB_OFFLINE is set: download it once online`);
  }
  return dir;
}

/**
 * Makes `repoId` at `revision` available in the cache and returns its snapshot folder, as
 * huggingface_hub's snapshot_download does: one model-info request for the commit and file list,
 * then per missing file a HEAD on its resolve URL (ETag, size, CDN location) and a download into
 * blobs/. Files already in the snapshot, or whose blob is already cached, are not fetched again.
 */
export async function snapshotDownload(repoId: string, options: SnapshotOptions = {}): Promise<string> {
  validateRepoId(repoId);
  const revision = options.revision ?? DEFAULT_REVISION;
  const settings = hubSettings(options.env ?? process.env);
  const cache = new RepoCache(options.cacheDir ?? settings.cacheDir, repoId);
  if (settings.offline) return offlineSnapshot(cache, revision);

  // Aborted by the caller, or by the first failing file so the other downloads stop too (their
  // .incomplete files stay, to be resumed).
  const stop = new AbortController();
  const onCallerAbort = () => stop.abort(options.signal?.reason);
  if (options.signal?.aborted) onCallerAbort();
  options.signal?.addEventListener('abort', onCallerAbort, { once: true });
  const client = new HubClient({
    endpoint: settings.endpoint,
    token: settings.token,
    timeoutMs: options.timeoutMs ?? settings.timeoutMs,
    retry: { ...DEFAULT_RETRY, ...options.retry },
    signal: stop.signal,
  });
  try {
    return await downloadSnapshot(client, cache, repoId, revision, options, stop);
  } finally {
    options.signal?.removeEventListener('abort', onCallerAbort);
  }
}

/** The cached snapshot of a revision, or null when there is none. */
function cachedSnapshot(cache: RepoCache, revision: string): string | null {
  const commit = cache.resolveRevision(revision);
  const dir = commit === null ? null : cache.snapshotDir(commit);
  return dir !== null && fs.existsSync(dir) ? dir : null;
}

async function downloadSnapshot(client: HubClient, cache: RepoCache, repoId: string, revision: string, options: SnapshotOptions, stop: AbortController): Promise<string> {
  const endpoint = client.options.endpoint;
  let info: Awaited<ReturnType<typeof fetchRepoInfo>>;
  try {
    info = await fetchRepoInfo(client, repoId, revision);
  } catch (err) {
    // As huggingface_hub does: when the Hub cannot be reached, a revision already in the cache is
    // used as it is (authorization and not-found errors still fail: the cache may be stale for them).
    const cached = err instanceof HubUnreachableError ? cachedSnapshot(cache, revision) : null;
    if (cached === null || !(err instanceof HubUnreachableError)) throw err;
    (options.onWarning ?? ((m: string) => process.stderr.write(`xverse: warning: ${m}\n`)))(
      `${err.message}; using the cached snapshot ${cached}`);
    return cached;
  }
  const files = selectFiles(info.files, options.include);
  if (files.length === 0) {
    throw new HubError(`${repoId} (revision ${revision}): no file matches ${options.include?.length ? options.include.join(' ') : 'the default set (config, weights, tokenizer)'}`);
  }
  cache.writeRef(revision, info.commit);
  try {
    fs.mkdirSync(cache.snapshotDir(info.commit), { recursive: true });
  } catch (err) {
    throw cacheWriteError(err, cache.snapshotDir(info.commit));
  }

  const progress = new ProgressTally(files, options.onProgress);
  const fetchOne = async (file: RepoFile) => {
    // Present in this snapshot, or its content cached under another name: no request at all.
    const knownEtag = file.lfsSha256 ?? file.blobId;
    if (cache.hasPointer(info.commit, file.path)) return progress.cached(file);
    if (knownEtag !== null && cache.hasBlob(knownEtag)) {
      cache.linkPointer(info.commit, file.path, knownEtag);
      return progress.cached(file);
    }
    const what = `${repoId}/${file.path}`;
    const meta = await fetchFileMetadata(client, resolveUrl(endpoint, repoId, info.commit, file.path), what);
    if (!cache.hasBlob(meta.etag)) {
      const lfs = meta.isLfs || file.lfsSha256 !== null;
      await downloadBlob(client, cache, {
        what, url: meta.downloadUrl, etag: meta.etag, size: meta.size ?? file.size,
        sha256: lfs && /^[0-9a-f]{64}$/.test(meta.etag) ? meta.etag : null,
        onBytes: (bytes, total) => progress.bytes(file, bytes, total),
      });
    }
    cache.linkPointer(info.commit, file.path, meta.etag);
    progress.done(file);
  };
  await runPool(files, options.concurrency ?? 4, fetchOne, () => stop.abort(new HubError('stopped: another file failed')));
  return cache.snapshotDir(info.commit);
}

/** Runs `work` over `items`, `limit` at a time; the first failure stops new work and is rethrown. */
async function runPool<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>, onFirstFailure: () => void): Promise<void> {
  let next = 0;
  let failure: { err: unknown } | null = null;
  const worker = async () => {
    while (failure === null && next < items.length) {
      const item = items[next++]!;
      try {
        await work(item);
      } catch (err) {
        if (failure === null) {
          failure = { err };
          onFirstFailure();
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failure !== null) throw (failure as { err: unknown }).err;
}

/** Keeps the per-file and overall counts that progress reports carry. */
class ProgressTally {
  private readonly perFile = new Map<string, number>();
  private filesDone = 0;
  private readonly totalBytes: number;

  constructor(private readonly files: readonly RepoFile[], private readonly onProgress?: (p: DownloadProgress) => void) {
    this.totalBytes = files.reduce((sum, f) => sum + (f.size ?? 0), 0);
  }

  cached(file: RepoFile): void {
    this.perFile.set(file.path, file.size ?? 0);
    this.filesDone++;
    this.emit(file, 'cached', file.size ?? 0, file.size);
  }

  bytes(file: RepoFile, bytes: number, total: number | null): void {
    this.perFile.set(file.path, bytes);
    this.emit(file, 'downloading', bytes, total ?? file.size);
  }

  done(file: RepoFile): void {
    const bytes = this.perFile.get(file.path) ?? file.size ?? 0;
    this.filesDone++;
    this.emit(file, 'done', bytes, file.size ?? bytes);
  }

  private emit(file: RepoFile, state: DownloadProgress['state'], fileBytes: number, fileTotal: number | null): void {
    if (!this.onProgress) return;
    let bytes = 0;
    for (const b of this.perFile.values()) bytes += b;
    this.onProgress({ file: file.path, state, fileBytes, fileTotal, bytes, totalBytes: Math.max(this.totalBytes, bytes), filesDone: this.filesDone, filesTotal: this.files.length });
  }
}
