"""XCS-CT correlation: a segmented CT volume seen through the XCS pinhole camera (000_290f30815ae66793).

The sheet beam of the XCS imaging of 000_290f30815ae66793 (Experimental procedures) is
0.25 mm high and 25 mm wide; it travels along +x through the cell whose layers are stacked
along z, and a pinhole 160 mm above the sheet images the x-y plane onto an 80 x 80 pixel
detector 150 mm behind the pinhole (0.25 mm pitch).  Each detector pixel therefore collects
the scattering of a column of the sheet, ``pitch x 160/150 = 0.267 mm`` on a side in the
object plane and as high as the sheet.  :func:`ct_to_detector` cuts a segmented CT volume to
that sheet at every beam height and integrates the volume of every phase over the columns of
every pixel, giving per-pixel phase fractions (masks and weights for region spectra) and the
per-position phase volumes that are the unmixing weights of
:func:`ssbscope.compton.regions.unmix` (the matrix ``V`` of ``r_i = sum_j V[i, j] s_j``).

Geometry convention (the same as :class:`ssbscope.twin.xcs.XcsGeometry`):

* CT volume ``labels[z, y, x]``, cubic voxels of edge ``voxel_size_um``; voxel ``k`` along z
  spans ``[k, k + 1] x voxel_size_um`` above the bottom of the volume (z up, the stacking axis);
  the sheet at height ``c`` spans ``c -+ beam_height/2`` and a voxel counts with the fraction of
  its height inside the sheet (a top-hat sheet profile).
* Object plane (the sheet): y and x parallel to the volume's y and x axes, origin on the
  pinhole axis, beam along +x, the sheet's 25 mm width along y centred on the axis.  The point
  of the volume at voxel-edge coordinates ``centre_yx_vox`` (default the centre of the volume,
  ``(n_y / 2, n_x / 2)``) lies on the axis.
* Object pixel ``(iy, ix)`` covers ``y in [(iy - n/2) a, (iy - n/2 + 1) a]`` (likewise x) with
  ``a = pitch / M`` and ``M = 150/160``; the pinhole inverts the image: it lands on detector
  ``(row, col) = (n - 1 - iy, n - 1 - ix)``.  Voxels are shared between pixels by their exact
  area overlap, so volumes are conserved.
* Fractions are of the phase volume inside the cell: ``outside_codes`` (default 0, void) are
  not a phase; where a pixel sees no cell, all fractions are 0.

Volumes are geometric (not weighted by the attenuation of the incident and scattered beams,
t1 and t2 of Eq. 1 of 000_...), as are the layered model's volumes they replace.

A CT of a few hundred µm is smaller than one object pixel; with ``tile_radius_mm`` the CT is
taken as a laterally representative patch of the cell, repeated periodically over a disc of
that radius about the axis (the interface roughness, dendrites and pores of the patch then set
the fractions of every pixel of the disc).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ssbscope.errors import EmptyResultError, InputError, ParameterError

__all__ = ["DetectorPhaseFractions", "InterfaceRegistration", "SheetComponentFractions", "SheetGeometry",
           "ct_component_fractions", "ct_to_detector", "declared_interface_height_um", "inscribed_patch",
           "register_on_interface"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DetectorPhaseFractions:
    """Phases of a segmented CT seen by each XCS detector pixel at each sheet position.

    Attributes
    ----------
    fractions : xarray.DataArray, dims (position, phase, row, col)
        Volume fraction of each phase among the cell volume a detector pixel sees in the
        sheet (sums to 1 over ``phase`` where ``seen``, 0 elsewhere).
    volume_mm3 : xarray.DataArray, dims (position, phase, row, col)
        Illuminated volume of each phase imaged by each pixel (mm^3).
    volume_fractions : xarray.DataArray, dims (position, phase)
        Fraction of each phase in the whole illuminated cell volume of each position.
    seen : xarray.DataArray of bool, dims (position, row, col)
        Pixels that see some cell volume.
    beam_centres_um : tuple of float
        Sheet centre heights above the bottom of the CT volume (µm).
    beam_height_um, voxel_size_um, object_pixel_um : float
    """

    fractions: object
    volume_mm3: object
    volume_fractions: object
    seen: object
    beam_centres_um: tuple
    beam_height_um: float
    voxel_size_um: float
    object_pixel_um: float

    def mask(self, phases: str | Sequence[str], position, min_fraction: float = 0.5):
        """Detector pixels whose seen volume is at least ``min_fraction`` of ``phases``.

        Parameters
        ----------
        phases : str or sequence of str
            Phase name(s), summed.
        position : str or int
            Position name or index.
        min_fraction : float
            Threshold in (0, 1].

        Returns
        -------
        (n, n) bool ndarray
            A region mask for :func:`ssbscope.compton.regions.region_spectrum`; the fractions
            themselves (``fractions.sel(...)``) serve as its ``weights``.
        """
        if not 0 < min_fraction <= 1:
            raise ParameterError("min_fraction", min_fraction, "must be in (0, 1]")
        names = [phases] if isinstance(phases, str) else list(phases)
        have = [str(p) for p in self.fractions["phase"].values]
        missing = [p for p in names if p not in have]
        if missing:
            raise InputError(f"phases: {missing} not among the mapped phases {have}")
        f = (self.fractions.isel(position=position) if isinstance(position, (int, np.integer))
             else self.fractions.sel(position=position))
        return f.sel(phase=names).sum(dim="phase").values >= min_fraction

    def volumes_mm3(self, mask=None):
        """Phase volumes (mm^3) per position, summed over the pixels of ``mask`` (default all).

        Parameters
        ----------
        mask : (n, n) bool ndarray, optional
            Detector pixels (row, col) of the region, e.g. the analysis mask of the spectra.

        Returns
        -------
        xarray.DataArray, dims (position, phase)
        """
        v = self.volume_mm3
        if mask is None:
            return v.sum(dim=("row", "col"))
        m = np.asarray(mask, bool)
        if m.shape != v.shape[2:]:
            raise InputError(f"mask: shape {m.shape}, expected the detector's {v.shape[2:]}")
        if not m.any():
            raise EmptyResultError("mask: selects no pixel; the region is empty")
        return (v * m).sum(dim=("row", "col"))

    def component_volumes_mm3(self, components: Mapping[str, Sequence[str]], mask=None):
        """Volumes (mm^3) per position of components made of phases (the unmixing matrix).

        Parameters
        ----------
        components : mapping
            Component name -> phase names, e.g. ``{"anode": ("li", "li_filament")}``.
        mask : (n, n) bool ndarray, optional
            Detector pixels summed (default all).

        Returns
        -------
        (n_positions, n_components) ndarray
        """
        v = self.volumes_mm3(mask)
        names = [str(p) for p in v["phase"].values]
        out = np.zeros((v.shape[0], len(components)))
        for j, (comp, phases) in enumerate(components.items()):
            missing = [p for p in phases if p not in names]
            if len(missing) == len(phases):
                raise InputError(f"components[{comp!r}]: none of the phases {list(phases)} is in "
                                 f"the labels' phases {names}")
            for p in phases:
                if p in names:
                    out[:, j] += v.values[:, names.index(p)]
        return out


def inscribed_patch(labels, cell_mask=None):
    """The largest centred square of a cylindrical CT volume that lies inside the cell.

    Parameters
    ----------
    labels : (z, y, x) ndarray
    cell_mask : (y, x) bool ndarray, optional
        Columns inside the cell (e.g. ``CTPhantom.cell_mask``); default: columns whose labels
        are not all 0 over z.

    Returns
    -------
    (z, m, m) ndarray
        A view of ``labels`` (not a copy); suitable for ``ct_to_detector(tile_radius_mm=...)``.
    """
    lab = np.asarray(labels)
    if lab.ndim != 3:
        raise InputError(f"labels: need a (z, y, x) volume, got shape {lab.shape}")
    cm = (lab != 0).any(axis=0) if cell_mask is None else np.asarray(cell_mask, bool)
    if cm.shape != lab.shape[1:]:
        raise InputError(f"cell_mask: shape {cm.shape}, expected {lab.shape[1:]}")
    ny, nx = cm.shape
    cy, cx = ny // 2, nx // 2
    for h in range(min(cy, cx), 0, -1):
        if cm[cy - h:cy + h, cx - h:cx + h].all():
            return lab[:, cy - h:cy + h, cx - h:cx + h]
    raise EmptyResultError("cell_mask: no centred square lies inside the cell")


def _overlap(p0, p1, v0, v1):
    """Overlap lengths of intervals [p0, p1] (rows) and [v0, v1] (columns)."""
    return np.clip(np.minimum(p1[:, None], v1[None, :]) - np.maximum(p0[:, None], v0[None, :]), 0.0, None)


def _axis_weights(n_vox, vox_um, centre_vox, pix_edges_um, lim_um, tile):
    """(n_pixels, n_vox) voxel-length fraction of each voxel inside each pixel's interval."""
    p0 = np.maximum(pix_edges_um[:-1], lim_um[0])
    p1 = np.minimum(pix_edges_um[1:], lim_um[1])
    p1 = np.maximum(p1, p0)
    v0 = (np.arange(n_vox) - centre_vox) * vox_um
    if not tile:
        return _overlap(p0, p1, v0, v0 + vox_um) / vox_um
    period = n_vox * vox_um
    k_lo = int(np.floor((p0.min() - v0.max() - vox_um) / period))
    k_hi = int(np.ceil((p1.max() - v0.min()) / period))
    w = np.zeros((p0.size, n_vox))
    for k in range(k_lo, k_hi + 1):
        w += _overlap(p0, p1, v0 + k * period, v0 + k * period + vox_um)
    return w / vox_um


def ct_to_detector(labels, voxel_size_um: float, beam_centres_um, *, geometry=None,
                   phase_names: Mapping[int, str] | None = None, outside_codes=(0,),
                   centre_yx_vox=None, tile_radius_mm: float | None = None,
                   position_names: Sequence[str] | None = None) -> DetectorPhaseFractions:
    """Map a segmented CT volume into the XCS detector's pixel grid at each sheet position.

    For sheet position ``i`` at height ``c_i`` and phase ``L`` the illuminated volume imaged by
    object pixel ``(iy, ix)`` is ``V = v^3 sum_{k,j,l} w_z[k] W_y[iy, j] W_x[ix, l] [lab[k,j,l]
    = L]`` with ``w_z`` the fraction of voxel k's height inside ``c_i -+ h/2``, ``W_y``, ``W_x``
    the length fractions of the voxels inside the pixel's object-plane interval (``W_y`` also
    cut to the sheet's width), ``v`` the voxel size; the pixel is detector
    ``(n - 1 - iy, n - 1 - ix)``.  See the module docstring for the convention.

    Parameters
    ----------
    labels : (z, y, x) integer ndarray
        Segmented CT (phase codes).
    voxel_size_um : float
        Cubic voxel edge (µm).
    beam_centres_um : sequence of float
        Sheet centre heights above the bottom of the volume (µm), one per position.
    geometry : SheetGeometry, optional
        Sheet height and width, pixel count and object-plane pixel size (any object with
        these four attributes, e.g. ``ssbscope.twin.xcs.XcsGeometry``; default
        :data:`PAPER_SHEET`: the camera of Huang et al. 2024, a 0.25 x 25 mm^2 sheet, 80 x 80
        pixels of 0.25 mm at 150 mm behind a pinhole 160 mm from the sample).
    phase_names : mapping int -> str, optional
        Names of the label codes (default: ``"phase <code>"``).
    outside_codes : sequence of int
        Codes that are not cell (void); excluded from fractions and volumes.
    centre_yx_vox : (float, float), optional
        Voxel-edge coordinates of the volume point on the pinhole axis (default the centre).
    tile_radius_mm : float, optional
        Repeat the volume periodically in y and x and keep the pixels whose object-plane
        centre lies within this radius of the axis (a representative patch of the cell).
    position_names : sequence of str, optional
        Names of the positions (default ``"position 1"``, ...).

    Returns
    -------
    DetectorPhaseFractions

    Raises
    ------
    InputError
        ``labels`` not a 3-D integer volume; ``position_names`` of the wrong length.
    ParameterError
        Non-positive voxel size or radius.
    EmptyResultError
        A sheet misses the volume, or sees no cell voxel.
    """
    import xarray as xr

    if geometry is None:
        geometry = PAPER_SHEET
    lab = np.asarray(labels)
    if lab.ndim != 3 or lab.dtype.kind not in "iu":
        raise InputError(f"labels: need a (z, y, x) integer volume, got {lab.dtype} {lab.shape}")
    if lab.size == 0:
        raise InputError("labels: empty volume")
    if not np.isfinite(voxel_size_um) or not voxel_size_um > 0:
        raise ParameterError("voxel_size_um", voxel_size_um, "must be a finite number > 0")
    if tile_radius_mm is not None and not tile_radius_mm > 0:
        raise ParameterError("tile_radius_mm", tile_radius_mm, "must be > 0 (or None)")
    centres = np.atleast_1d(np.asarray(beam_centres_um, dtype=float))
    if centres.ndim != 1 or centres.size == 0 or not np.all(np.isfinite(centres)):
        raise InputError("beam_centres_um: need one or more finite heights (µm)")
    names = ([f"position {i + 1}" for i in range(centres.size)] if position_names is None
             else [str(p) for p in position_names])
    if len(names) != centres.size:
        raise InputError(f"position_names: {len(names)} names for {centres.size} beam centres")
    if phase_names is None:
        phase_names = {}
    nz, ny, nx = lab.shape
    vs = float(voxel_size_um)
    h_um = geometry.beam_height_mm * 1000.0
    w_um = geometry.beam_width_mm * 1000.0
    n = int(geometry.n_pixels)
    a_um = geometry.object_pixel_mm * 1000.0
    codes = [int(c) for c in np.unique(lab) if int(c) not in {int(o) for o in outside_codes}]
    if not codes:
        raise EmptyResultError("labels: every voxel is outside the cell (outside_codes "
                               f"{list(outside_codes)}); nothing to map")
    phase = [str(phase_names.get(c, f"phase {c}")) for c in codes]
    cy, cx = (ny / 2.0, nx / 2.0) if centre_yx_vox is None else (float(centre_yx_vox[0]),
                                                                  float(centre_yx_vox[1]))
    edges = (np.arange(n + 1) - n / 2.0) * a_um
    tile = tile_radius_mm is not None
    wy = _axis_weights(ny, vs, cy, edges, (-w_um / 2, w_um / 2), tile)  # (n, ny)
    wx = _axis_weights(nx, vs, cx, edges, (-np.inf, np.inf), tile)  # (n, nx)
    if tile:
        ctr = 0.5 * (edges[1:] + edges[:-1])
        disc = np.hypot(ctr[:, None], ctr[None, :]) <= tile_radius_mm * 1000.0
    # per-label column index for one bincount over the whole slab
    code_index = np.full(int(lab.max()) + 1, -1, np.int64)
    code_index[codes] = np.arange(len(codes))
    z0 = np.arange(nz) * vs
    vol = np.zeros((centres.size, len(codes), n, n))
    for i, c in enumerate(centres):
        wz = np.clip(np.minimum(z0 + vs, c + h_um / 2) - np.maximum(z0, c - h_um / 2), 0.0, None) / vs
        ks = np.nonzero(wz > 0)[0]
        if ks.size == 0:
            raise EmptyResultError(f"beam_centres_um[{i}]={c:g}: the sheet ({h_um:g} µm high) misses "
                                   f"the volume (0-{nz * vs:g} µm); check the height registration")
        slab = code_index[lab[ks]]  # (k, y, x) label index, -1 outside
        ok = slab >= 0
        flat = slab * (ny * nx) + np.arange(ny * nx).reshape(ny, nx)[None]
        col = np.bincount(flat[ok], weights=np.broadcast_to(wz[ks][:, None, None], slab.shape)[ok],
                          minlength=len(codes) * ny * nx).reshape(len(codes), ny, nx)
        # object-pixel volumes (voxel units), then inverted onto the detector
        v = np.einsum("iy,lyx,jx->lij", wy, col, wx, optimize=True)
        if tile:
            v = v * disc[None]
        vol[i] = v[:, ::-1, ::-1] * (vs * 1e-3) ** 3
    tot = vol.sum(axis=1)
    if np.any(tot.sum(axis=(1, 2)) <= 0):
        bad = [names[i] for i in np.nonzero(tot.sum(axis=(1, 2)) <= 0)[0]]
        raise EmptyResultError(f"positions {bad}: the sheet sees no cell voxel inside the field "
                               "of view; check beam_centres_um and centre_yx_vox")
    # relative round-off floor: pixels with a vanishing overlap are not 'seen'
    seen = tot > 1e-12 * tot.max(axis=(1, 2), keepdims=True)
    frac = np.divide(vol, tot[:, None], out=np.zeros_like(vol), where=seen[:, None])
    vtot = vol.sum(axis=(2, 3))
    coords = {"position": names, "phase": phase, "row": np.arange(n), "col": np.arange(n)}
    dims = ("position", "phase", "row", "col")
    return DetectorPhaseFractions(
        fractions=xr.DataArray(frac, dims=dims, coords=coords, attrs={"units": "1"}),
        volume_mm3=xr.DataArray(vol, dims=dims, coords=coords, attrs={"units": "mm^3"}),
        volume_fractions=xr.DataArray(vtot / vtot.sum(axis=1, keepdims=True), dims=("position", "phase"),
                                      coords={"position": names, "phase": phase}, attrs={"units": "1"}),
        seen=xr.DataArray(seen, dims=("position", "row", "col"),
                          coords={"position": names, "row": np.arange(n), "col": np.arange(n)}),
        beam_centres_um=tuple(float(c) for c in centres), beam_height_um=h_um, voxel_size_um=vs,
        object_pixel_um=a_um)


@dataclass(frozen=True)
class SheetGeometry:
    """The sheet and camera of an XCS series, as :func:`ct_to_detector` needs them.

    Attributes
    ----------
    beam_height_mm : float
        Sheet height along the stacking axis (top hat).
    beam_width_mm : float
        Sheet width across the beam (along y).
    n_pixels : int
        Detector pixels per side.
    object_pixel_mm : float
        Object-plane size of one detector pixel (pitch x sample-to-pinhole / pinhole-to-detector).
    """

    beam_height_mm: float
    beam_width_mm: float
    n_pixels: int
    object_pixel_mm: float


#: The sheet and camera of Huang et al. 2024 (doi:10.1016/j.xcrp.2024.101995): a 0.25 mm x
#: 25 mm sheet, 80 x 80 pixels of 0.25 mm, pinhole 160 mm from the sample and 150 mm from the
#: detector (object-plane pixel 0.25 x 160 / 150 mm); the default of :func:`ct_to_detector`.
PAPER_SHEET = SheetGeometry(0.25, 25.0, 80, 0.25 * 160.0 / 150.0)


@dataclass(frozen=True)
class SheetComponentFractions:
    """Sheet fractions of the unmixing components from a segmented CT of the same cell.

    Attributes
    ----------
    fractions : (n_positions, n_components) ndarray
        Fraction of each sheet filled by each component (the unmixing matrix ``f``).
    phase_fractions : (n_positions, n_phases) ndarray
        Fraction of each sheet's part inside the CT volume filled by each phase (all label
        values inside the cell mask, undeclared material and pores included, sum 1).
    coverage : (n_positions,) ndarray
        Fraction of each sheet's height inside the CT volume.
    phases : tuple of str
        Phase names of ``phase_fractions``.
    detector : DetectorPhaseFractions
        Per-pixel phase fractions of the CT in the detector grid (:func:`ct_to_detector`).
    how : dict
        Component -> where its fraction came from ("ct: phases", "within host", "layers").
    """

    fractions: np.ndarray
    phase_fractions: np.ndarray
    coverage: np.ndarray
    phases: tuple
    detector: DetectorPhaseFractions
    how: dict


def _interval_layer_fractions(thickness_um, lo_um: float, hi_um: float, beam_thickness_um: float):
    """Overlap of [lo, hi] with each declared layer, divided by the sheet height."""
    from ssbscope.compton.series import sheet_layer_fractions

    if hi_um <= lo_um:
        return np.zeros(len(thickness_um))
    return sheet_layer_fractions(thickness_um, 0.5 * (lo_um + hi_um), hi_um - lo_um) * (hi_um - lo_um) \
        / beam_thickness_um


def ct_component_fractions(labels, voxel_size_um: float, phases, beam_centres_um, beam_thickness_um: float,
                           *, z_offset_um: float, components, layer_thickness_um, layer_names,
                           component_phases=None, within=None, cell_mask=None, geometry=None,
                           detector_mask=None, tile_radius_mm: float | None = None,
                           position_names=None) -> SheetComponentFractions:
    """Unmixing fractions of an XCS series' sheets from a segmented CT scan of the same cell.

    The CT volume ``labels`` (z up, slice 0 at ``z_offset_um`` above z = 0 of the declared
    layers) is cut into the inscribed square of its cell mask (:func:`inscribed_patch`), tiled
    over ``tile_radius_mm`` and seen through the pinhole camera at each sheet position by
    :func:`ct_to_detector`; the phase volumes of the detector pixels of ``detector_mask`` give
    each sheet's phase fractions.  Per component:

    * with CT phases (``component_phases[c]``): the summed fractions of its phases in the part
      of the sheet inside the CT volume, plus the declared layer's fraction in the part of the
      sheet outside it (a region-of-interest CT covers part of the stack only);
    * ``within[c] = host`` (a layer the CT does not resolve, e.g. an interphase segmented as
      the host's phase): the declared layer's fraction over the whole sheet, taken out of the
      host's CT fraction (clipped at 0);
    * otherwise: the declared layer's fraction.

    Parameters
    ----------
    labels : (z, y, x) integer ndarray
        Phase index per voxel (into ``phases``; other values: undeclared material).
    voxel_size_um : float
    phases : sequence of str
        Names of the label values 0, 1, ...
    beam_centres_um : (n_positions,) array
        Sheet centres above z = 0 of the declared layers (µm).
    beam_thickness_um : float
        Sheet height (µm), a top hat.
    z_offset_um : float
        Height of the CT volume's bottom above z = 0 of the declared layers (µm).
    components : sequence of str
        Unmixing components (names of declared layers).
    layer_thickness_um : (n_layers,) array
        Declared thicknesses of this state, bottom to top.
    layer_names : sequence of str
        Names of the declared layers.
    component_phases : mapping str -> sequence of str, optional
        CT phases making up each component.
    within : mapping str -> str, optional
        Component -> host component (see above).
    cell_mask : (y, x) bool ndarray, optional
        Columns inside the cell (default: all).
    geometry : SheetGeometry, optional
        Default: :data:`PAPER_SHEET` (80 pixels of 0.267 mm in the object plane) with this
        sheet height.
    detector_mask : (n, n) bool ndarray, optional
        Detector pixels summed by the series (default all).
    tile_radius_mm : float, optional
        Disc over which the CT patch is tiled (default: the whole field of view).
    position_names : sequence of str, optional

    Returns
    -------
    SheetComponentFractions

    Raises
    ------
    InputError
        A component's phase is not a CT phase, a host is not a component with CT phases, or a
        component is not a declared layer.
    EmptyResultError
        A sheet misses the CT volume and the declared layers.
    """
    lab = np.asarray(labels)
    if lab.ndim != 3:
        raise InputError(f"labels: need a (z, y, x) volume, got shape {lab.shape}")
    phases = [str(p) for p in phases]
    comps = [str(c) for c in components]
    names = [str(n) for n in layer_names]
    t = np.asarray(layer_thickness_um, float)
    cphases = {str(k): [str(p) for p in v] for k, v in (component_phases or {}).items()}
    within = {str(k): str(v) for k, v in (within or {}).items()}
    for c in comps:
        if c not in names:
            raise InputError(f"components: {c!r} is not a declared layer ({names})")
        for p in cphases.get(c, []):
            if p not in phases:
                raise InputError(f"CT phases of {c!r}: {p!r} is not a phase of the segmented CT ({phases})")
    for c, host in within.items():
        if c not in comps or host not in comps or not cphases.get(host):
            raise InputError(f"within: {c!r} -> {host!r}: both must be components and {host!r} must have "
                             "CT phases")
        if cphases.get(c):
            raise InputError(f"within: {c!r} has CT phases of its own; give it either phases or a host")
    if geometry is None:
        geometry = dataclasses.replace(PAPER_SHEET, beam_height_mm=beam_thickness_um / 1000.0)
    n = int(geometry.n_pixels)
    dmask = np.ones((n, n), bool) if detector_mask is None else np.asarray(detector_mask, bool)
    if dmask.shape != (n, n) or not dmask.any():
        raise InputError(f"detector_mask: shape {dmask.shape} (need {(n, n)}) or empty")
    cm = None if cell_mask is None else np.asarray(cell_mask, bool)
    patch = inscribed_patch(lab, cm) if cm is not None else lab
    patch = np.ascontiguousarray(patch).astype(np.int64)
    codes = {i: p for i, p in enumerate(phases)}
    extra = [int(v) for v in np.unique(patch) if int(v) not in codes]
    for v in extra:
        codes[v] = f"undeclared ({v})"
    centres = np.atleast_1d(np.asarray(beam_centres_um, float))
    h = float(beam_thickness_um)
    vs = float(voxel_size_um)
    z0, z1 = float(z_offset_um), float(z_offset_um) + lab.shape[0] * vs
    if tile_radius_mm is None:
        tile_radius_mm = n * geometry.object_pixel_mm
    geo = SheetGeometry(h / 1000.0, geometry.beam_width_mm, n, geometry.object_pixel_mm)
    inside = [(max(c - h / 2, z0), min(c + h / 2, z1)) for c in centres]
    cover = np.array([max(b - a, 0.0) / h for a, b in inside])
    # positions whose sheet misses the CT: phase fractions 0, declared layers only
    hit = cover > 0
    all_phases = [codes[k] for k in sorted(codes)]
    pf = np.zeros((centres.size, len(all_phases)))
    det = None
    if hit.any():
        pos = ([f"position {i + 1}" for i in range(centres.size)] if position_names is None
               else [str(p) for p in position_names])
        det = ct_to_detector(patch, vs, centres[hit] - z0, geometry=geo, phase_names=codes, outside_codes=(),
                             tile_radius_mm=tile_radius_mm, position_names=[p for p, k in zip(pos, hit) if k])
        v = det.volumes_mm3(dmask)
        have = [str(p) for p in v["phase"].values]
        tot = v.values.sum(axis=1, keepdims=True)
        vf = np.divide(v.values, tot, out=np.zeros_like(v.values), where=tot > 0)
        for j, p in enumerate(have):
            pf[hit, all_phases.index(p)] = vf[:, j]
    frac = np.zeros((centres.size, len(comps)))
    how = {}
    for i, c in enumerate(centres):
        lo, hi = c - h / 2, c + h / 2
        full = _interval_layer_fractions(t, lo, hi, h)
        out = (_interval_layer_fractions(t, lo, min(hi, z0), h)
               + _interval_layer_fractions(t, max(lo, z1), hi, h))
        ins = full - out
        for j, comp in enumerate(comps):
            k = names.index(comp)
            if cphases.get(comp):
                frac[i, j] = cover[i] * sum(pf[i, all_phases.index(p)] for p in cphases[comp]) + out[k]
                how[comp] = "CT phases " + ", ".join(cphases[comp]) + " (declared layer outside the CT)"
            else:
                frac[i, j] = full[k]
                how[comp] = (f"declared layer, inside {within[comp]}'s CT phases" if comp in within
                             else "declared layer")
        for comp, host in within.items():
            j, jh = comps.index(comp), comps.index(host)
            frac[i, jh] = max(frac[i, jh] - ins[names.index(comp)], 0.0)
    if not np.all(frac.sum(axis=1) > 0):
        raise EmptyResultError("a sheet sees none of the components in the CT or the declared layers; "
                               "check the beam heights and the CT's z offset")
    return SheetComponentFractions(fractions=frac, phase_fractions=pf, coverage=cover, phases=tuple(all_phases),
                                   detector=det, how=how)


# ----------------------------------------------------------------------------- registration
@dataclass(frozen=True)
class InterfaceRegistration:
    """The CT volume's height in the XCS cell from one measured interface.

    Attributes
    ----------
    interface : str
        ``"lower|upper"`` layer names.
    z_offset_um : float
        Height of the CT volume's bottom (outer face of slice 0) above z = 0 of the declared
        layers: ``declared_height_um - measured_height_um``.
    measured_height_um : float
        Mean of the interface's height map over its measured columns, above the CT volume's
        bottom (µm).
    height_std_um : float
        Standard deviation of the height map over those columns (the interface's roughness
        and the measurement's noise; not the uncertainty of the mean, the columns are
        correlated).
    declared_height_um : float
        Bottom of the upper layer in the declared stack (µm above z = 0).
    n_columns : int
        Columns with a finite height.
    """

    interface: str
    z_offset_um: float
    measured_height_um: float
    height_std_um: float
    declared_height_um: float
    n_columns: int


def _split_interface(interface: str) -> tuple[str, str]:
    parts = [p.strip() for p in str(interface).split("|")]
    if len(parts) != 2 or not all(parts):
        raise InputError(f"interface {interface!r}: need 'lower|upper' (two layer names joined by '|')")
    return parts[0], parts[1]


def declared_interface_height_um(interface: str, layer_names, thickness_um) -> float:
    """Declared height (µm above z = 0 of the stack) of the interface ``"lower|upper"``.

    The height is the bottom of the upper layer: the sum of the declared thicknesses of the
    layers below it.  The lower layer must lie below the upper one; layers declared between the
    two (e.g. an interphase a CT does not resolve, which it sees as part of the lower layer)
    count as below the interface.

    Parameters
    ----------
    interface : str
        ``"lower|upper"`` layer names.
    layer_names : sequence of str
        Declared layers, bottom (z = 0) to top.
    thickness_um : (n_layers,) array
        Their thicknesses (µm).

    Returns
    -------
    float

    Raises
    ------
    InputError
        A name that is not a declared layer, or the lower layer not below the upper.
    """
    lower, upper = _split_interface(interface)
    names = [str(n) for n in layer_names]
    t = np.asarray(thickness_um, float)
    if t.shape != (len(names),):
        raise InputError(f"thickness_um: {t.shape[0] if t.ndim else 0} values for {len(names)} layers")
    missing = [n for n in (lower, upper) if n not in names]
    if missing:
        raise InputError(f"interface {interface!r}: {missing} not among the declared layers {names}")
    if names.index(lower) >= names.index(upper):
        raise InputError(f"interface {interface!r}: {lower!r} is not below {upper!r} in the declared layers "
                         f"{names} (bottom to top)")
    return float(t[:names.index(upper)].sum())


def register_on_interface(height_um, interface: str, layer_names, thickness_um) -> InterfaceRegistration:
    """Place a CT volume in the XCS cell by one interface it measures.

    The mean measured height of the interface (a height map above the CT volume's bottom,
    e.g. ``tomo/<series>/maps`` ``height_um``) is put at its declared height
    (:func:`declared_interface_height_um`):
    ``z_offset_um = declared - mean(height_um)``.  The mean of a rough interface is its
    mean plane, which the declared thicknesses describe.

    Parameters
    ----------
    height_um : (y, x) array
        Interface height per column (µm above the outer face of the CT's slice 0); NaN
        where not measured.
    interface : str
        ``"lower|upper"`` names of declared layers.
    layer_names : sequence of str
        Declared layers, bottom to top.
    thickness_um : (n_layers,) array
        Their thicknesses at the scan's state (µm).

    Returns
    -------
    InterfaceRegistration

    Raises
    ------
    EmptyResultError
        No finite height.
    InputError
        See :func:`declared_interface_height_um`.
    """
    declared = declared_interface_height_um(interface, layer_names, thickness_um)
    h = np.asarray(height_um, float)
    ok = np.isfinite(h)
    if not ok.any():
        raise EmptyResultError(f"interface {interface!r}: the height map has no measured column; the CT "
                               "cannot be registered on it (check analysis.tomo.interfaces, or give "
                               "analysis.compton.ct_z_offset_um)")
    mean = float(h[ok].mean())
    lower, upper = _split_interface(interface)
    return InterfaceRegistration(interface=f"{lower}|{upper}", z_offset_um=declared - mean,
                                 measured_height_um=mean, height_std_um=float(h[ok].std()),
                                 declared_height_um=declared, n_columns=int(ok.sum()))
