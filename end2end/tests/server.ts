import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

const root = path.resolve(__dirname, '..', '..');
const serverBin = path.resolve(root, 'end2end', process.env.SERVER_BIN ?? '../target/release/server');

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

/** A server process of a test's own: its own port and SQLite file, restartable. */
export class OwnServer {
  private process?: ChildProcess;
  private readonly dir = mkdtempSync(path.join(tmpdir(), 'webinar-e2e-'));

  private constructor(
    readonly port: number,
    private readonly env: Record<string, string>,
  ) {}

  static async start(env: Record<string, string> = {}): Promise<OwnServer> {
    const server = new OwnServer(await freePort(), env);
    await server.restart();
    return server;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  private get databaseUrl(): string {
    return `sqlite://${this.dir}/webinar.db?mode=rwc`;
  }

  /** `server create-admin` on this server's database, the password on stdin. */
  createAdmin(email: string, password: string): void {
    const result = spawnSync(serverBin, ['create-admin', '--email', email], {
      cwd: root,
      input: `${password}\n`,
      env: { ...process.env, DATABASE_URL: this.databaseUrl, RUST_LOG: 'error' },
    });
    if (result.status !== 0) throw new Error(`create-admin failed: ${result.stdout}${result.stderr}`);
  }

  /** `server create-token` on this server's database: the token's secret. */
  createToken(name: string, scope: 'read' | 'write'): string {
    const result = spawnSync(serverBin, ['create-token', '--name', name, '--scope', scope], {
      cwd: root,
      env: { ...process.env, DATABASE_URL: this.databaseUrl, RUST_LOG: 'error' },
    });
    const secret = result.stdout.toString().trim().split('\n').pop() ?? '';
    if (result.status !== 0 || !secret.startsWith('wbt_')) {
      throw new Error(`create-token failed: ${result.stdout}${result.stderr}`);
    }
    return secret;
  }

  /** Starts the process (again) on the same port and database; resolves once it answers. */
  async restart(): Promise<void> {
    this.process = spawn(serverBin, ['serve'], {
      cwd: root,
      stdio: 'ignore',
      env: {
        ...process.env,
        DATABASE_URL: this.databaseUrl,
        LEPTOS_SITE_ADDR: `127.0.0.1:${this.port}`,
        LEPTOS_SITE_ROOT: 'target/site',
        SEED_DEMO: 'true',
        OUTBOX_DIR: path.join(this.dir, 'outbox'),
        ...this.env,
      },
    });
    for (let attempt = 0; attempt < 200; attempt++) {
      try {
        if ((await fetch(`${this.url}/healthz`)).ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`the server on ${this.port} did not start`);
  }

  /** SIGKILL: every open websocket drops at once. */
  async kill(): Promise<void> {
    const process = this.process;
    if (!process || process.exitCode !== null) return;
    await new Promise((resolve) => {
      process.once('exit', resolve);
      process.kill('SIGKILL');
    });
  }

  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
