/** Exit codes, documented in the README and --help: 0 done, 1 some inputs failed, 2 usage error, 3 no GPU or device lost, 130 Ctrl-C. */
export const EXIT = { ok: 0, someFailed: 1, usage: 2, noGpu: 3, interrupted: 130 } as const;
