// The action's entry point (runs.using: node24). It downloads the gitops-promote release binary for this
// runner's OS and architecture, verifies it against action/SHA256SUMS (committed in the action repository,
// written by .github/workflows/release.yml), keeps the verified binary in the runner's tool cache for later
// steps (checked again each time), and runs it with the step's environment unchanged, so the binary reads the
// same INPUT_* variables (hyphens kept), GITHUB_OUTPUT and GITHUB_STEP_SUMMARY as it would anywhere. Its exit
// code is the step's. Node's standard library only: nothing to install.
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const zlib = require('node:zlib');
const { spawnSync } = require('node:child_process');

// Every environment variable the wrapper itself reads (the binary reads its own).
const ENV = {
  // Base URL of the release downloads; the asset is fetched from `${base}/${version}/${asset}`. Default:
  // ${GITHUB_SERVER_URL}/${repository}/releases/download, the repository recorded in action/RELEASE. Mirrors set it.
  downloadUrl: 'GITOPS_PROMOTE_DOWNLOAD_URL',
  // Set by the runner: the owner/name of the action being run (the fallback when action/RELEASE is missing).
  actionRepository: 'GITHUB_ACTION_REPOSITORY',
  // Set by the runner: https://github.com, or a GitHub Enterprise Server's address.
  serverUrl: 'GITHUB_SERVER_URL',
  // Set by the runner: where the verified binary is kept for later steps (and, on self-hosted runners,
  // later jobs), and a per-job scratch directory.
  toolCache: 'RUNNER_TOOL_CACHE',
  temp: 'RUNNER_TEMP',
};

const CHECKSUMS = path.join(__dirname, 'SHA256SUMS');
// `repository=owner/name` and `version=vX.Y.Z`: where the binaries of this release are (release.yml writes it
// beside the checksums).
const RELEASE = path.join(__dirname, 'RELEASE');

// The release targets, by Node's platform and architecture. Linux binaries are static (musl), so they run on
// any distribution, and in containers that have no glibc.
const TARGETS = {
  'linux-x64': 'x86_64-unknown-linux-musl',
  'linux-arm64': 'aarch64-unknown-linux-musl',
  'darwin-x64': 'x86_64-apple-darwin',
  'darwin-arm64': 'aarch64-apple-darwin',
  'win32-x64': 'x86_64-pc-windows-msvc',
};

class Refusal extends Error {}

// Workflow command data escaping, as @actions/core does it.
function escapeData(s) {
  return String(s).replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

function sha256(bytes) {
  return crypto.createHash('sha256').update(bytes).digest('hex');
}

// What SHA256SUMS says about `target`: two lines, the compressed asset and the binary it decompresses to,
// `<64 hex>  gitops-promote-<version>-<target>[.exe].gz` and `<64 hex>  gitops-promote-<version>-<target>[.exe]`
// (the name `gunzip` gives it, so `sha256sum --check` verifies both).
function releaseFor(target, checksumsText) {
  const exe = target.includes('-windows-') ? '.exe' : '';
  const found = new Map(); // version → { asset, assetSha256, binary, binarySha256 }
  for (const raw of checksumsText.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([0-9a-fA-F]{64}) [ *](\S+)$/.exec(line);
    if (!m) throw new Refusal(`${CHECKSUMS}: not a sha256sum line: ${JSON.stringify(line)}`);
    const [, hash, name] = m;
    for (const [suffix, key] of [[`-${target}${exe}.gz`, 'asset'], [`-${target}${exe}`, 'binary']]) {
      if (name.startsWith('gitops-promote-') && name.endsWith(suffix)) {
        const version = name.slice('gitops-promote-'.length, -suffix.length);
        const entry = found.get(version) || {};
        entry[key] = name;
        entry[`${key}Sha256`] = hash.toLowerCase();
        found.set(version, entry);
      }
    }
  }
  const complete = [...found].filter(([, e]) => e.asset && e.binary);
  if (complete.length !== 1) {
    throw new Refusal(
      complete.length === 0
        ? `action/SHA256SUMS has no release binary for ${target}: this commit of the action is not a ` +
            'release (release.yml writes the checksums on the commit the major tag points to)\n' +
            'help: use a released version, e.g. `uses: <owner>/gitops-promote@v1`'
        : `action/SHA256SUMS lists ${complete.length} releases for ${target}; it must list one`,
    );
  }
  const [version, entry] = complete[0];
  if (!/^v?\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$/.test(version)) {
    throw new Refusal(`action/SHA256SUMS names a release with an invalid version: ${entry.asset}`);
  }
  return { version, ...entry };
}

// Where the binaries of `release` are, from action/RELEASE (`repository=owner/name`, `version=vX.Y.Z`): '' when
// the commit records nothing (then GITHUB_ACTION_REPOSITORY is the fallback); a malformed record, or one for
// another version than the checksums, is refused.
function recordedRepository(release) {
  let text;
  try {
    text = fs.readFileSync(RELEASE, 'utf8');
  } catch {
    return '';
  }
  const fields = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(repository|version)=(\S+)$/.exec(line);
    if (!m) throw new Refusal(`action/RELEASE: not a \`repository=owner/name\` or \`version=vX.Y.Z\` line: ${JSON.stringify(line)}`);
    fields[m[1]] = m[2];
  }
  if (!/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/.test(fields.repository || '')) {
    throw new Refusal('action/RELEASE has no valid `repository=owner/name` line\n' +
      'help: release.yml writes it with the checksums; use a released version, e.g. `uses: <owner>/gitops-promote@v1`');
  }
  if (fields.version && fields.version !== release.version) {
    throw new Refusal(`action/RELEASE is for ${fields.version}, action/SHA256SUMS for ${release.version}: ` +
      'the two were not written by one release');
  }
  return fields.repository;
}

async function download(url) {
  let lastError;
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      const response = await fetch(url, { redirect: 'follow', signal: AbortSignal.timeout(120_000) });
      if (response.ok) return Buffer.from(await response.arrayBuffer());
      lastError = new Error(`${url} answered ${response.status} ${response.statusText}`);
      if (response.status < 500 && response.status !== 429) break;
    } catch (e) {
      lastError = new Error(`can't download ${url}: ${e.cause ? e.cause.message || e.cause : e.message}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 500 * 2 ** (attempt - 1)));
  }
  throw new Refusal(lastError.message);
}

function writeAtomically(file, bytes, mode) {
  const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
  fs.writeFileSync(tmp, bytes, { mode });
  fs.renameSync(tmp, file);
}

// The verified binary: the copy an earlier step cached, when its bytes still match the committed checksum;
// else the asset is downloaded, checked, decompressed, checked again and cached. Nothing unverified is ever
// written to the cache or run.
async function verifiedBinary(release, target) {
  // Where the binaries are is recorded beside the checksums by release.yml (action/RELEASE): inside a composite
  // action GITHUB_ACTION_REPOSITORY is empty or names the outer action (actions/runner#2473, #2525), so it is
  // only the fallback for a commit that records nothing.
  const repository = recordedRepository(release) || process.env[ENV.actionRepository];
  const cacheDir = path.join(process.env[ENV.toolCache] || os.tmpdir(), 'gitops-promote', release.version, target);
  const cached = path.join(cacheDir, release.binary);
  if (fs.existsSync(cached)) {
    const bytes = fs.readFileSync(cached);
    if (sha256(bytes) === release.binarySha256) return { bytes, source: 'cached' };
    fs.rmSync(cached, { force: true });
  }
  const server = (process.env[ENV.serverUrl] || 'https://github.com').replace(/\/+$/, '');
  const base = process.env[ENV.downloadUrl] ||
    (repository ? `${server}/${repository}/releases/download` : '');
  if (!base) {
    throw new Refusal(
      `no download location for ${release.asset}: ${ENV.actionRepository} is not set (a local \`uses: ./\`)\n` +
        `help: set ${ENV.downloadUrl} to the base URL of the releases`,
    );
  }
  const url = `${base.replace(/\/+$/, '')}/${release.version}/${release.asset}`;
  const compressed = await download(url);
  const mismatch = (name, expected, actual) =>
    new Refusal(
      `checksum mismatch for ${name} from ${url}: expected sha256 ${expected} (action/SHA256SUMS), ` +
        `got ${actual}; the download was refused and nothing was run\n` +
        'help: rerun the job; if it persists, the release asset differs from the one this action version ' +
        'was released with: report it',
    );
  const actual = sha256(compressed);
  if (actual !== release.assetSha256) throw mismatch(release.asset, release.assetSha256, actual);
  let bytes;
  try {
    bytes = zlib.gunzipSync(compressed);
  } catch (e) {
    throw new Refusal(`can't decompress ${release.asset}: ${e.message}`);
  }
  const binaryActual = sha256(bytes);
  if (binaryActual !== release.binarySha256) throw mismatch(release.binary, release.binarySha256, binaryActual);
  fs.mkdirSync(cacheDir, { recursive: true });
  writeAtomically(cached, bytes, 0o755);
  return { bytes, source: `downloaded ${compressed.length} bytes` };
}

async function main() {
  const started = process.hrtime.bigint();
  const target = TARGETS[`${process.platform}-${process.arch}`];
  if (!target) {
    throw new Refusal(
      `no gitops-promote release for ${process.platform}/${process.arch}; supported runners: ` +
        Object.keys(TARGETS).join(', '),
    );
  }
  const release = releaseFor(target, fs.readFileSync(CHECKSUMS, 'utf8'));
  const { bytes, source } = await verifiedBinary(release, target);

  // The verified bytes are written to a fresh directory in this job's scratch space and run from there, so
  // what runs is what was checked, whatever happens to the cache meanwhile.
  const dir = fs.mkdtempSync(path.join(process.env[ENV.temp] || os.tmpdir(), 'gitops-promote-'));
  const binary = path.join(dir, process.platform === 'win32' ? 'gitops-promote.exe' : 'gitops-promote');
  fs.writeFileSync(binary, bytes, { mode: 0o755 });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  process.stdout.write(
    `gitops-promote ${release.version} (${target}), sha256 verified, ${source}, ready in ${ms.toFixed(0)} ms\n`,
  );

  // The environment is passed as it is: INPUT_* (hyphens kept), GITHUB_*, RUNNER_*.
  const result = spawnSync(binary, [], { stdio: 'inherit', env: process.env, windowsHide: true });
  fs.rmSync(dir, { recursive: true, force: true });
  if (result.error) throw new Refusal(`can't run ${binary}: ${result.error.message}`);
  if (result.signal) throw new Refusal(`gitops-promote was killed by ${result.signal}`);
  return result.status;
}

// Node exits by itself once stdout is flushed (process.exit() could cut an asynchronous pipe, as on macOS);
// the unref'd timer only bounds the wait should an idle connection keep it alive.
function finish(code) {
  process.exitCode = code;
  setTimeout(() => process.exit(code), 2000).unref();
}

main().then(finish, (e) => {
  const message = e instanceof Refusal ? e.message : `unexpected wrapper failure: ${e.stack || e}`;
  process.stdout.write(`::error title=gitops-promote::${escapeData(message)}\n`);
  finish(1);
});
