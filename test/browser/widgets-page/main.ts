// The widgets for the browser tests; the tests build elements on this page through `window.widgetTest`.
import { lens } from '../../../components/index.ts';

interface Recorded {
  events: string[];
  error?: { code: string; message: string };
  attribution?: number[];
  target?: number;
  /** The explanation's options: what the method used after defaults. */
  used?: Record<string, unknown>;
  results: number;
  curves?: { label: string; fractions: number[]; scores: number[]; auc: number }[];
}

declare global {
  interface Window {
    gradlensReady?: boolean;
    gradlensAdapterRequests?: number;
    widgetTest: typeof widgetTest;
  }
}

// Counts WebGPU adapter requests, so a test can see that nothing opens a device before the first run.
const gpu = navigator.gpu;
window.gradlensAdapterRequests = 0;
if (gpu) {
  const request = gpu.requestAdapter.bind(gpu);
  gpu.requestAdapter = (options) => {
    window.gradlensAdapterRequests!++;
    return request(options);
  };
}

const EVENTS = ['gradlens-load', 'gradlens-progress', 'gradlens-result', 'gradlens-error', 'gradlens-curve'] as const;
const recorded = new Map<Element, Recorded>();

const widgetTest = {
  /** Puts a fresh widget on the page (replacing the last one) with attributes, then properties, and records its events. */
  mount(tag: string, attributes: Record<string, string>, properties: Record<string, unknown> = {}): void {
    const stage = document.querySelector('#stage')!;
    stage.replaceChildren();
    const element = document.createElement(tag);
    const record: Recorded = { events: [], results: 0 };
    recorded.set(element, record);
    for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
    Object.assign(element, properties);
    stage.append(element);
  },
  widget(): HTMLElement {
    return document.querySelector('#stage')!.firstElementChild as HTMLElement;
  },
  record(): Recorded {
    return recorded.get(widgetTest.widget())!;
  },
  /** Resolves once the widget has had `count` results or an error (or after `ms`). */
  async until(kind: 'result' | 'error', count = 1, ms = 60_000): Promise<Recorded> {
    const started = performance.now();
    const record = widgetTest.record();
    while (performance.now() - started < ms) {
      if (kind === 'result' && record.results >= count) break;
      if (record.error) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return record;
  },
  /** The first <canvas> under the widget (through shadow roots) as pixel statistics. */
  async canvasStats(): Promise<{
    width: number;
    height: number;
    distinctColours: number;
    lumaStdev: number;
    greenOverRed: number;
    label: string | null;
  }> {
    const widget = widgetTest.widget();
    const heatmap = (widget.localName === 'gradlens-heatmap' ? widget : find(widget, 'gradlens-heatmap')) as
      (HTMLElement & { rendered: Promise<void>; updateComplete: Promise<boolean> }) | null;
    if (heatmap) {
      await heatmap.updateComplete;
      await heatmap.rendered;
      await heatmap.updateComplete;
    }
    const canvas = find(widgetTest.widget(), 'canvas') as HTMLCanvasElement;
    const { data } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
    const colours = new Set<number>();
    let [sum, sumSq, greenOverRed] = [0, 0, 0];
    const pixels = data.length / 4;
    for (let i = 0; i < data.length; i += 4) {
      colours.add((data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!);
      const luma = 0.299 * data[i]! + 0.587 * data[i + 1]! + 0.114 * data[i + 2]!;
      [sum, sumSq] = [sum + luma, sumSq + luma * luma];
      if (data[i + 1]! > data[i]! + 20) greenOverRed++;
    }
    const mean = sum / pixels;
    return {
      width: canvas.width,
      height: canvas.height,
      distinctColours: colours.size,
      lumaStdev: Math.sqrt(sumSq / pixels - mean * mean),
      greenOverRed: greenOverRed / pixels,
      label: canvas.getAttribute('aria-label'),
    };
  },
  /** Text of the widget's shadow root, for the states people see. */
  text(): string {
    return deepText(widgetTest.widget());
  },
  /** Destroys the page's shared WebGPU device, as a driver reset or a lost GPU process would. */
  async loseDevice(): Promise<void> {
    const context = await (await lens()).runtime.context();
    context.device.destroy();
    await context.device.lost;
  },
  /** Softmax probabilities of one input by a plain forward pass on the shared device. */
  async probabilities(url: string, input: number[]): Promise<number[]> {
    const model = await (await lens()).load(url);
    const logits = Array.from(await model.predict(Float32Array.from(input), 1));
    const max = Math.max(...logits);
    const exps = logits.map((v) => Math.exp(v - max));
    const sum = exps.reduce((a, b) => a + b, 0);
    return exps.map((e) => e / sum);
  },
  /** Clicks the first element matching `selector` in the widget's shadow tree. */
  click(selector: string): boolean {
    const target = find(widgetTest.widget(), selector) as HTMLElement | null;
    target?.click();
    return Boolean(target);
  },
};

// Listened for on the document: the events must bubble and cross the shadow boundary.
for (const type of EVENTS) {
  document.addEventListener(type, (event) => {
    const record = recorded.get(event.target as Element);
    if (!record) return;
    record.events.push(type);
    const detail = (event as CustomEvent).detail;
    if (type === 'gradlens-error') record.error = { code: detail.code, message: detail.message };
    if (type === 'gradlens-result') {
      record.results++;
      record.attribution = Array.from(detail.explanation.attribution as Float32Array);
      record.target = detail.explanation.target[0];
      record.used = JSON.parse(JSON.stringify(detail.explanation.options ?? {}));
    }
    if (type === 'gradlens-curve') {
      record.results++;
      record.curves = detail.series.map((c: { label: string; fractions: ArrayLike<number>; scores: ArrayLike<number>; auc: number }) => ({
        label: c.label,
        fractions: Array.from(c.fractions),
        scores: Array.from(c.scores),
        auc: c.auc,
      }));
    }
  });
}

function find(root: Element, selector: string): Element | null {
  const shadow = root.shadowRoot;
  const scope: ParentNode = shadow ?? root;
  const direct = scope.querySelector(selector);
  if (direct) return direct;
  for (const child of scope.querySelectorAll('*')) {
    const found = child.shadowRoot ? find(child, selector) : null;
    if (found) return found;
  }
  return null;
}

function deepText(root: Element): string {
  const scope: ParentNode = root.shadowRoot ?? root;
  let text = '';
  for (const node of scope.querySelectorAll('*')) {
    if (node.shadowRoot) text += ' ' + deepText(node);
  }
  return ((scope as Element | ShadowRoot).textContent ?? '') + text;
}

window.widgetTest = widgetTest;
window.gradlensReady = true;
