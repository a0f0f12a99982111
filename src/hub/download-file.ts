import { createHash, type Hash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { HubError } from '../errors.js';
import { cacheWriteError, type RepoCache } from './cache.js';
import { TransientError, type HubClient } from './http.js';

/** What a HEAD on a resolve URL says about a file, read from the headers huggingface_hub reads. */
export interface FileMetadata {
  /** X-Repo-Commit. */
  commit: string | null;
  /** X-Linked-Etag (LFS: the sha256) or ETag, without quotes or `W/`: the blob's name. */
  etag: string;
  /** X-Linked-Size or Content-Length. */
  size: number | null;
  /** Where to GET the content: the CDN's Location for an LFS file, else the resolve URL. */
  downloadUrl: string;
  /** X-Linked-Etag was sent: an LFS file, whose ETag is the SHA-256 of its content. */
  isLfs: boolean;
}

function normalizeEtag(etag: string): string {
  return etag.replace(/^W\//, '').replace(/^"|"$/g, '');
}

/** HEAD `url` (following same-host redirects only, so a CDN redirect is seen, not taken). */
export async function fetchFileMetadata(client: HubClient, url: string, what: string): Promise<FileMetadata> {
  return client.withRetries(what, async () => {
    const { response, url: answered, watchdog } = await client.send(url, { method: 'HEAD', redirects: 'relative' });
    watchdog.clear();
    const isRedirect = response.status >= 300 && response.status <= 399;
    if (!response.ok && !isRedirect) throw client.statusError(response, what);
    const h = response.headers;
    const linkedEtag = h.get('x-linked-etag');
    const etag = linkedEtag ?? h.get('etag');
    if (etag === null) throw new HubError(`${what}: the server sent no ETag, so the file cannot be cached reliably`);
    const size = Number(h.get('x-linked-size') ?? h.get('content-length') ?? NaN);
    const location = h.get('location');
    return {
      commit: h.get('x-repo-commit'),
      etag: normalizeEtag(etag),
      size: Number.isSafeInteger(size) && size >= 0 ? size : null,
      downloadUrl: isRedirect && location !== null ? new URL(location, answered).href : answered,
      isLfs: linkedEtag !== null,
    };
  });
}

export interface BlobDownload {
  /** Shown in errors and progress: `org/name/path`. */
  what: string;
  url: string;
  etag: string;
  size: number | null;
  /** Expected SHA-256 of the content (LFS files); null = check the size only. */
  sha256: string | null;
  /** Bytes of this file on disk so far (resumed bytes included), and its total when known. */
  onBytes?: (bytes: number, total: number | null) => void;
}

/** Bytes already in a partial download, and a hash primed with them so the check covers the whole file. */
async function resumeState(file: string, wantHash: boolean): Promise<{ offset: number; hash: Hash | null }> {
  const hash = wantHash ? createHash('sha256') : null;
  let offset = 0;
  try {
    offset = fs.statSync(file).size;
  } catch {
    return { offset: 0, hash };
  }
  if (hash && offset > 0) {
    for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  }
  return { offset, hash };
}

/** The start of a `Content-Range: bytes START-END/TOTAL` header, or null when it is missing or malformed. */
function contentRangeStart(header: string | null): number | null {
  const m = header === null ? null : /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(header.trim());
  return m ? Number(m[1]) : null;
}

/**
 * Downloads one file into blobs/{etag}: streamed to blobs/{etag}.incomplete, resumed with
 * `Range: bytes=N-` after a cut connection (a 206 with a matching Content-Range continues; a 200
 * starts over), then checked — size, and SHA-256 for LFS files — and renamed into place. A file
 * that does not verify is deleted: the cache never holds a corrupt blob.
 */
export async function downloadBlob(client: HubClient, cache: RepoCache, job: BlobDownload): Promise<void> {
  const partial = cache.incompletePath(job.etag);
  const blob = cache.blobPath(job.etag);
  try {
    fs.mkdirSync(path.dirname(blob), { recursive: true });
  } catch (err) {
    throw cacheWriteError(err, partial);
  }
  let state = await resumeState(partial, job.sha256 !== null);
  // More bytes than the file has: not a prefix of it, so start over.
  if (job.size !== null && state.offset > job.size) {
    fs.rmSync(partial, { force: true });
    state = await resumeState(partial, job.sha256 !== null);
  }
  job.onBytes?.(state.offset, job.size);

  await client.withRetries(job.what, async (madeProgress) => {
    if (job.size !== null && state.offset === job.size) return;
    const headers: Record<string, string> = state.offset > 0 ? { Range: `bytes=${state.offset}-` } : {};
    const { response, watchdog } = await client.send(job.url, { headers, redirects: 'all' });
    try {
      if (response.status === 416 && state.offset > 0) {
        // The server cannot serve from there: throw the partial file away and try again.
        fs.rmSync(partial, { force: true });
        state = await resumeState(partial, job.sha256 !== null);
        throw new TransientError('range not satisfiable; restarting');
      }
      if (!response.ok) throw client.statusError(response, job.what);
      const resumed = response.status === 206 && contentRangeStart(response.headers.get('content-range')) === state.offset;
      if (state.offset > 0 && !resumed) {
        // A 200 (or a 206 from elsewhere) is the whole file: start over rather than append it.
        if (response.status === 206) throw new TransientError(`unexpected Content-Range "${response.headers.get('content-range')}"`);
        fs.rmSync(partial, { force: true });
        state = { offset: 0, hash: job.sha256 !== null ? createHash('sha256') : null };
      }
      const out = fs.openSync(partial, state.offset > 0 ? 'a' : 'w');
      try {
        for await (const chunk of response.body ?? []) {
          watchdog.touch();
          const bytes = chunk as Uint8Array;
          writeAll(out, bytes, partial);
          state.hash?.update(bytes);
          state.offset += bytes.length;
          madeProgress();
          job.onBytes?.(state.offset, job.size);
          if (job.size !== null && state.offset > job.size) {
            fs.rmSync(partial, { force: true });
            throw new HubError(`${job.what}: the server sent more than the expected ${job.size} bytes; the download was deleted`);
          }
        }
      } finally {
        fs.closeSync(out);
      }
      if (job.size !== null && state.offset < job.size) throw new TransientError(`connection closed at byte ${state.offset} of ${job.size}`);
    } catch (err) {
      throw watchdog.classify(err);
    } finally {
      watchdog.clear();
    }
  });
  // (A failure above keeps blobs/{etag}.incomplete: it is a prefix of that very blob, resumed next run.)

  verify(job, partial, state.offset, state.hash);
  try {
    fs.renameSync(partial, blob);
  } catch (err) {
    throw cacheWriteError(err, blob);
  }
}

function writeAll(fd: number, bytes: Uint8Array, file: string): void {
  try {
    for (let done = 0; done < bytes.length; ) done += fs.writeSync(fd, bytes, done);
  } catch (err) {
    throw cacheWriteError(err, file);
  }
}

/** Size, then SHA-256: a file that fails either is deleted and reported by name. */
function verify(job: BlobDownload, partial: string, length: number, hash: Hash | null): void {
  if (job.size !== null && length !== job.size) {
    fs.rmSync(partial, { force: true });
    throw new HubError(`${job.what}: downloaded ${length} bytes, expected ${job.size}; the partial file was deleted, run again`);
  }
  if (hash !== null && job.sha256 !== null) {
    const actual = hash.digest('hex');
    if (actual !== job.sha256) {
      fs.rmSync(partial, { force: true });
      throw new HubError(`${job.what}: SHA-256 mismatch (expected ${job.sha256}, got ${actual}); the corrupt download was deleted`);
    }
  }
}
