/**
 * Makes a prism-react-renderer theme meet WCAG AA contrast (4.5:1) for every token colour against the
 * theme's background: failing colours are mixed towards black (light themes) or white (dark themes)
 * until they pass. The stock github/dracula themes have tokens at 2.6:1 and 3:1, which axe-core flags
 * as serious; this keeps their look while making code readable.
 */
import type { PrismTheme } from 'prism-react-renderer';

type Rgb = [number, number, number];

function parse(color: string): Rgb | undefined {
  const hex = /^#([0-9a-f]{3,8})$/i.exec(color.trim())?.[1];
  if (hex) {
    const full = hex.length <= 4 ? [...hex.slice(0, 3)].map((c) => c + c).join('') : hex.slice(0, 6);
    return [0, 2, 4].map((i) => Number.parseInt(full.slice(i, i + 2), 16)) as Rgb;
  }
  const rgb = /^rgba?\(\s*(\d+)[,\s]+(\d+)[,\s]+(\d+)/i.exec(color.trim());
  return rgb ? [Number(rgb[1]), Number(rgb[2]), Number(rgb[3])] : undefined;
}

function luminance([r, g, b]: Rgb): number {
  const lin = (c: number) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

export function contrast(a: Rgb, b: Rgb): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (hi + 0.05) / (lo + 0.05);
}

const toHex = (rgb: Rgb) => `#${rgb.map((c) => Math.round(c).toString(16).padStart(2, '0')).join('')}`;

function fix(color: string, background: Rgb, target: number): string {
  const rgb = parse(color);
  if (!rgb || contrast(rgb, background) >= target) return color;
  const towards = luminance(background) > 0.5 ? 0 : 255;
  let mixed = rgb;
  for (let step = 1; step <= 20 && contrast(mixed, background) < target; step++) {
    mixed = rgb.map((c) => c + (towards - c) * (step / 20)) as Rgb;
  }
  return toHex(mixed);
}

export function accessiblePrismTheme(theme: PrismTheme, target = 4.6): PrismTheme {
  const background = parse(theme.plain.backgroundColor ?? '') ?? [255, 255, 255];
  return {
    plain: { ...theme.plain, color: theme.plain.color && fix(theme.plain.color, background, target) },
    styles: theme.styles.map((s) => ({
      ...s,
      style: { ...s.style, ...(s.style.color ? { color: fix(s.style.color, background, target) } : {}) },
    })),
  };
}
