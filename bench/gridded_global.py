# A global hourly ERA5-like NetCDF4 (u100, v100 float32, 0.25 deg) for bench/gridded-ooc.ts.
# /work/venv/bin/python bench/gridded_global.py OUT.nc HOURS   (480 hours: 3.99 GB, about a minute)
import sys, numpy as np, netCDF4
hours = int(sys.argv[2]); path = sys.argv[1]
lats = np.arange(90, -90.001, -0.25); lons = np.arange(0, 360, 0.25)
ds = netCDF4.Dataset(path, 'w', format='NETCDF4')
ds.createDimension('valid_time', hours); ds.createDimension('latitude', lats.size); ds.createDimension('longitude', lons.size)
t = ds.createVariable('valid_time', 'i8', ('valid_time',)); t.units = 'seconds since 1970-01-01'; t.standard_name = 'time'; t.calendar = 'proleptic_gregorian'
t0 = 1672531200
t[:] = t0 + 3600 * np.arange(hours)
la = ds.createVariable('latitude', 'f8', ('latitude',)); la.units = 'degrees_north'; la[:] = lats
lo = ds.createVariable('longitude', 'f8', ('longitude',)); lo.units = 'degrees_east'; lo[:] = lons
u = ds.createVariable('u100', 'f4', ('valid_time', 'latitude', 'longitude'), chunksizes=(24, lats.size, lons.size)); u.units = 'm s**-1'
v = ds.createVariable('v100', 'f4', ('valid_time', 'latitude', 'longitude'), chunksizes=(24, lats.size, lons.size)); v.units = 'm s**-1'
latr = np.deg2rad(lats)[:, None]; lonr = np.deg2rad(lons)[None, :]
drift = 0.6 + 0.4 * np.cos(2 * latr)
rng = np.random.default_rng(1)
for h0 in range(0, hours, 24):
    n = min(24, hours - h0)
    ub = np.empty((n, lats.size, lons.size), np.float32); vb = np.empty_like(ub)
    for k in range(n):
        tt = h0 + k; x = lonr - drift * tt * 0.05
        ub[k] = 6 * np.cos(latr) + 4 * np.sin(3 * x + 1.0) * np.cos(2 * latr + 0.01 * tt) + 0.3 * rng.standard_normal((lats.size, lons.size))
        vb[k] = 3 * np.cos(2 * x + 2.0 + 2 * latr) + 1.5 * np.sin(0.2618 * (tt + np.rad2deg(lonr) / 15))
    u[h0:h0 + n] = ub; v[h0:h0 + n] = vb
    print(h0 + n, flush=True)
ds.close()
