"""Open bench/zarr.ts's Zarr v3 stores with zarr-python and xarray and compare with the cell file.

    python3 bench/zarr_check.py STORE.zarr CELLS.bin

(`node dist/bench/zarr.js ... --keep` prints the two paths.) Needs zarr>=3 and xarray, e.g. in
a virtual environment outside the repository: python3 -m venv /tmp/venv-zarr &&
/tmp/venv-zarr/bin/pip install zarr xarray. Exits non-zero when a store cannot be opened or
its values differ from the cell file's (the cell file is a JSON header, then the float32
values cells x hours, so its values are the file's last cells * hours * 4 bytes).
"""
import os
import sys

import numpy as np
import xarray as xr
import zarr

store, cells_path = sys.argv[1], sys.argv[2]
group = zarr.open_group(store, mode="r")
names = sorted(name for name, _ in group.arrays())
print(f"zarr {zarr.__version__}, xarray {xr.__version__}: {store} holds {names}")
shape = group[names[0]].shape
cells, hours = shape
offset = os.path.getsize(cells_path) - cells * hours * 4
reference = np.memmap(cells_path, dtype="<f4", mode="r", offset=offset, shape=(cells, hours))
rng = np.random.default_rng(1)
rows = np.sort(rng.choice(cells, size=200, replace=False))
failed = False
for name in names:
    a = group[name]
    meta = a.metadata
    codecs = [type(c).__name__ for c in meta.codecs]
    got = a.get_orthogonal_selection((rows, slice(None)))
    same = np.array_equal(got, reference[rows], equal_nan=True)
    print(f"  zarr-python: {name}: shape {a.shape}, chunks {a.chunks}, shards {a.shards}, codecs {codecs}, dims {meta.dimension_names}: values {'identical' if same else 'DIFFER'}")
    failed |= not same
ds = xr.open_zarr(store, consolidated=False)
print(f"  xarray.open_zarr: {dict(ds.sizes)}, variables {sorted(ds.data_vars)}")
for name in names:
    got = ds[name].isel(cell=rows[:20]).values
    same = np.array_equal(got, reference[rows[:20]], equal_nan=True)
    print(f"  xarray: {name}[cell={rows[0]}..] {ds[name].dims} {ds[name].dtype}: values {'identical' if same else 'DIFFER'}")
    failed |= not same
sys.exit(1 if failed else 0)
