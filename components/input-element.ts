import { LitElement, type PropertyDeclarations } from 'lit';
import type { ModelSource } from '../src/index.ts';
import type { PreprocessOptions } from '../src/io/preprocess.ts';
import type { ImageInput } from './image-input.ts';

/** The model and the input of the widgets that explain an image (<gradlens-explainer>, <gradlens-compare>), declared once. */
export class InputElement extends LitElement {
  static override properties: PropertyDeclarations = {
    model: {},
    src: {},
    image: { attribute: false },
    tensor: { attribute: false },
    preprocess: { attribute: false },
  };

  /** The ONNX model: a URL (attribute) or bytes, an ArrayBuffer or a graph (property). */
  declare model: ModelSource | undefined;
  /** The image's URL. */
  declare src: string | undefined;
  /** The image as an ImageBitmap, <img>, canvas or OffscreenCanvas (property; wins over `src`). */
  declare image: ImageInput | undefined;
  /** The input as a tensor of the model's input shape (property; wins over images). */
  declare tensor: Float32Array | undefined;
  /** How the image becomes the input beyond size and channels (scale, mean, std, order); default values / 255. */
  declare preprocess: Partial<PreprocessOptions>;

  constructor() {
    super();
    this.preprocess = {};
  }
}
