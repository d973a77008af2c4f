// The single-file module for a plain <script type="module"> (CDN style): the library and the widgets, Lit included.
export * from '../src/index.ts';
export * from './index.ts';
