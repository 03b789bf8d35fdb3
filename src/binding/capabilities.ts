import { native } from './load';

export interface Capabilities {
  /** Whether the native binding loaded; without it every transfer goes through Node streams. */
  native: boolean;
  sendfile: boolean;
  splice: boolean;
  mmap: boolean;
}

/** What this platform and install can do. */
export function capabilities(): Capabilities {
  if (!native) return { native: false, sendfile: false, splice: false, mmap: false };
  return { native: true, ...native.nativeCapabilities() };
}
