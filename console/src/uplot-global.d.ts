/**
 * uPlot is loaded as a classic script (/vendor/uplot.js, its IIFE build) and used through the
 * global it defines; the type import is erased, so the compiled modules import nothing of it.
 */
import type UPlot from 'uplot';

declare global {
  const uPlot: typeof UPlot;
}
