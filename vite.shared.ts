import { defaultClientConditions, defaultServerConditions, type UserConfig } from 'vite';

/**
 * Every build and test of this repository reads `#adapter` from the TypeScript sources (package.json "imports",
 * condition `gradlens-source`); the published package's consumers get the compiled files under dist/lib.
 */
export const fromSource: UserConfig = {
  resolve: { conditions: ['gradlens-source', ...defaultClientConditions] },
  ssr: { resolve: { conditions: ['gradlens-source', ...defaultServerConditions], externalConditions: ['gradlens-source', 'node'] } },
};
