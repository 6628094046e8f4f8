// Keys in table text: dmsetup shows a table with its keys zeroed unless asked; results and errors
// of this library always do.
/** dmsetup's key hiding for `table` without --showkeys: the crypt key (unless a keyring
 *  reference) and integrity's internal_hash/journal_crypt/journal_mac keys become zeros. */
export function hideKeys(type: string, params: string): string {
  if (type === 'crypt') {
    const first = params.indexOf(' ');
    if (first < 0) return params;
    const start = first + 1;
    if (params[start] === ':') return params;
    let end = params.indexOf(' ', start);
    if (end < 0) end = params.length;
    return params.slice(0, start) + '0'.repeat(end - start) + params.slice(end);
  }
  if (type === 'integrity') {
    let out = params;
    for (const name of ['internal_hash:', 'journal_crypt:', 'journal_mac:']) out = hideAfter(out, name);
    return out;
  }
  return params;
}

/** libdm's hide_key: after `name`, an optional `alg:key`; the key (up to a space) becomes zeros. */
function hideAfter(params: string, name: string): string {
  const at = params.indexOf(name);
  if (at < 0) return params;
  let i = at + name.length;
  while (i < params.length && params[i] !== ' ' && params[i] !== ':') i++;
  if (params[i] !== ':') return params;
  i++;
  let end = i;
  while (end < params.length && params[end] !== ' ') end++;
  return params.slice(0, i) + '0'.repeat(end - i) + params.slice(end);
}

/** A table's text with every key zeroed (see hideKeys). */
export function hideTableKeys<T extends { type: string; params: string }>(targets: readonly T[]): T[] {
  return targets.map((t) => ({ ...t, params: hideKeys(t.type, t.params) }));
}
