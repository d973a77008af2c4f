import { css } from 'lit';

/** The dark palette, used by the system preference and by theme="dark" alike (one CSS selector cannot say both). */
const darkPalette = css`
  --_fg: var(--gradlens-fg, #e6edf3);
  --_bg: var(--gradlens-bg, #0d1117);
  --_muted: var(--gradlens-muted, #9aa5b1);
  --_border: var(--gradlens-border, #30363d);
  --_accent: var(--gradlens-accent, #7ad151);
  --_error: var(--gradlens-error, #ff8a80);
  --_positive: var(--gradlens-positive, #f4a582);
  --_negative: var(--gradlens-negative, #92c5de);
`;

/** A widget's `theme`: 'light' or 'dark' forces that palette (default: the system's); widgets pass it to those inside. */
export type Theme = 'light' | 'dark' | undefined;

/** Theme defaults every widget shares; pages override the --gradlens-* properties. */
export const themeStyles = css`
  :host {
    --_fg: var(--gradlens-fg, #1b1f24);
    --_bg: var(--gradlens-bg, #ffffff);
    --_muted: var(--gradlens-muted, #5b636d);
    --_border: var(--gradlens-border, #d0d7de);
    --_accent: var(--gradlens-accent, #3b528b);
    --_error: var(--gradlens-error, #b3261e);
    --_positive: var(--gradlens-positive, #b2182b);
    --_negative: var(--gradlens-negative, #2166ac);
    --_radius: var(--gradlens-radius, 6px);
    display: block;
    font: var(--gradlens-font, 14px/1.4 system-ui, sans-serif);
    color: var(--_fg);
    background: var(--_bg);
    color-scheme: light dark;
  }
  @media (prefers-color-scheme: dark) {
    :host(:not([theme='light'])) {
      ${darkPalette}
    }
  }
  :host([theme='dark']) {
    ${darkPalette}
  }
  :host([hidden]) {
    display: none;
  }
  button,
  select,
  input {
    font: inherit;
    color: inherit;
    background: var(--_bg);
    border: 1px solid var(--_border);
    border-radius: var(--_radius);
    padding: 2px 6px;
  }
  button:focus-visible,
  select:focus-visible,
  input:focus-visible {
    outline: 2px solid var(--_accent);
    outline-offset: 1px;
  }
  .error {
    color: var(--_error);
  }
  .muted {
    color: var(--_muted);
  }
  .visually-hidden {
    position: absolute;
    width: 1px;
    height: 1px;
    overflow: hidden;
    clip-path: inset(50%);
    white-space: nowrap;
  }
`;

/** A drawing widget's figure: a column of the drawing and its legend; each widget sets the width. */
export const figureStyles = css`
  figure {
    margin: 0;
    display: inline-flex;
    flex-direction: column;
    gap: 4px;
    max-width: 100%;
  }
`;
