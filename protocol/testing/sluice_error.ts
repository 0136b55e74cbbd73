// The one way protocol tests catch a refusal: the SluiceError a decoder or
// writer throws, so the test can assert its code and message.

import { SluiceError } from "../errors.ts";

/** Runs `fn` and returns the SluiceError it throws; anything else (or nothing) fails the test. */
export function sluiceError(fn: () => unknown): SluiceError {
  try {
    fn();
  } catch (e) {
    if (e instanceof SluiceError) return e;
    throw e;
  }
  throw new Error("expected a SluiceError");
}
