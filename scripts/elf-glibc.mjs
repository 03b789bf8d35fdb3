#!/usr/bin/env node
// Which symbol versions a shared object needs from the libraries it links, read from its ELF
// version-needed section (SHT_GNU_verneed, `.gnu.version_r`: what `objdump -p` prints under
// "Version References"), with no binutils: the glibc check must run wherever the tests run,
// Alpine and FreeBSD VMs included.
//
//   node scripts/elf-glibc.mjs <file.node>   prints each library's versions and the highest GLIBC_
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The glibc the published linux-gnu binaries are linked against (scripts/build-release.mjs). */
export const GLIBC_FLOOR = '2.17';

const SHT_GNU_VERNEED = 0x6ffffffe;
const SECTION_HEADER_BYTES = 64;

/**
 * `[{ library: 'libc.so.6', version: 'GLIBC_2.17' }, ...]` for a 64-bit little-endian ELF file
 * (x86-64, arm64: every Linux target we ship). Empty when it needs no versioned symbol.
 */
export function versionsNeeded(path) {
  const elf = readFileSync(path);
  checkHeader(elf, path);
  const sections = sectionHeaders(elf);
  const needed = [];
  for (const section of sections.filter((s) => s.type === SHT_GNU_VERNEED)) {
    const strings = sections[section.link];
    const name = (offset) => cString(elf, strings.offset + offset);
    // sh_info: how many Verneed entries; each lists its Vernaux entries.
    let entry = section.offset;
    for (let i = 0; i < section.info; i++) {
      const library = name(elf.readUInt32LE(entry + 4)); // vn_file
      let aux = entry + elf.readUInt32LE(entry + 8); // vn_aux
      for (let j = 0, count = elf.readUInt16LE(entry + 2); j < count; j++) {
        needed.push({ library, version: name(elf.readUInt32LE(aux + 8)) }); // vna_name
        aux += elf.readUInt32LE(aux + 12); // vna_next
      }
      entry += elf.readUInt32LE(entry + 12); // vn_next
    }
  }
  return needed;
}

/** The highest `GLIBC_x.y[.z]` the file needs, as `'x.y[.z]'`, or null if it needs none. */
export function highestGlibc(path) {
  const versions = versionsNeeded(path)
    .map(({ version }) => /^GLIBC_(\d+(?:\.\d+)+)$/.exec(version)?.[1])
    .filter(Boolean);
  return versions.sort(compareVersions).pop() ?? null;
}

/** Numeric comparison of dotted versions: '2.9' < '2.17'. */
export function compareVersions(a, b) {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

function checkHeader(elf, path) {
  if (elf.length < 64 || elf.readUInt32BE(0) !== 0x7f454c46) throw new Error(`${path} is not an ELF file`);
  // e_ident[EI_CLASS] 2 = 64-bit, e_ident[EI_DATA] 1 = little-endian.
  if (elf[4] !== 2 || elf[5] !== 1) {
    throw new Error(`${path}: only 64-bit little-endian ELF files are read here (class ${elf[4]}, data ${elf[5]})`);
  }
}

function sectionHeaders(elf) {
  const start = Number(elf.readBigUInt64LE(0x28)); // e_shoff
  const count = elf.readUInt16LE(0x3c); // e_shnum
  if (elf.readUInt16LE(0x3a) !== SECTION_HEADER_BYTES) throw new Error('unexpected ELF section header size');
  return Array.from({ length: count }, (_, i) => {
    const at = start + i * SECTION_HEADER_BYTES;
    return {
      type: elf.readUInt32LE(at + 4),
      offset: Number(elf.readBigUInt64LE(at + 24)),
      link: elf.readUInt32LE(at + 40),
      info: elf.readUInt32LE(at + 44),
    };
  });
}

function cString(buffer, at) {
  return buffer.toString('latin1', at, buffer.indexOf(0, at));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: node scripts/elf-glibc.mjs <file.node>');
    process.exit(2);
  }
  const byLibrary = new Map();
  for (const { library, version } of versionsNeeded(file)) {
    byLibrary.set(library, [...(byLibrary.get(library) ?? []), version]);
  }
  for (const [library, versions] of byLibrary) console.log(`${library}: ${versions.join(' ')}`);
  console.log(`highest GLIBC_: ${highestGlibc(file) ?? '(none)'}`);
}
