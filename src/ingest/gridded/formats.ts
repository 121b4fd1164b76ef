/**
 * Opening a store by what it is: NetCDF3 (netcdfjs header, our positional reads), NetCDF4/HDF5
 * (h5wasm) or Zarr v2/v3 (zarrita). Readers are imported on first use, so commands that never
 * see a NetCDF file do not pay for h5wasm's WebAssembly start-up.
 */
import { existsSync, statSync } from 'node:fs';
import { DataError } from '../../core/errors.js';
import { detectFormat, type ArrayStore } from './store.js';

/** Open a NetCDF file or Zarr store by what it is; a DataError naming it otherwise. */
export async function openStore(path: string): Promise<ArrayStore> {
  const format = detectFormat(path);
  switch (format) {
    case 'netcdf3': {
      const { openNetcdf3 } = await import('./netcdf3.js');
      return openNetcdf3(path);
    }
    case 'netcdf4': {
      const { openHdf5 } = await import('./hdf5.js');
      return openHdf5(path);
    }
    case 'zarr-v2':
    case 'zarr-v3': {
      const { openZarr } = await import('./zarr.js');
      return openZarr(path, format);
    }
    case 'netcdf3-cdf5':
      throw new DataError(path, 'NetCDF CDF-5 (64-bit data) is not supported: convert it with "nccopy -k nc4 IN OUT" (netcdf-bin)');
    case 'zip':
      throw new DataError(path, 'is a ZIP archive (the CDS zips several NetCDF files together): unzip it and give the .nc files, e.g. "dir/*.nc"');
    case 'grib':
      throw new DataError(path, 'is a GRIB file: download NetCDF from the CDS, or convert it (e.g. "grib_to_netcdf -o out.nc in.grib" from eccodes, or cfgrib)');
    case null:
      if (!existsSync(path)) throw new DataError(path, 'no such file or folder');
      if (statSync(path).isDirectory()) throw new DataError(path, 'not a Zarr store (no zarr.json, .zgroup or .zarray in the folder)');
      throw new DataError(path, 'not a NetCDF or HDF5 file (its first bytes are neither "CDF" nor the HDF5 signature)');
  }
}
