#!/usr/bin/env node
// Builds every image docker-compose.yml uses, tagged as the file names them:
//   node deploy/build-images.mjs [--profile s3]
// Own images are built from their Dockerfiles (BuildKit). The images those Dockerfiles and the
// compose file take from outside (node, debian, nats) are used when present, pulled when a
// registry answers, and otherwise replaced by stand-ins built from Debian and npm
// (deploy/standin/). drachtio-server is compiled from GitHub when GitHub answers; otherwise the
// binary named by DRACHTIO_BIN (same commit and flags) stands in for the compile stage.
// Every stand-in used is printed; nothing falls back silently.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const standin = join(root, 'deploy', 'standin', 'build.sh');

/** The services of docker-compose.yml (profiles included), with the image and build of each. */
export function composeImages() {
  const file = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), { merge: true });
  return Object.entries(file.services).map(([service, spec]) => ({
    service,
    image: spec.image,
    profiles: spec.profiles ?? [],
    build: spec.build && { context: join(root, spec.build.context), dockerfile: join(root, spec.build.context, spec.build.dockerfile ?? 'Dockerfile') },
  }));
}

/** The default of each `ARG *_IMAGE=…` in a Dockerfile: the images it builds on. */
function baseImages(dockerfile) {
  return [...readFileSync(dockerfile, 'utf8').matchAll(/^ARG (\w+_IMAGE)=(\S+)$/gm)].map((m) => ({ arg: m[1], image: m[2] }));
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { encoding: 'utf8', stdio: options.quiet ? 'pipe' : ['ignore', 'inherit', 'inherit'], ...options });
  return result.status === 0;
}

/** A `docker build` that uses BuildKit: `docker` itself when it can, else Debian's 20.10 CLI. */
function buildkitCli() {
  for (const cli of ['docker', '/usr/bin/docker']) {
    if (run(cli, ['build', '--help'], { quiet: true, env: { ...process.env, DOCKER_BUILDKIT: '1' } })) return cli;
  }
  throw new Error("no docker CLI here builds with BuildKit: install docker-buildx, or Debian's docker.io (20.10)");
}

const hasImage = (image) => run('docker', ['image', 'inspect', image], { quiet: true });
const reachable = (url) =>
  run('git', ['ls-remote', '--exit-code', url, 'HEAD'], { quiet: true, timeout: 20_000, env: { ...process.env, GIT_TERMINAL_PROMPT: '0' } });

export function buildImages({ profiles = [], log = console.log } = {}) {
  const cli = buildkitCli();
  const env = { ...process.env, DOCKER_BUILDKIT: '1', DOCKER_BUILD: `${cli} build` };
  const standins = [];
  const caBundle = [process.env.NODE_EXTRA_CA_CERTS, '/etc/ssl/certs/ca-certificates.crt'].find((file) => file && existsSync(file));
  const services = composeImages().filter((s) => s.profiles.length === 0 || s.profiles.some((p) => profiles.includes(p)));

  // Outside images, Debian first: the other stand-ins are built on it.
  const outside = new Set();
  for (const { build, image } of services) {
    if (build) for (const base of baseImages(build.dockerfile)) outside.add(base.image);
    else outside.add(image);
  }
  const order = (image) => (image.startsWith('debian:') ? 0 : 1);
  for (const image of [...outside].sort((a, b) => order(a) - order(b))) {
    if (hasImage(image)) continue;
    if (run('docker', ['pull', '-q', image], { quiet: true })) continue;
    const kind = image.split(':')[0];
    if (!['debian', 'node', 'nats'].includes(kind)) throw new Error(`${image} cannot be pulled and has no stand-in`);
    log(`build-images: ${image} cannot be pulled here; building a stand-in (deploy/standin/build.sh ${kind})`);
    const debian = [...outside].find((i) => i.startsWith('debian:'));
    if (!run('bash', [standin, kind, image], { env: { ...env, ...(debian ? { DEBIAN_IMAGE: debian } : {}) } })) throw new Error(`stand-in ${image} failed`);
    standins.push(image);
  }

  // Own images, with the tags the compose file uses.
  const built = new Set();
  for (const { build, image } of services) {
    if (!build || built.has(image)) continue;
    built.add(image);
    const args = ['build', '-q', '-t', image, '-f', build.dockerfile];
    if (caBundle) args.push('--secret', `id=ca_bundle,src=${caBundle}`);
    if (/drachtio/.test(image) && !reachable('https://github.com/drachtio/drachtio-server.git')) {
      const binary = process.env.DRACHTIO_BIN;
      if (!binary || !existsSync(binary))
        throw new Error('GitHub cannot be reached to compile drachtio-server and DRACHTIO_BIN names no binary to stand in for the compile stage');
      log(`build-images: GitHub cannot be reached; ${image} takes drachtio-server from ${binary} instead of compiling it (deploy/standin/README.md)`);
      if (!run('bash', [standin, 'drachtio-binary', binary], { env })) throw new Error('drachtio binary stand-in failed');
      args.push('--build-arg', 'DRACHTIO_BINARY_FROM=sipvm-standin/drachtio-binary');
      standins.push(`${image} (compile stage)`);
    }
    log(`build-images: ${image}`);
    const started = Date.now();
    if (!run(cli, [...args, build.context], { env, stdio: ['ignore', 'ignore', 'inherit'] })) throw new Error(`building ${image} failed`);
    log(`build-images: ${image} built in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  }
  return { images: [...built], standins };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const profiles = process.argv.flatMap((arg, i, all) => (all[i - 1] === '--profile' ? [arg] : []));
  try {
    const { standins } = buildImages({ profiles });
    if (standins.length > 0) console.log(`build-images: stand-ins used: ${standins.join(', ')}`);
  } catch (error) {
    console.error(`build-images: ${error.message}`);
    process.exit(1);
  }
}
