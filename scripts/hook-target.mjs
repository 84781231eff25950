// The folder a post-build step works on: Trunk's staging folder when run as a hook (and then only
// for release builds: `trunk serve` stays fast), else the folder given (default dist/). Returns
// null, after saying so, when there is nothing to do; exits when the folder is missing.
import fs from 'node:fs';
import path from 'node:path';

export function hookTarget(name, skipped = 'nothing to do') {
  const staging = process.env.TRUNK_STAGING_DIR;
  if (staging && process.env.TRUNK_PROFILE !== 'release') {
    console.log(`${name}: not a release build, ${skipped}`);
    return null;
  }
  const dir = path.resolve(process.argv[2] ?? staging ?? 'dist');
  if (!fs.existsSync(dir)) {
    console.error(`${name}: ${dir} does not exist (build the bundle first: trunk build --release)`);
    process.exit(2);
  }
  return dir;
}
