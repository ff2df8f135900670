/**
 * "Did you mean" for names (keys, options, chains): the nearest candidate by edit distance.
 * Kept apart from config-file.ts so NF processes can use it without loading the YAML parser.
 * Cold code.
 */

/**
 * The candidate closest to `word`, ignoring case, if it is within 2 edits and not further than
 * the candidate is long (no "did you mean "ip"?" for "x").
 */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance && d < Math.max(c.length, 2)) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

/**
 * Edits (insert, delete, substitute, or swap two neighbouring characters) that turn `a` into `b`:
 * the optimal-string-alignment distance, so "servcie" is one edit from "service".
 */
export function editDistance(a: string, b: string): number {
  // d[i][j] = distance between a[0..i) and b[0..j); rows kept as one flat array.
  const w = b.length + 1;
  const d = new Array<number>((a.length + 1) * w).fill(0);
  for (let i = 0; i <= a.length; i++) d[i * w] = i;
  for (let j = 0; j <= b.length; j++) d[j] = j;
  const at = (i: number, j: number): number => d[i * w + j] ?? 0;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, at(i - 2, j - 2) + 1);
      d[i * w + j] = v;
    }
  }
  return at(a.length, b.length);
}
