import { fileURLToPath } from 'node:url';

/**
 * The package's root, where models/, samples/ and node_modules/ are: two folders up from the module that holds this
 * line, built (dist/node/cli.js) or not (src/node/). Only the CLI imports it, so the build keeps it in cli.js and out of
 * the chunks shared with the benchmark (dist/node/assets/), where two folders up would be dist/.
 */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));
