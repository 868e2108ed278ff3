import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { log } from './provision';

const DEBIAN_CHROMIUM = '/usr/bin/chromium';

/**
 * The page tests drive Debian's Chromium (a browser a test tool downloads itself cannot be had
 * here). Installs the `chromium` package when it is missing and this user may; otherwise says
 * what to install. CHROMIUM_PATH points at another Chromium.
 */
export function ensureChromium(): string {
  const wanted = process.env.CHROMIUM_PATH ?? DEBIAN_CHROMIUM;
  if (existsSync(wanted)) return wanted;
  if (process.env.CHROMIUM_PATH) throw new Error(`CHROMIUM_PATH=${wanted} does not exist`);
  if (process.getuid?.() !== 0) {
    throw new Error(
      `the page tests need Chromium at ${DEBIAN_CHROMIUM}: run 'sudo apt-get install chromium', or set CHROMIUM_PATH`,
    );
  }
  log('chromium', "installing Debian's chromium package for the page tests (once per machine)");
  for (const args of [
    ['update', '-q'],
    ['install', '-y', '-q', 'chromium'],
  ]) {
    const result = spawnSync('apt-get', args, {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    if (result.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed`);
  }
  if (!existsSync(DEBIAN_CHROMIUM))
    throw new Error(`chromium installed but ${DEBIAN_CHROMIUM} is missing`);
  return DEBIAN_CHROMIUM;
}
