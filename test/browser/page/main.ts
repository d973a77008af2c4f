// Runs in Chromium through navigator.gpu: the same kernels and the same runner as the Node tests.
import { GpuContext } from '../../../src/gpu/index.ts';
import { selfTest } from '../../../src/kernels/self-test.ts';
import { runAllActivations } from '../../helpers/activation-run.ts';

declare global {
  interface Window {
    gradlensCheck?: Promise<unknown>;
  }
}

window.gradlensCheck = (async () => {
  const context = await GpuContext.open();
  try {
    return { report: context.report, selfTest: await selfTest(context), activations: await runAllActivations(context) };
  } finally {
    context.destroy();
    document.querySelector('#status')!.textContent = 'done';
  }
})().catch((error: Error & { code?: string }) => ({ error: { code: error.code, message: error.message } }));
