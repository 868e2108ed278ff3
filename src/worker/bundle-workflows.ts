import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';

/**
 * Bundles src/workflows into one file, which workers load through WORKFLOW_BUNDLE_PATH instead
 * of bundling at every start. Returns the bundle's size in bytes.
 */
export async function writeWorkflowBundle(out: string): Promise<number> {
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('../workflows'),
    logger: new DefaultLogger('WARN'),
  });
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, code);
  return code.length;
}

// `npm run build` ends here: the bundle that the service's image sets as WORKFLOW_BUNDLE_PATH.
if (require.main === module) {
  const out = resolve(process.argv[2] ?? 'dist/workflow-bundle.js');
  writeWorkflowBundle(out).then(
    (size) => process.stdout.write(`workflow bundle: ${out} (${Math.round(size / 1024)} KiB)\n`),
    (error: unknown) => {
      process.stderr.write(`${String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
