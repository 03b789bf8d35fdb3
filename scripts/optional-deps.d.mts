/** The optionalDependencies the published package carries: one platform package per target. */
export function optionalDependencies(root?: string): Record<string, string>;
/** Writes them into the package.json at `file` (the staged copy that gets packed). */
export function writeOptionalDependencies(file: string, root?: string): void;
