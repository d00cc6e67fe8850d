"""Fuzz targets for every file parser: the contract each must keep on hostile input.

Contract (issue 14): any bytes given to a reader give either a valid result or an exception of
:mod:`ssbscope.errors` — never another exception, never a hang. This module names the targets,
the seed files they are mutated from, and the mutations; the property tests
(``tests/*/test_fuzz_*.py``, hypothesis, bounded to seconds) and the longer campaign
(``tools/fuzz_readers.py``) share it.

Seeds are real instrument files where the repository ships them (``tests/data/realdata``) or
the shared real-data folder has them (used when present), plus files the twin writes, so the
targets work in a bare checkout.
"""

from __future__ import annotations

import io
import random
import re
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ssbscope.errors import SsbscopeError

__all__ = ["Target", "targets", "mutate", "run_one", "OUTCOMES", "hexitec_stream"]

OUTCOMES = ("ok", "refused", "bug")
_REPO_DATA = Path(__file__).resolve().parents[2] / "tests" / "data" / "realdata"


@dataclass(frozen=True)
class Target:
    """A parser under test: ``call(path)`` must return or raise an ssbscope error."""

    name: str
    call: Callable
    seeds: tuple  # (file name, bytes) pairs
    suffix: str


def hexitec_stream(n_frames: int = 2, seed: int = 0) -> bytes:
    """A small valid raw HEXITEC 80 x 80 stream (sync 0xFE6B, 4 timestamp-ish words, 80 rows
    of header + 8 mask words + the present pixels, end word 0xFADE), all pixels present."""
    rng = np.random.default_rng(seed)
    words: list[int] = []
    full_mask = [0x3F, 0x3FFF] * 4
    for f in range(n_frames):
        words += [0xFE6B, 0, 0, f + 1]
        for r in range(80):
            words.append(r | (1 << 8))
            words += full_mask
            words += [int(x) for x in rng.integers(990, 1020, 80)]
        words.append(0xFADE)
    return struct.pack(f"<{len(words)}i", *words)


def _events_seed() -> bytes:
    import tempfile

    from ssbscope.compton.events import make_events, write_events

    rng = np.random.default_rng(0)
    n = 300
    ev = make_events(np.sort(rng.integers(0, 40, n)), rng.integers(0, 80, n), rng.integers(0, 80, n),
                     rng.uniform(5, 100, n).astype(np.float32))
    with tempfile.TemporaryDirectory() as d:
        p = write_events(Path(d) / "seed.ssbevt", ev, frame_rate_hz=1000.0)
        return Path(p).read_bytes()


def _twin_seeds() -> list[tuple[str, bytes]]:
    """Files the twin writes in the formats it knows (BioLogic .mpt, Neware CSV ...)."""
    import tempfile

    from ssbscope.twin import echem as E
    from ssbscope.twin import formats as F

    cyc = E.nmc622_first_cycle(dt_s=1200.0)
    out = []
    with tempfile.TemporaryDirectory() as d:
        for name in ("twin.mpt", "twin_neware.csv", "twin.csv"):
            try:
                F.write_twin(cyc, Path(d) / name)
                out.append((name, (Path(d) / name).read_bytes()))
            except Exception:  # noqa: BLE001 - a writer the twin lacks: fewer seeds
                continue
    return out


def _files(folder: Path, names) -> list[tuple[str, bytes]]:
    out = []
    for n in names:
        p = folder / n
        if p.is_file() and p.stat().st_size <= 600_000:
            out.append((n, p.read_bytes()))
    return out


def _npz_bytes(**arrays) -> bytes:
    """An ``np.savez`` archive of ``arrays``, as bytes (a seed for the .npz readers)."""
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _npy_bytes(a) -> bytes:
    """An ``np.save`` file of ``a``, as bytes."""
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


def targets(slow: bool = False) -> dict[str, Target]:
    """The fuzz targets by name (echem readers, EIS readers, event file, HEXITEC stream/table).

    ``slow=True`` adds the targets whose seed takes about a second per read, for the campaign
    (``tools/fuzz_readers.py``) and not the bounded tests: Excel 97-2003 ``.xls`` (a real
    624 kB Neware workbook, xlrd: 1.7 s per valid read; no small ``.xls`` can be written
    here without xlwt)."""
    from ssbscope import echem
    from ssbscope.compton.events import events_to_cube, read_events
    from ssbscope.compton.hexitec import read_hexitec_caltable, read_hexitec_raw
    from ssbscope.compton.input_stages import read_angle_map, read_calibration
    from ssbscope.testing import realdata_dir

    shared = realdata_dir("potentiostat")
    text_names = ("beep_maccor_test_file_4267-66-6519.041", "beep_arbin_2017-05-09_test-TC-contact_CH33.csv",
                  "beep_arbin_FastCharge_000025_CH8.csv", "ixdat_multiple_techniques_dataset_01_03_CP_C01.mpt",
                  "impedancepy_exampleDataGamry.DTA", "hybriddrt_EISGALV_EISTest3.DTA")
    bin_names = ("navani_00_test_01_OCV_C01.mpr", "hybriddrt_PEIS_SSB.mpr", "navani_00_test_04_MB_C01.mpr")
    eis_text = _files(_REPO_DATA / "eis", sorted(p.name for p in (_REPO_DATA / "eis").glob("*"))) \
        if (_REPO_DATA / "eis").is_dir() else []
    repo_text = []
    for sub in ("pec", "bdf", "landt", "neware"):
        d = _REPO_DATA / sub
        if d.is_dir():
            for f in sorted(d.iterdir()):
                if f.suffix.lower() not in (".csv", ".txt", ".tsv"):
                    continue  # binaries beside the text exports have targets of their own
                b = f.read_bytes()
                if len(b) > 40_000:  # keep examples fast: the head of the file, whole lines
                    b = b[: b.rfind(b"\n", 0, 40_000) + 1]
                repo_text.append((f.name, b))
    text_seeds = tuple(_twin_seeds() + repo_text + _files(shared, text_names))
    mpr_seeds = tuple(_files(shared, bin_names))

    def read_any(p):
        return echem.read(p)

    def read_eis_any(p):
        return echem.read_eis(p)

    def events(p):
        ev, h = read_events(p)
        return events_to_cube(ev, n_rows=h.n_rows, n_cols=h.n_cols, e_max_kev=120.0,
                              bin_width_kev=5.0, charge_sharing="discard")

    hexdir = realdata_dir("hexitec")
    raw = hexdir / "hexitecgse_Science_Output-RawMode+hits.dat"
    hex_seeds = [("synthetic_2frames.dat", hexitec_stream())]
    if raw.is_file():
        b = raw.read_bytes()
        hex_seeds.append(("real_first_frames.dat", b[: 4 * 3 * (4 + 80 * 89 + 1)]))
    cal = hexdir / "hexitecgse_HEXITEC_CalTable_80x80.dat"
    cal_seeds = [("synthetic_cal.dat", struct.pack("<6401i", *([7] + [1] * 6400)))]
    if cal.is_file():
        cal_seeds.append((cal.name, cal.read_bytes()))

    out = {
        "echem.read/text": Target("echem.read/text", read_any, text_seeds, ".csv"),
        "echem.read_eis/text": Target("echem.read_eis/text", read_eis_any,
                                      tuple(eis_text) + tuple(s for s in text_seeds if s[0].endswith((".mpt", ".DTA"))),
                                      ".txt"),
        "compton.events": Target("compton.events", events, (("seed.ssbevt", _events_seed()),), ".ssbevt"),
        "compton.hexitec_raw": Target("compton.hexitec_raw", read_hexitec_raw, tuple(hex_seeds), ".dat"),
        "compton.hexitec_caltable": Target("compton.hexitec_caltable", read_hexitec_caltable,
                                           tuple(cal_seeds), ".dat"),
        "compton.calibration_npz": Target("compton.calibration_npz", read_calibration,
                                          (("cal.npz", _npz_bytes(gain_kev_per_unit=np.full((80, 80), 0.1),
                                                                  offset_kev=np.zeros((80, 80)),
                                                                  pixel_mask=np.ones((80, 80), bool))),),
                                          ".npz"),
        "compton.angle_map_npz": Target("compton.angle_map_npz", read_angle_map,
                                        (("angles.npz", _npz_bytes(angle_deg=np.full((80, 80), 90.0))),),
                                        ".npz"),
        "compton.angle_map_npy": Target("compton.angle_map_npy", read_angle_map,
                                        (("angles.npy", _npy_bytes(np.full((80, 80), 90.0))),), ".npy"),
    }
    if mpr_seeds:
        out["echem.read/mpr"] = Target("echem.read/mpr", read_any, mpr_seeds, ".mpr")
    # cycler binaries read through optional extras (NewareNDA, access-parser): targets only
    # where the extra is installed (without it every input is refused, which tests nothing)
    import importlib.util

    if importlib.util.find_spec("NewareNDA") is not None:
        nw = _REPO_DATA / "neware"
        nd_seeds = tuple(_files(nw, sorted(f.name for f in nw.glob("*.nda*")))) if nw.is_dir() else ()
        nd_seeds += tuple(_files(shared, ("navani_test.nda", "navani_test.ndax")))
        nda = tuple(s for s in nd_seeds if s[0].endswith(".nda"))
        ndax = tuple(s for s in nd_seeds if s[0].endswith(".ndax"))
        if nda:
            out["echem.read/neware-nda"] = Target("echem.read/neware-nda", read_any, nda, ".nda")
        if ndax:
            out["echem.read/neware-ndax"] = Target("echem.read/neware-ndax", read_any, ndax, ".ndax")
    ps = _REPO_DATA / "palmsens"
    if ps.is_dir():  # PalmSens sessions: UTF-16 JSON (a time series, an impedance spectrum)
        out["echem.read/pssession"] = Target("echem.read/pssession", read_any, tuple(
            _files(ps, ("palmsens-sdk_cv_1scan.pssession",))), ".pssession")
        out["echem.read_eis/pssession"] = Target("echem.read_eis/pssession", read_eis_any, tuple(
            _files(ps, ("palmsens-sdk_BatteryCurve.pssession",))), ".pssession")
        # PSTrace CSV exports (UTF-16): an impedance export, and E vs t curves (no current,
        # so read() refuses them: their reader is the curve reader)
        eis_csv = tuple(_files(ps, ("datalab_palmsens_EIS.csv",)))
        if eis_csv:
            out["echem.read_eis/pstrace-csv"] = Target("echem.read_eis/pstrace-csv", read_eis_any,
                                                       eis_csv, ".csv")
        cp_csv = tuple(_files(ps, ("datalab_palmsens_chronopot.csv",)))
        if cp_csv:
            from ssbscope.echem.io.palmsens import read_pstrace_csv

            out["echem.pstrace_csv"] = Target("echem.pstrace_csv", read_pstrace_csv, cp_csv, ".csv")
    savu = _REPO_DATA / "tomo_tiff" / "savu_image_test"
    if savu.is_dir():
        # a projection of a real TIFF series, read with the series' real flat and dark
        from ssbscope.tomo import read_projections

        def tiff_projection(p):
            pd_ = read_projections(p, flats=str(savu / "flat_00001.tiff"),
                                   darks=str(savu / "dark_00001.tiff"), angles_deg=(0.0, 180.0))
            return np.asarray(pd_.projections)

        out["tomo.tiff_series"] = Target("tomo.tiff_series", tiff_projection, tuple(
            _files(savu / "tiffs", ("raw_00000.tiff", "raw_00045.tiff"))), ".tiff")
    lfov = _REPO_DATA / "tomo_h5" / "savu_i12_lfov"
    if lfov.is_dir():
        # a real HDF5 projections file, read with its real flat and dark files
        from ssbscope.tomo import read_projections as read_h5

        def h5_projections(p):
            pd_ = read_h5(p, flats=lfov / "dark_flat" / "pco2_flats_00000.hdf",
                                   darks=lfov / "dark_flat" / "pco2_darks_00000.hdf",
                                   angles_deg=(0.0, 180.0))
            return np.asarray(pd_.projections)

        out["tomo.hdf5_projections"] = Target("tomo.hdf5_projections", h5_projections, tuple(
            _files(lfov / "tomo_data", ("pc2_projections.hdf",))), ".hdf")
    if importlib.util.find_spec("openpyxl") is not None:  # the extra 'excel'
        out["echem.read/excel"] = Target("echem.read/excel", read_any, (("arbin_sheet.xlsx", _xlsx_seed()),),
                                         ".xlsx")
    xls = _REPO_DATA / "neware" / "cellpy_custom_data_003.xls"
    if slow and importlib.util.find_spec("xlrd") is not None and xls.is_file():  # extra 'xls'
        out["echem.read/xls"] = Target("echem.read/xls", read_any, ((xls.name, xls.read_bytes()),), ".xls")
    out.update(_image_targets())
    if importlib.util.find_spec("access_parser") is not None:
        res = tuple(_files(shared, ("navani_arbin_example.res",)))
        if res:
            out["echem.read/arbin-res"] = Target("echem.read/arbin-res", read_any, res, ".res")
    return out


def _xlsx_seed() -> bytes:
    """A small Excel workbook in the layout of an Arbin export (one ``Channel_1_1`` sheet:
    ``Data_Point``, ``Test_Time(s)``, ``Current(A)``, ``Voltage(V)`` ...), written here (6 kB;
    the real workbooks of tests/data/realdata take ~1 s each to open)."""
    import io

    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Channel_1_1"
    ws.append(["Data_Point", "Test_Time(s)", "Step_Index", "Cycle_Index", "Current(A)", "Voltage(V)"])
    for k in range(40):
        ws.append([k + 1, 10.0 * k, 1, 1, 0.001 if k < 20 else -0.001, 3.5 + 0.01 * k])
    wb.properties.created = wb.properties.modified = __import__("datetime").datetime(2020, 1, 1)
    bio = io.BytesIO()
    wb.save(bio)
    out = io.BytesIO()  # the same bytes every time (zip entries stamped 2020-01-01)
    with zipfile.ZipFile(bio) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "docProps/core.xml":  # openpyxl stamps 'modified' when it saves
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>2020-01-01T00:00:00Z", data)
            zout.writestr(zipfile.ZipInfo(info.filename, (2020, 1, 1, 0, 0, 0)), data,
                          compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def _image_seeds() -> dict[str, tuple]:
    """Small files in the image formats (FITS frame, TIFF stack, Data Exchange HDF5), written
    here (a few kB each so that an example runs in milliseconds)."""
    import io

    import h5py
    import tifffile
    from astropy.io import fits

    rng = np.random.default_rng(0)
    frame = rng.uniform(50, 150, (24, 24)).astype(np.float32)
    bio = io.BytesIO()
    h = fits.PrimaryHDU(frame)
    h.header["TIME_S"] = 12.5
    h.writeto(bio)
    fits_seed = bio.getvalue()
    bio = io.BytesIO()
    h = fits.PrimaryHDU((frame * 100).astype(np.uint16))
    h.header["TIME_S"] = 25.0
    h.writeto(bio)
    fits_u16 = bio.getvalue()
    bio = io.BytesIO()
    tifffile.imwrite(bio, rng.integers(0, 255, (5, 16, 16), dtype=np.uint8), photometric="minisblack")
    tiff_seed = bio.getvalue()
    bio = io.BytesIO()
    tifffile.imwrite(bio, rng.integers(0, 60000, (16, 16), dtype=np.uint16), photometric="minisblack")
    tiff_frame = bio.getvalue()
    bio = io.BytesIO()
    with h5py.File(bio, "w") as f:
        f.create_dataset("exchange/data", data=rng.integers(900, 1100, (6, 8, 12), dtype=np.uint16))
        f.create_dataset("exchange/data_white", data=np.full((2, 8, 12), 2000, np.uint16))
        f.create_dataset("exchange/data_dark", data=np.full((2, 8, 12), 10, np.uint16))
        f.create_dataset("exchange/theta", data=np.linspace(0, 180, 6, endpoint=False))
    h5_seed = bio.getvalue()
    return {"fits": (("frame_f32.fits", fits_seed), ("frame_u16.fits", fits_u16)),
            "tiff": (("stack.tif", tiff_seed),), "tiff_frame": (("frame.tif", tiff_frame),),
            "h5": (("scan.h5", h5_seed),)}


def _image_targets() -> dict[str, Target]:
    """Neutron frames (FITS, TIFF), CT volumes (TIFF) and Data Exchange projections (HDF5):
    each read through to the pixel values (the readers are lazy); the side text files of
    those inputs (time-of-flight spectra, rotation angles)."""
    from ssbscope.neutron.io import read_series
    from ssbscope.tomo import read_projections
    from ssbscope.tomo.io import read_volume

    seeds = _image_seeds()

    def neutron_frames(p):  # frames indexed by number: the time header is not what is fuzzed
        return np.asarray(read_series([p], time_source="interval", frame_interval_s=1.0).images)

    def volume(p):
        return np.asarray(read_volume(p, voxel_size_um=1.0).data)

    def dxchange(p):
        pd_ = read_projections(p)
        return np.asarray(pd_.projections)

    from ssbscope.neutron.io import read_tof_spectra
    from ssbscope.tomo.io import read_angles_file

    # side text files: an MCP time-of-flight spectrum (as iBeatles' Image019_Spectra.txt:
    # tab-separated 'tof_s counts', exponent notation) and a rotation-angles file (the Savu
    # TIFF series' angles.txt, one angle per line; a header naming radians)
    tof = "".join(f"{9.6e-7 + 1.024e-5 * k:.4g}\t{4800 + (37 * k) % 200}\n" for k in range(40)).encode()
    ang_real = _REPO_DATA / "tomo_tiff" / "savu_image_test" / "angles.txt"
    angles = [("angles_deg.txt", "".join(f"{-88.2 + 1.8 * k:.1f}\n" for k in range(30)).encode()),
              ("angles_rad.txt", ("# angle (rad)\n" + "".join(f"{k},{0.05 * k:.4f}\n" for k in range(30))).encode())]
    if ang_real.is_file():
        angles.append((ang_real.name, ang_real.read_bytes()))
    return {
        "neutron.fits": Target("neutron.fits", neutron_frames, seeds["fits"], ".fits"),
        "neutron.tiff": Target("neutron.tiff", neutron_frames, seeds["tiff_frame"], ".tif"),
        "tomo.volume_tiff": Target("tomo.volume_tiff", volume, seeds["tiff"], ".tif"),
        "tomo.dxchange": Target("tomo.dxchange", dxchange, seeds["h5"], ".h5"),
        "neutron.tof_spectra": Target("neutron.tof_spectra", read_tof_spectra,
                                      (("Image_Spectra.txt", tof),), ".txt"),
        "tomo.angles_file": Target("tomo.angles_file", read_angles_file, tuple(angles), ".txt"),
    }


_NASTY = (b"nan", b"inf", b"-inf", b"1e308", b"-1e308", b"", b"\x00", b"\xff\xfe", b"\"", b",",
          b"\t", b";", b"\n", b"\r", b"-", b"0", b"99999999999999999999", b"\xc3(")


def mutate(data: bytes, ops) -> bytes:
    """Apply mutation ops ``(kind, a, b)`` (ints) to ``data``: truncate, flip bytes, delete or
    duplicate a chunk, insert a nasty token, drop or repeat a line."""
    b = bytearray(data)
    for kind, a, c in ops:
        n = len(b)
        kind %= 7
        if kind == 0:  # truncate
            del b[(a % (n + 1)):]
        elif kind == 1 and n:  # overwrite bytes
            i = a % n
            for k in range(1 + c % 8):
                if i + k < n:
                    b[i + k] = (c * 31 + k * 17) & 0xFF
        elif kind == 2 and n:  # delete a chunk
            i = a % n
            del b[i:i + 1 + c % 64]
        elif kind == 3 and n:  # duplicate a chunk
            i = a % n
            b[i:i] = b[i:i + 1 + c % 256]
        elif kind == 4:  # insert a nasty token
            b[a % (n + 1):a % (n + 1)] = _NASTY[c % len(_NASTY)]
        elif kind in (5, 6):  # drop / repeat a line
            lines = bytes(b).split(b"\n")
            j = a % len(lines)
            if kind == 5:
                del lines[j]
            else:
                lines.insert(j, lines[j])
            b = bytearray(b"\n".join(lines))
    return bytes(b)


def run_one(target: Target, data: bytes, folder: Path, name: str = "fuzz") -> tuple[str, str]:
    """Write ``data`` to ``folder/name<suffix>``, call the target: ``("ok"|"refused"|"bug", detail)``."""
    import warnings

    p = Path(folder) / f"{name}{target.suffix}"
    p.write_bytes(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            target.call(p)
    except SsbscopeError as e:
        return "refused", type(e).__name__
    except Exception as e:  # noqa: BLE001 - this is what the fuzzer looks for
        return "bug", f"{type(e).__name__}: {str(e)[:200]}"
    return "ok", ""


def random_ops(rng: random.Random, k: int | None = None) -> list[tuple[int, int, int]]:
    """Random mutation ops for the campaign (same form as the hypothesis strategy)."""
    k = rng.randint(1, 4) if k is None else k
    return [(rng.randrange(7), rng.randrange(1 << 24), rng.randrange(1 << 16)) for _ in range(k)]
