export function when(ts) {
  if (!ts) return '';
  const d = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(ts) ? ts : ts + 'Z');
  if (Number.isNaN(d.getTime())) return String(ts);
  return d.toLocaleString();
}

export function bytes(n) {
  if (typeof n !== 'number') return '';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

export function number(n) {
  return typeof n === 'number' ? n.toLocaleString() : '0';
}
