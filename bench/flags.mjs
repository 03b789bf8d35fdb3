// The benchmarks' command line: `--name=value` (a value may itself contain `=`), a bare `--name`
// meaning 'true', and sizes written `4K`, `64M`, `1G` or `1.5G` (powers of 1024).

/** `process.argv`'s flags as an object of strings. */
export function parseFlags(argv = process.argv.slice(2)) {
  return Object.fromEntries(
    argv.map((arg) => {
      const [key, ...value] = arg.replace(/^--/, '').split('=');
      return [key, value.length ? value.join('=') : 'true'];
    }),
  );
}

const UNITS = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30 };

/** Bytes in a size such as `4K`, `64M`, `1G` or `1.5G`; throws on anything else. */
export function parseSize(text) {
  const match = /^(\d+(?:\.\d+)?)\s*([KMG]?)$/i.exec(String(text).trim());
  if (!match) throw new Error(`bad size ${text}: expected a number with an optional K, M or G`);
  return Math.round(Number(match[1]) * UNITS[match[2].toUpperCase()]);
}
