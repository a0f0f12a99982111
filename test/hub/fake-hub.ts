import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

/**
 * A local stand-in for huggingface.co and its LFS CDN (two servers on 127.0.0.1, so the CDN is
 * another host:port): the model-info API, resolve URLs with the Hub's headers (X-Repo-Commit,
 * ETag / X-Linked-Etag, X-Linked-Size, a 302 to the CDN for LFS files), Range requests, and faults
 * to inject (401 without a token, 503s, cut or stalled connections, corrupt bytes, missing files).
 */

interface FakeFile { content: Buffer; lfs: boolean; sha256: string; gitSha1: string }
interface FakeRepo { commit: string; files: Map<string, FakeFile> }
export interface RequestRecord { server: 'hub' | 'cdn'; method: string; url: string; headers: http.IncomingHttpHeaders }

/** LFS files in these tests: weights and binary tokenizers (as on the Hub, where big binaries are LFS). */
const isLfsPath = (p: string) => /\.(safetensors|bin|gguf|model)$/.test(p);

export class FakeHub {
  readonly repos = new Map<string, FakeRepo>();
  readonly log: RequestRecord[] = [];
  /** When set, the Hub answers 401 to requests without `Authorization: Bearer <token>`. */
  token: string | null = null;
  /** File path → the CDN sends this many bytes, then destroys the socket (once). */
  readonly cutAfter = new Map<string, number>();
  /** File path → the CDN sends this many bytes, then goes silent (once). */
  readonly stallAfter = new Map<string, number>();
  /** 'info' or a file path → answer 503 this many more times. */
  readonly fail503 = new Map<string, number>();
  /** Files the CDN serves with flipped bytes (same length). */
  readonly corrupt = new Set<string>();
  /** Files listed by the API whose resolve URL answers 404 (EntryNotFound). */
  readonly missing = new Set<string>();
  endpoint = '';
  cdnOrigin = '';
  private readonly servers: http.Server[] = [];
  private readonly stalled: http.ServerResponse[] = [];

  static async start(): Promise<FakeHub> {
    const hub = new FakeHub();
    hub.endpoint = await hub.listen((req, res) => hub.handleHub(req, res));
    hub.cdnOrigin = await hub.listen((req, res) => hub.handleCdn(req, res));
    return hub;
  }

  addRepo(repoId: string, files: Record<string, Buffer | string>): void {
    const map = new Map<string, FakeFile>();
    for (const [p, data] of Object.entries(files)) {
      const content = Buffer.from(data);
      map.set(p, {
        content, lfs: isLfsPath(p),
        sha256: createHash('sha256').update(content).digest('hex'),
        gitSha1: createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex'),
      });
    }
    this.repos.set(repoId, { commit: createHash('sha1').update(`${repoId}:${Math.random()}`).digest('hex'), files: map });
  }

  /** Serves a copy of a local model folder (its regular files) as `repoId`. */
  addFolder(repoId: string, dir: string): void {
    const files: Record<string, Buffer> = {};
    for (const name of fs.readdirSync(dir)) {
      if (fs.statSync(path.join(dir, name)).isFile()) files[name] = fs.readFileSync(path.join(dir, name));
    }
    this.addRepo(repoId, files);
  }

  commit(repoId: string): string {
    return this.repos.get(repoId)!.commit;
  }

  file(repoId: string, p: string): FakeFile {
    return this.repos.get(repoId)!.files.get(p)!;
  }

  requests(server?: 'hub' | 'cdn'): RequestRecord[] {
    return this.log.filter((r) => server === undefined || r.server === server);
  }

  async close(): Promise<void> {
    for (const res of this.stalled) res.destroy();
    await Promise.all(this.servers.map((s) => new Promise<void>((resolve) => {
      s.closeAllConnections();
      s.close(() => resolve());
    })));
  }

  private listen(handler: http.RequestListener): Promise<string> {
    const server = http.createServer(handler);
    this.servers.push(server);
    return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
  }

  private takeFault(map: Map<string, number>, key: string): number | undefined {
    const n = map.get(key);
    if (n === undefined) return undefined;
    if (map === this.fail503) {
      if (n <= 1) map.delete(key);
      else map.set(key, n - 1);
    } else map.delete(key);
    return n;
  }

  private handleHub(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.log.push({ server: 'hub', method: req.method!, url: req.url!, headers: req.headers });
    if (this.token !== null && req.headers.authorization !== `Bearer ${this.token}`) {
      res.writeHead(401, { 'X-Error-Code': 'GatedRepo' }).end('{"error":"Access to this model is restricted"}');
      return;
    }
    const url = new URL(req.url!, this.endpoint);
    const info = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/([^/]+)$/.exec(url.pathname);
    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    const repoId = info?.[1] ?? resolve?.[1];
    const repo = repoId === undefined ? undefined : this.repos.get(repoId);
    if (!repo) {
      res.writeHead(404, { 'X-Error-Code': 'RepoNotFound' }).end();
      return;
    }
    const revision = decodeURIComponent((info ?? resolve)![2]!);
    if (revision !== 'main' && revision !== repo.commit) {
      res.writeHead(404, { 'X-Error-Code': 'RevisionNotFound' }).end();
      return;
    }
    const faultKey = info ? 'info' : decodeURIComponent(resolve![3]!);
    if (this.takeFault(this.fail503, faultKey) !== undefined) {
      res.writeHead(503).end('busy');
      return;
    }
    if (info) {
      const siblings = [...repo.files].map(([p, f]) => ({
        rfilename: p, blobId: f.gitSha1, size: f.content.length,
        ...(f.lfs ? { lfs: { sha256: f.sha256, size: f.content.length, pointerSize: 130 } } : {}),
      }));
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ id: repoId, sha: repo.commit, siblings }));
      return;
    }
    const filePath = faultKey;
    const file = repo.files.get(filePath);
    if (!file || this.missing.has(filePath)) {
      res.writeHead(404, { 'X-Error-Code': 'EntryNotFound' }).end();
      return;
    }
    if (file.lfs) {
      res.writeHead(302, {
        Location: `${this.cdnOrigin}/cdn/${file.sha256}?name=${encodeURIComponent(filePath)}`,
        'X-Repo-Commit': repo.commit, 'X-Linked-Etag': `"${file.sha256}"`, 'X-Linked-Size': String(file.content.length),
        ETag: `"${file.gitSha1}"`, 'Content-Length': '0',
      }).end();
      return;
    }
    res.writeHead(200, { 'X-Repo-Commit': repo.commit, ETag: `"${file.gitSha1}"`, 'Content-Length': String(file.content.length) });
    res.end(req.method === 'HEAD' ? undefined : file.content);
  }

  private handleCdn(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.log.push({ server: 'cdn', method: req.method!, url: req.url!, headers: req.headers });
    const url = new URL(req.url!, this.cdnOrigin);
    const name = url.searchParams.get('name') ?? '';
    const sha = url.pathname.replace('/cdn/', '');
    const file = [...this.repos.values()].flatMap((r) => [...r.files.values()]).find((f) => f.sha256 === sha);
    if (!file) {
      res.writeHead(404).end();
      return;
    }
    let body = file.content;
    if (this.corrupt.has(name)) body = Buffer.from(body.map((b) => b ^ 0xff));
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = range ? Number(range[1]) : 0;
    if (start >= body.length && range) {
      res.writeHead(416, { 'Content-Range': `bytes */${body.length}` }).end();
      return;
    }
    const part = body.subarray(start);
    res.writeHead(range ? 206 : 200, {
      'Content-Length': String(part.length),
      ...(range ? { 'Content-Range': `bytes ${start}-${body.length - 1}/${body.length}` } : {}),
    });
    const cut = this.takeFault(this.cutAfter, name);
    if (cut !== undefined) {
      res.write(part.subarray(0, cut), () => setTimeout(() => req.socket.destroy(), 20));
      return;
    }
    const stall = this.takeFault(this.stallAfter, name);
    if (stall !== undefined) {
      res.write(part.subarray(0, stall));
      this.stalled.push(res);
      return;
    }
    res.end(req.method === 'HEAD' ? undefined : part);
  }
}
