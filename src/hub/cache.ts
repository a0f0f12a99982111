import fs from 'node:fs';
import path from 'node:path';
import { HubError } from '../errors.js';
import { isCommitHash, repoFolderName } from './repo-id.js';

/** Turns a file-system failure into a one-line HubError naming the cache path. */
export function cacheWriteError(err: unknown, file: string): Error {
  if (err instanceof HubError) return err;
  const e = err as NodeJS.ErrnoException;
  return new HubError(`cannot write ${file} in the Hugging Face cache: ${e.code ?? ''} ${e.message ?? String(err)}`.replace(/\s+/g, ' '));
}

/**
 * One repository's folder in a huggingface_hub-compatible cache:
 *   models--org--name/blobs/{etag}               file contents, named by ETag (LFS: the sha256)
 *   models--org--name/blobs/{etag}.incomplete    a download in progress (resumed with Range)
 *   models--org--name/snapshots/{commit}/{path}  relative symlinks to the blobs (copies where links fail)
 *   models--org--name/refs/{revision}            the commit hash a branch or tag last resolved to
 * so that Python's transformers and xverse-ts share downloads.
 */
export class RepoCache {
  readonly root: string;

  constructor(cacheDir: string, readonly repoId: string) {
    this.root = path.join(cacheDir, repoFolderName(repoId));
  }

  blobPath(etag: string): string {
    // The ETag comes from the server: it names a file, so it must not hold a path.
    if (!/^[\w.+=-]+$/.test(etag) || etag.startsWith('.')) throw new HubError(`${this.repoId}: the Hub sent an unusable ETag ${JSON.stringify(etag)}`);
    return path.join(this.root, 'blobs', etag);
  }

  incompletePath(etag: string): string {
    return `${this.blobPath(etag)}.incomplete`;
  }

  hasBlob(etag: string): boolean {
    try {
      return fs.statSync(this.blobPath(etag)).isFile();
    } catch {
      return false;
    }
  }

  snapshotDir(commit: string): string {
    return path.join(this.root, 'snapshots', commit);
  }

  pointerPath(commit: string, file: string): string {
    return path.join(this.snapshotDir(commit), ...file.split('/'));
  }

  /** A snapshot file that exists (a symlink is followed: a dangling one does not count). */
  hasPointer(commit: string, file: string): boolean {
    return fs.existsSync(this.pointerPath(commit, file));
  }

  private refPath(revision: string): string {
    if (revision.split('/').some((seg) => seg === '' || seg === '.' || seg === '..')) throw new HubError(`"${revision}" is not a usable revision name`);
    return path.join(this.root, 'refs', ...revision.split('/'));
  }

  /** The commit a revision points to in the cache: itself when it is a commit hash, else refs/{revision}. */
  resolveRevision(revision: string): string | null {
    if (isCommitHash(revision)) return revision;
    try {
      const commit = fs.readFileSync(this.refPath(revision), 'utf8').trim();
      return isCommitHash(commit) ? commit : null;
    } catch {
      return null;
    }
  }

  /** Records that `revision` is `commit` (nothing to record when the revision is the commit). */
  writeRef(revision: string, commit: string): void {
    if (revision === commit) return;
    const file = this.refPath(revision);
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, commit);
    } catch (err) {
      throw cacheWriteError(err, file);
    }
  }

  /**
   * Points snapshots/{commit}/{file} at blobs/{etag} with a relative symlink, as huggingface_hub
   * does; where the file system refuses symlinks, the blob is copied there instead.
   */
  linkPointer(commit: string, file: string, etag: string): void {
    const pointer = this.pointerPath(commit, file);
    const blob = this.blobPath(etag);
    try {
      fs.mkdirSync(path.dirname(pointer), { recursive: true });
      fs.rmSync(pointer, { force: true }); // a dangling link or a stale copy
      try {
        fs.symlinkSync(path.relative(path.dirname(pointer), blob), pointer);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw err;
        fs.copyFileSync(blob, pointer);
      }
    } catch (err) {
      throw cacheWriteError(err, pointer);
    }
  }
}
