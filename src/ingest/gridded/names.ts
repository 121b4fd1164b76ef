/**
 * ERA5 variable names: the short names windcast uses (u10, v10, u100, v100, si10, ...) and
 * every other way a file may spell them: GRIB short names (10u), ARCO-ERA5 long names
 * (10m_u_component_of_wind), cfgrib's GRIB_* attributes, the parameter id, the long name.
 * Which of them are wind, and at what height, is said here and nowhere else.
 */
import { attrNumber, attrString, type StoredVariable } from './store.js';

export type WindComponent = 'u' | 'v' | 'speed';

export interface WindRole {
  component: WindComponent;
  /** Metres above ground. */
  height: number;
}

interface KnownVariable {
  short: string;
  wind?: WindRole;
  aliases: string[];
  /** ECMWF parameter ids (GRIB_paramId). */
  paramIds: number[];
  longName: string;
}

const KNOWN: KnownVariable[] = [
  { short: 'u10', wind: { component: 'u', height: 10 }, aliases: ['10u', '10m_u_component_of_wind'], paramIds: [165], longName: '10 metre U wind component' },
  { short: 'v10', wind: { component: 'v', height: 10 }, aliases: ['10v', '10m_v_component_of_wind'], paramIds: [166], longName: '10 metre V wind component' },
  { short: 'u100', wind: { component: 'u', height: 100 }, aliases: ['100u', '100m_u_component_of_wind'], paramIds: [228246], longName: '100 metre U wind component' },
  { short: 'v100', wind: { component: 'v', height: 100 }, aliases: ['100v', '100m_v_component_of_wind'], paramIds: [228247], longName: '100 metre V wind component' },
  { short: 'si10', wind: { component: 'speed', height: 10 }, aliases: ['10si', '10m_wind_speed', 'wind_speed_10m'], paramIds: [207], longName: '10 metre wind speed' },
  { short: 'si100', wind: { component: 'speed', height: 100 }, aliases: ['100si', '100m_wind_speed', 'wind_speed_100m'], paramIds: [228249], longName: '100 metre wind speed' },
  { short: 'fg10', aliases: ['10fg', '10m_wind_gust_since_previous_post_processing'], paramIds: [49], longName: '10 metre wind gust since previous post-processing' },
  { short: 'i10fg', aliases: ['instantaneous_10m_wind_gust'], paramIds: [228029], longName: 'Instantaneous 10 metre wind gust' },
  { short: 't2m', aliases: ['2t', '2m_temperature'], paramIds: [167], longName: '2 metre temperature' },
  { short: 'd2m', aliases: ['2d', '2m_dewpoint_temperature'], paramIds: [168], longName: '2 metre dewpoint temperature' },
  { short: 'sp', aliases: ['surface_pressure'], paramIds: [134], longName: 'Surface pressure' },
  { short: 'msl', aliases: ['mean_sea_level_pressure'], paramIds: [151], longName: 'Mean sea level pressure' },
  { short: 'fsr', aliases: ['forecast_surface_roughness'], paramIds: [244], longName: 'Forecast surface roughness' },
  { short: 'blh', aliases: ['boundary_layer_height'], paramIds: [159], longName: 'Boundary layer height' },
];

const BY_NAME = new Map<string, KnownVariable>();
const BY_PARAM = new Map<number, KnownVariable>();
const BY_LONG_NAME = new Map<string, KnownVariable>();
for (const k of KNOWN) {
  for (const n of [k.short, ...k.aliases]) BY_NAME.set(n.toLowerCase(), k);
  for (const p of k.paramIds) BY_PARAM.set(p, k);
  BY_LONG_NAME.set(k.longName.toLowerCase(), k);
}

// ws (ECMWF "wind speed", paramId 10) has no height of its own: a scalar height coordinate says it.
const WIND_SPEED_ANY_HEIGHT = new Set(['ws', 'wind_speed']);

export interface Identified {
  /** The windcast name: the ERA5 short name when we know the variable, else the file's name. */
  name: string;
  wind?: WindRole;
}

/** Which ERA5 variable a stored variable is. `height` is a scalar height coordinate, if any. */
export function identify(v: StoredVariable, height: number | null): Identified {
  const known = (k: KnownVariable): Identified => ({ name: k.short, ...(k.wind ? { wind: k.wind } : {}) });
  const byName = BY_NAME.get(v.name.toLowerCase());
  if (byName) return known(byName);
  for (const key of ['GRIB_cfVarName', 'GRIB_shortName']) {
    const text = attrString(v.attrs, key);
    const k = text ? BY_NAME.get(text.toLowerCase()) : undefined;
    if (k) return known(k);
  }
  const param = attrNumber(v.attrs, 'GRIB_paramId');
  const byParam = param === null ? undefined : BY_PARAM.get(param);
  if (byParam) return known(byParam);
  const longName = attrString(v.attrs, 'long_name');
  const byLong = longName ? BY_LONG_NAME.get(longName.trim().toLowerCase()) : undefined;
  if (byLong) return known(byLong);
  if (WIND_SPEED_ANY_HEIGHT.has(v.name.toLowerCase()) && height !== null) return { name: `ws${height}`, wind: { component: 'speed', height } };
  return { name: v.name };
}

/** What a user can ask for, for messages: "u10, v10, u100, v100, si10, si100". */
export function knownWindNames(): string[] {
  return KNOWN.filter((k) => k.wind).map((k) => k.short);
}

/**
 * Which ERA5 variable a bare name is (a GeoTIFF band's description, NETCDF_VARNAME or
 * GRIB_ELEMENT item): a short name, alias or long name; null when it is none of them.
 */
export function identifyName(text: string): Identified | null {
  const key = text.trim().toLowerCase();
  const k = BY_NAME.get(key) ?? BY_LONG_NAME.get(key);
  return k ? { name: k.short, ...(k.wind ? { wind: k.wind } : {}) } : null;
}

/**
 * The height windcast forecasts when the input does not say (ingest.targetHeight 'auto'):
 * 100 m when there is wind at 100 m (hub height), else 10 m, else the highest there is.
 */
export function defaultTargetHeight(heights: readonly number[]): number {
  return heights.includes(100) ? 100 : heights.includes(10) ? 10 : Math.max(...heights);
}

/**
 * The height whose u/v are inputs beside the target's (features.ts): of the heights with a
 * u/v pair other than the target, the nearest to it; null when there is none.
 */
export function otherPairHeight(pairHeights: readonly number[], target: number): number | null {
  const others = pairHeights.filter((h) => h !== target).sort((a, b) => Math.abs(a - target) - Math.abs(b - target) || a - b);
  return others[0] ?? null;
}
