// `npm run bench` (dist/node/bench.js): the same as `gradlens bench`, every suite; options as gradlens bench --help.
import { benchCommand } from '../src/node/bench-command.ts';

process.exitCode = await benchCommand(process.argv.slice(2));
