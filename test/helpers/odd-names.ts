/**
 * A corpus of odd file and folder names (glob characters, braces, spaces, quotes, unicode, emoji, a
 * leading dash, %, #, =, ~, backslash), each with "decoys": names that DuckDB's glob of the odd name
 * would also match. Tests link the decoys to the real folder, so a path that DuckDB globbed would
 * read the same files twice (or a decoy instead of the real one).
 */
import { symlinkSync } from 'node:fs';
import * as nodePath from 'node:path';

/** Odd names, and names a glob of each would also match (made into links to it). */
export const ODD_NAMES: { name: string; decoys: string[] }[] = [
  { name: 'a*b', decoys: ['aXb', 'ab'] },
  { name: 'q?', decoys: ['qY'] },
  { name: 'b[12]', decoys: ['b1'] },
  { name: '[!x]', decoys: ['y'] },
  { name: 'c[*]', decoys: ['c*'] },
  { name: '**', decoys: ['zz'] },
  { name: '{x,y}', decoys: ['x'] },
  { name: 'sp ace', decoys: [] },
  { name: "qu'ote", decoys: [] },
  { name: 'dq"x', decoys: [] },
  { name: 'ünï cödé', decoys: [] },
  { name: '😈', decoys: [] },
  { name: '-dash', decoys: [] },
  { name: '%25', decoys: [] },
  { name: '#h', decoys: [] },
  { name: 'id=7', decoys: [] },
  { name: '~', decoys: [] },
  { name: 'back\\slash', decoys: [] },
];

/** Makes `dir/<decoy>` links to `dir/<name>` for every decoy of the corpus entry. */
export function linkDecoys(parent: string, entry: { name: string; decoys: string[] }): void {
  for (const d of entry.decoys) symlinkSync(nodePath.join(parent, entry.name), nodePath.join(parent, d));
}
