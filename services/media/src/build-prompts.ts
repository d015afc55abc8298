#!/usr/bin/env node
/** Builds the prompt WAVs: `node services/media/dist/build-prompts.js [dir] [--force]`. */
import { buildPrompts } from './prompt-builder.js';
import { DEFAULT_PROMPTS_DIR } from './config.js';

const args = process.argv.slice(2);
const dir = args.find((a) => !a.startsWith('--')) ?? DEFAULT_PROMPTS_DIR;
const started = Date.now();
const { built } = await buildPrompts(dir, { force: args.includes('--force') });
console.log(built === 0 ? `prompts in ${dir} are up to date` : `built ${built} prompts into ${dir} in ${Date.now() - started} ms`);
