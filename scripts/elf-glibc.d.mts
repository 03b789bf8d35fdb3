/** The glibc the published linux-gnu binaries are linked against. */
export const GLIBC_FLOOR: string;
/** Each symbol version a 64-bit little-endian ELF file needs, with the library it comes from. */
export function versionsNeeded(path: string): { library: string; version: string }[];
/** The highest `GLIBC_x.y[.z]` it needs, as `'x.y[.z]'`, or null. */
export function highestGlibc(path: string): string | null;
/** Numeric comparison of dotted versions. */
export function compareVersions(a: string, b: string): number;
