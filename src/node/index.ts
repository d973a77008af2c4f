// gradlens in Node (the package's `node` condition): the isomorphic library plus PNG/JPEG files as model inputs.
export * from '../index.ts';
export { decodeImage, encodePng, loadImage, type LoadedImage } from './image.ts';
