/**
 * Which precompressed variants (`file.br`, `file.gz`) a client accepts, from `Accept-Encoding`,
 * in the order of its `q` values, brotli first (smaller) where they tie; an encoding with `q=0` is
 * refused, `*` stands for the encodings not named.
 */

export interface Encoding {
  /** The `Content-Encoding` value. */
  name: 'br' | 'gzip';
  /** The file name suffix of the variant. */
  suffix: '.br' | '.gz';
}

const ENCODINGS: readonly Encoding[] = [
  { name: 'br', suffix: '.br' },
  { name: 'gzip', suffix: '.gz' },
];

/** The variants worth looking for, in the order to try them. */
export function acceptedEncodings(header: string | string[] | undefined): Encoding[] {
  if (header === undefined) return [];
  const qualities = new Map<string, number>();
  for (const item of (Array.isArray(header) ? header.join(',') : header).split(',')) {
    const [token, ...params] = item.split(';');
    const name = token.trim().toLowerCase();
    if (name === '') continue;
    let q = 1;
    for (const param of params) {
      const [key, value] = param.split('=');
      if (key?.trim().toLowerCase() === 'q') q = Number(value);
    }
    qualities.set(name === 'x-gzip' ? 'gzip' : name, Number.isNaN(q) ? 0 : q);
  }
  const wildcard = qualities.get('*');
  const quality = (encoding: Encoding): number => qualities.get(encoding.name) ?? wildcard ?? 0;
  // The client's preference first; at equal quality, brotli (smaller). The sort is stable.
  return ENCODINGS.filter((encoding) => quality(encoding) > 0).sort((a, b) => quality(b) - quality(a));
}
