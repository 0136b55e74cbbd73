// htm bound to Preact's h: components are written as tagged templates
// (html`<div>${text}</div>`), with no JSX step. Interpolated values become
// text nodes or attributes, never markup, so a record value is always shown
// as text.

import htm from "htm";
import { h } from "preact";

export const html = htm.bind(h);
