import type { AdapterOptions } from '../gpu/adapter.ts';
import { GpuContext, type AdapterReport } from '../gpu/device.ts';
import { GradlensError } from '../gpu/errors.ts';
import { selfTest } from '../kernels/self-test.ts';

export interface DoctorResult {
  usable: boolean;
  verdict: string;
  adapter?: AdapterReport;
  selfTest?: string;
  error?: { code: string; message: string };
}

/** Finds an adapter, opens a device, runs a real kernel, and says whether gradlens can work here. */
export async function doctor(options: AdapterOptions): Promise<DoctorResult> {
  let context: GpuContext;
  try {
    context = await GpuContext.open(options);
  } catch (error) {
    if (!(error instanceof GradlensError)) throw error;
    // An adapter refused only for what was asked of it (precision 'f16' without shader-f16) is still there.
    const refusedF16 = error.code === 'DEVICE_LIMIT' && options.precision === 'f16';
    const verdict = refusedF16 ? 'not usable as asked (without --precision f16 it may be)' : 'no usable WebGPU adapter';
    return { usable: false, verdict, error: { code: error.code, message: error.message } };
  }
  try {
    const test = await selfTest(context);
    const kind = context.report.software
      ? 'software adapter: correct but slow, fine for tests and small models; a GPU is much faster'
      : 'hardware adapter';
    return {
      usable: test.ok,
      verdict: test.ok ? `usable (${kind})` : 'the adapter gives wrong results: do not use it',
      adapter: context.report,
      selfTest: test.detail,
    };
  } finally {
    context.destroy();
  }
}

export function formatDoctor(result: DoctorResult): string {
  const lines: string[] = [];
  const a = result.adapter;
  if (a) {
    lines.push(
      `adapter      ${a.description || a.device || '(unnamed)'}`,
      `vendor       ${a.vendor || '-'}   architecture ${a.architecture || '-'}   device ${a.device || '-'}`,
      `backend      ${a.backend}   feature level ${a.featureLevel}   ${a.software ? 'software (CPU)' : 'hardware (GPU)'}`,
      `features     ${a.features.length ? a.features.join(', ') : '(none of shader-f16, timestamp-query, subgroups)'}`,
      `precision    ${a.precision === 'f16' ? 'f16 weights (--precision f16), products and sums in f32' : `f32${a.shaderF16 ? ' (--precision f16 would read f16 copies of the weights)' : ''}`}`,
      'limits',
      ...Object.entries(a.limits).map(([name, value]) => `  ${name.padEnd(36)} ${value.toLocaleString('en-US')}`),
    );
    lines.push(
      `loop budget  ${a.loopBudget === null ? 'none' : `${a.loopBudget.toLocaleString('en-US')} iterations per invocation (Mesa gallivm's loop guard; longer sums are split)`}`,
    );
    if (a.note) lines.push(`note         ${a.note}`);
    const t = a.tuning;
    if (t)
      lines.push(
        `autotune     ${t.entries ? `${t.entries} shape classes tuned` : 'none tuned (gradlens tune measures them)'} in ${t.cache}${t.note ? `; ${t.note}` : ''}`,
      );
  }
  if (result.selfTest) lines.push(`self-test    ${result.selfTest}`);
  if (result.error) lines.push(`error        [${result.error.code}] ${result.error.message}`);
  lines.push(`verdict      ${result.verdict}`);
  return lines.join('\n');
}
